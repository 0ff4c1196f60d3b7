"""The search service's paging around the index: a reader's filters (the mute-word hook) never leave a page empty
while matches remain, and pages do not repeat."""

from services.search.backends import PostHit, PostHits, Sort
from services.search.repository import SearchRepository
from services.search.service import SearchService
from services.text.terms import analyze, matches, query_alternatives


class FakeBackend:
    """A ranking of 100 posts: the first 60 say "elezioni", the rest "calcio"."""

    def __init__(self) -> None:
        self.hits = [
            PostHit(i, 1, 1000 - i, 100.0 - i, terms=" ".join(analyze("le elezioni" if i <= 60 else "il calcio").terms))
            for i in range(1, 101)
        ]
        self.calls = 0

    async def search_posts(self, search):
        self.calls += 1
        hits = self.hits
        if search.sort is Sort.LATEST and search.before is not None:
            hits = [h for h in hits if (h.create_time_ms, h.post_id) < search.before]
        else:
            hits = hits[search.offset :]
        return PostHits(hits[: search.limit], len(self.hits))


class FakeRepository(SearchRepository):
    def __init__(self) -> None:
        pass

    async def hidden_from(self, reader_id):
        return frozenset()


class MuteWord:
    async def for_reader(self, reader_id, context):
        muted = query_alternatives("elezione")
        return lambda hit: not matches(muted, hit.terms.split())


def service(backend) -> SearchService:
    async def repository():
        return FakeRepository()

    async def backend_of(repo):
        return backend

    return SearchService(repository, backend_of, MuteWord(), lambda: 0, 1)


async def test_a_muted_word_hides_its_inflections_and_the_page_is_still_full():
    backend = FakeBackend()
    for sort in (Sort.RELEVANCE, Sort.LATEST):
        page = await service(backend).search_posts("x", reader_id=7, sort=sort, limit=10)
        assert [hit.post_id for hit in page.hits] == list(range(61, 71))
        second = await service(backend).search_posts(
            "x", 7, sort, 10, offset=page.next_offset or 0, before=page.next_before
        )
        assert [hit.post_id for hit in second.hits] == list(range(71, 81))


async def test_the_last_page_says_there_is_no_more():
    page = await service(FakeBackend()).search_posts("x", 7, Sort.RELEVANCE, 50)
    assert len(page.hits) == 40 and page.next_offset is None
