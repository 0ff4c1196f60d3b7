"""What every search backend must do, run against each one (tests/search/backends.py picks them): the same
documents, the same queries, the same answers. The OpenSearch backend runs this class unchanged."""

import pytest

from services.search.backends import PeopleSearch, PostSearch, SearchBackend, Sort
from services.search.domain import parse, parse_people
from tests.search.backends import NOW_MS, person, post


async def ids(backend: SearchBackend, query: str, **options) -> list[int]:
    options.setdefault("now_ms", NOW_MS)
    found = await backend.search_posts(PostSearch(parse(query), **options))
    return [hit.post_id for hit in found.hits]


async def indexed(backend: SearchBackend, *posts) -> None:
    await backend.index_posts(list(posts))
    await backend.refresh()


class TestPosts:
    async def test_a_word_finds_its_other_inflections(self, backend):
        await indexed(
            backend,
            post(1, "Le elezioni di domenica a Bologna"),
            post(2, "Выборы прошли спокойно в Москве"),
            post(3, "Die Wahlen in Berlin waren knapp"),
            post(4, "Il calcio di ieri sera"),
        )
        assert await ids(backend, "elezione") == [1]
        assert await ids(backend, "выбор") == [2]
        assert await ids(backend, "Wahl") == [3]

    async def test_japanese_is_analyzed_into_words_so_kyoto_is_not_tokyo(self, backend):
        await indexed(
            backend,
            post(1, "東京都の天気は晴れです"),
            post(2, "京都のお寺を見に行きました"),
            post(3, "昨日は寿司を食べました"),
        )
        assert await ids(backend, "京都") == [2]
        assert await ids(backend, "東京都") == [1]
        assert await ids(backend, "食べる") == [3]

    async def test_phrase_needs_adjacent_terms_in_order(self, backend):
        await indexed(
            backend,
            post(1, "la legge elettorale passa"),
            post(2, "elettorale, ma non la legge"),
            post(3, "domani la #legge elettorale in aula"),
        )
        assert sorted(await ids(backend, '"legge elettorale"')) == [1, 3]
        assert sorted(await ids(backend, "legge elettorale")) == [1, 2, 3]

    async def test_exclusion_or_and_or_across_scripts(self, backend):
        await indexed(
            backend,
            post(1, "Kyoto temples in autumn"),
            post(2, "京都の紅葉がきれい"),
            post(3, "Kyoto ramen is great"),
            post(4, "Osaka castle"),
        )
        assert sorted(await ids(backend, "kyoto OR 京都")) == [1, 2, 3]
        assert await ids(backend, "kyoto -ramen") == [1]
        assert sorted(await ids(backend, "kyoto OR osaka -ramen")) == [1, 4]

    async def test_from_mention_hashtag_and_language(self, backend):
        await indexed(
            backend,
            post(1, "Ciao @Giulia, ci vediamo a #Bologna per il concerto", author_id=1, handle="Ada"),
            post(2, "Bologna is lovely in spring, I love the city", author_id=2, handle="bob"),
            post(3, "#bologna la dotta, la grassa e la rossa", author_id=2, handle="bob"),
        )
        assert await ids(backend, "from:ada") == [1]
        assert await ids(backend, "from:ADA bologna") == [1]
        assert await ids(backend, "@giulia") == [1]
        assert sorted(await ids(backend, "#Bologna")) == [1, 3]
        assert sorted(await ids(backend, "bologna")) == [1, 2, 3]
        assert await ids(backend, "bologna lang:en") == [2]
        assert await ids(backend, "bologna -from:ada -#bologna") == [2]

    async def test_since_and_until(self, backend):
        await indexed(
            backend,
            post(1, "rain today", age_hours=24 * 40),
            post(2, "rain again", age_hours=24 * 10),
            post(3, "more rain", age_hours=1),
        )
        assert sorted(await ids(backend, "rain since:2026-05-01")) == [2, 3]
        assert await ids(backend, "rain since:2026-05-01 until:2026-05-30") == [2]
        assert await ids(backend, "until:2026-05-01") == [1]

    async def test_latest_sorts_newest_first_and_pages_by_position(self, backend):
        await indexed(backend, *(post(i, f"news number {i}", age_hours=100 - i) for i in range(1, 8)))
        first = await ids(backend, "news", sort=Sort.LATEST, limit=3)
        assert first == [7, 6, 5]
        second = await ids(
            backend, "news", sort=Sort.LATEST, limit=3, before=(post(5, "", age_hours=95).create_time_ms, 5)
        )
        assert second == [4, 3, 2]

    async def test_relevance_pages_by_offset_without_repeats(self, backend):
        await indexed(backend, *(post(i, "tea " * (1 + i % 3) + f"cup {i}") for i in range(1, 11)))
        pages = [await ids(backend, "tea", limit=4, offset=offset) for offset in (0, 4, 8)]
        assert [len(page) for page in pages] == [4, 4, 2]
        assert sorted(sum(pages, [])) == list(range(1, 11))

    async def test_relevance_prefers_the_newer_of_two_equal_matches(self, backend):
        await indexed(backend, post(1, "the harbour at dawn", age_hours=24 * 30), post(2, "the harbour at dawn"))
        assert await ids(backend, "harbour") == [2, 1]

    async def test_writes_are_idempotent_and_deletes_remove(self, backend):
        await indexed(backend, post(1, "first draft about owls"), post(2, "owls at night", author_id=7))
        await indexed(backend, post(1, "final text about owls"))
        assert sorted(await ids(backend, "owl")) == [1, 2]
        assert await ids(backend, "draft") == []
        await backend.delete_posts([1, 99])
        await backend.refresh()
        assert await ids(backend, "owl") == [2]
        await backend.delete_posts_by_author(7)
        await backend.refresh()
        assert await ids(backend, "owl") == []

    async def test_excluded_authors_leave_full_pages(self, backend):
        await indexed(
            backend,
            *(post(i, f"jazz night {i}", author_id=1) for i in range(1, 30)),
            *(post(100 + i, f"jazz club {i}", author_id=2) for i in range(1, 4)),
        )
        found = await ids(backend, "jazz", limit=3, exclude_authors=frozenset({1}))
        assert sorted(found) == [101, 102, 103]

    async def test_hits_carry_their_terms_for_mute_words(self, backend):
        await indexed(backend, post(1, "Le elezioni regionali"))
        found = await backend.search_posts(PostSearch(parse("regionali"), now_ms=NOW_MS))
        assert "elezion" in found.hits[0].terms.split()
        assert found.total == 1


class TestPeopleAndHashtags:
    async def test_people_by_handle_name_and_bio_weighted_by_followers(self, backend):
        await backend.index_people(
            [
                person(1, "netops_anna", "Anna Rossi", "Network engineer, BGP and routing", followers=10),
                person(2, "marco", "Marco Bianchi", "Network specialist for data centres", followers=5000),
                person(3, "lucia", "Lucia Verdi", "Poet"),
            ]
        )
        await backend.refresh()
        found = await backend.search_people(PeopleSearch(parse_people("network")))
        assert [hit.user_id for hit in found] == [2, 1]
        found = await backend.search_people(PeopleSearch(parse_people("networks engineers")))
        assert [hit.user_id for hit in found] == [1]
        found = await backend.search_people(PeopleSearch(parse_people("poet")))
        assert [hit.user_id for hit in found] == [3]

    async def test_typeahead_by_prefix_of_handle_or_name(self, backend):
        await backend.index_people(
            [
                person(1, "netops_anna", "Anna Rossi", followers=10),
                person(2, "annabel", "Bel Ami", followers=900),
                person(3, "zoe", "Zoë Annan"),
                person(4, "bob", "Bob", "I like anna's cooking"),
            ]
        )
        await backend.refresh()
        found = await backend.search_people(PeopleSearch(parse_people("Ann", prefix=True)))
        assert [hit.user_id for hit in found] == [2, 1, 3]
        found = await backend.search_people(PeopleSearch(parse_people("zo", prefix=True)))
        assert [hit.user_id for hit in found] == [3]
        await backend.delete_people([2])
        await backend.refresh()
        found = await backend.search_people(
            PeopleSearch(parse_people("ann", prefix=True), exclude_users=frozenset({3}))
        )
        assert [hit.user_id for hit in found] == [1]

    async def test_hashtags_by_prefix_most_used_first(self, backend):
        await indexed(
            backend,
            post(1, "#Bologna #BolognaFC"),
            post(2, "#bologna again"),
            post(3, "#bolognese sauce #bologna"),
            post(4, "#bolognese"),
            post(5, "#roma"),
        )
        found = await backend.hashtags("bolo", 10)
        assert [(tag.tag, tag.posts) for tag in found] == [("bologna", 3), ("bolognese", 2), ("bolognafc", 1)]
        assert [tag.tag for tag in await backend.hashtags("bolo", 1)] == ["bologna"]
        await backend.delete_posts([1, 2])
        await backend.refresh()
        found = await backend.hashtags("bolo", 10)
        assert [(tag.tag, tag.posts) for tag in found] == [("bolognese", 2), ("bologna", 1)]


@pytest.mark.parametrize("query", ["", "-spam", "lang:it"])
async def test_a_query_of_filters_alone_matches_every_allowed_post(backend, query):
    await indexed(backend, post(1, "ciao a tutti quanti voi"), post(2, "spam spam spam"))
    found = await ids(backend, query, sort=Sort.LATEST)
    assert 1 in found
