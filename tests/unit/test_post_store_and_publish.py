"""CreatePost writes its rows and publishes its event at once; when either fails, the other is taken back and the
caller hears UNAVAILABLE (fakes of the repository and the log: the rule under test is the orchestration)."""

import pytest

from services.post.domain import PostingRules
from services.post.service import PostService
from services.runtime.errors import Unavailable
from services.runtime.ids import SnowflakeIds
from services.text.analysis import Profile


class Rows:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.saved: list[int] = []
        self.forgotten: list[int] = []

    async def save(self, post):
        if self.fail:
            raise ConnectionError("cassandra away")
        self.saved.append(post.post_id)

    async def forget(self, post):
        self.forgotten.append(post.post_id)

    async def count_since(self, author_id, first_post_id, up_to):
        return 0


class Log:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.published: list[str] = []

    async def publish(self, topic, key, envelope):
        if self.fail and envelope.WhichOneof("payload") == "post_created":
            raise ConnectionError("kafka away")
        self.published.append(envelope.WhichOneof("payload"))


class Users:
    async def user_exists(self, user_id):
        return True


def service(rows: Rows, log: Log) -> PostService:
    rules = PostingRules(Profile.CLASSIC, rate_limit=300, rate_window_seconds=10_800)
    return PostService(rows, Users(), log, SnowflakeIds(1), "posts", rules)


async def test_both_succeed_and_the_post_is_answered():
    rows, log = Rows(fail=False), Log(fail=False)
    post = await service(rows, log).create_post(7, "hello")
    assert rows.saved == [post.post_id] and rows.forgotten == []
    assert log.published == ["post_created"]


async def test_an_event_that_did_not_reach_the_log_takes_its_rows_back():
    rows, log = Rows(fail=False), Log(fail=True)
    with pytest.raises(Unavailable, match="nothing was published") as refused:
        await service(rows, log).create_post(7, "hello")
    assert refused.value.reason == "EVENT_LOG_UNAVAILABLE"
    assert rows.forgotten == rows.saved and len(rows.saved) == 1
    assert log.published == []


async def test_rows_that_could_not_be_written_take_their_event_back_with_its_deletion():
    rows, log = Rows(fail=True), Log(fail=False)
    with pytest.raises(Unavailable, match="taken back") as refused:
        await service(rows, log).create_post(7, "hello")
    assert refused.value.reason == "POST_STORE_UNAVAILABLE"
    assert log.published == ["post_created", "post_deleted"]


async def test_a_failed_post_does_not_count_against_the_rate_limit():
    rows, log = Rows(fail=True), Log(fail=False)
    posting = service(rows, log)
    with pytest.raises(Unavailable):
        await posting.create_post(7, "hello")
    rows.fail = False
    for _ in range(300):
        await posting.create_post(7, "hello")
    assert len(rows.saved) == 300
