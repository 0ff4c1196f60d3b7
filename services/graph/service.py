"""Use cases of the graph service: each validates, writes its rows, then publishes the event that records it.

What holds, and how (a follow is the busiest call, so it makes as few round trips as these allow):
- A racing block and follow: one always sees the other. A follow writes its rows, then looks for blocks either
  way; a block writes its row, then looks for follows either way. Whichever looks second finds the other's write,
  and the follow is taken back (the follower told PERMISSION_DENIED or FAILED_PRECONDITION).
- Both directions or neither: a follow's `following` and `followers` rows are one logged batch, and so is their
  deletion.
- A retry after a crash republishes the same event (same id): a repeated follow, unfollow or block finds what the
  first attempt wrote and publishes its event again; an unfollow publishes before it deletes.
- A follow and an unfollow of one pair are settled by their times: the rows are written and deleted at the events'
  times (an unfollow strictly after the follow it ends), as the count projection settles their events.
- Accounts are never deleted, so a user once found is remembered (`KnownUsers`) and not read again.
"""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from chirp.graph.v1 import graph_pb2
from services.graph import events
from services.graph.domain import (
    Follow,
    Relationship,
    Restriction,
    RestrictionKind,
    Stats,
    User,
    check_filter_count,
    check_follow,
    check_may_follow,
    check_not_self,
    ended_at,
    handle_key,
    updated_profile,
    validate_display_name,
    validate_filter,
    validate_handle,
)
from services.graph.repository import GraphRepository
from services.runtime.clock import as_utc, timestamp_from_datetime, utc_now
from services.runtime.errors import AlreadyExists, NotFound
from services.runtime.ids import SnowflakeIds
from services.runtime.kafka import EventPublisher
from services.text import Profile

BLOCK, MUTE = RestrictionKind.BLOCK, RestrictionKind.MUTE
# Users remembered per process (some hundred bytes each); past this many, the memory starts again empty.
KNOWN_USERS = 200_000


class KnownUsers:
    """Users found once, by id. Accounts are never deleted and handles never change, so that a user exists, and
    their handle, stays true: only those are read from what is kept here (a profile may have changed since). A user
    not found is not remembered: they may be created a moment later."""

    def __init__(self, repo: GraphRepository, limit: int = KNOWN_USERS) -> None:
        self._repo = repo
        self._limit = limit
        self._users: dict[int, User] = {}

    async def get(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            user = await self._repo.get_user(user_id)
            if user is None:
                raise NotFound("USER_NOT_FOUND", f"there is no user with id {user_id}", user_id=str(user_id))
            if len(self._users) >= self._limit:
                self._users.clear()
            self._users[user_id] = user
        return user


class GraphService:
    def __init__(
        self, repo: GraphRepository, publisher: EventPublisher, ids: SnowflakeIds, topic: str, text_profile: Profile
    ) -> None:
        self._repo = repo
        self._publisher = publisher
        self._ids = ids
        self._topic = topic
        self._text_profile = text_profile
        self._known = KnownUsers(repo)

    async def create_user(self, handle: str, display_name: str, request_id: str = "") -> User:
        handle = validate_handle(handle)
        display_name = validate_display_name(display_name, handle)
        candidate = User(self._ids.next_id(), handle, display_name, utc_now())
        claimed, holder = await self._repo.claim_handle(handle_key(handle), candidate, request_id)
        if claimed:
            user = candidate
        elif request_id and holder["request_id"] == request_id:
            # A retry of a call that reserved the handle but failed before answering (so its request id was not
            # remembered): finish what it started, with what it chose.
            user = User(holder["user_id"], holder["handle"], holder["display_name"], as_utc(holder["create_time"]))
        else:
            raise AlreadyExists("HANDLE_TAKEN", f"the handle @{handle} is taken", handle=handle)
        await self._repo.save_user(user)
        await self._publisher.publish(self._topic, user.user_id, events.user_created(user))
        return user

    async def get_user(self, user_id: int) -> User:
        user = await self._repo.get_user(user_id)
        if user is None:
            raise NotFound("USER_NOT_FOUND", f"there is no user with id {user_id}", user_id=str(user_id))
        return user

    async def get_user_and_stats(self, user_id: int) -> tuple[User, Stats]:
        """The profile as it is now, and the counts the count projection keeps (services/graph/counts.py)."""
        return await asyncio.gather(self.get_user(user_id), self._repo.stats(user_id))

    async def resolve_handle(self, handle: str) -> User:
        """INVALID_ARGUMENT for what cannot be a handle (checked before any read), NOT_FOUND for a free one."""
        handle = validate_handle(handle)
        user_id = await self._repo.user_id_by_handle(handle_key(handle))
        user = await self._repo.get_user(user_id) if user_id is not None else None
        if user is None:
            raise NotFound("HANDLE_NOT_FOUND", f"nobody has the handle @{handle}", handle=handle)
        return user

    async def update_profile(
        self, user_id: int, display_name: str | None, bio: str | None, indexable: bool | None = None
    ) -> User:
        """Writes, then publishes ProfileUpdated. Repeating the last update writes nothing and publishes its event
        again (same id), so a retry after a crash between the write and the publication still reaches consumers."""
        user = await self.get_user(user_id)
        updated = updated_profile(user, display_name, bio, self._text_profile, indexable)
        if updated != user or user.update_time is None:
            updated = replace(updated, update_time=utc_now())
            await self._repo.save_profile(updated)
        await self._publisher.publish(self._topic, user_id, events.profile_updated(updated))
        return updated

    async def follow(self, follower_id: int, followee_id: int) -> None:
        """Idempotent. A repeated follow re-publishes the same event (same id), so a retry after a crash between
        the write and the publication still reaches consumers, who drop the duplicate.

        Round trips: the users (remembered after the first call), then the follow and the blocks either way at
        once (the blocks in one query), then for a new follow its batch and the blocks again, then the event."""
        check_follow(follower_id, followee_id)
        _, followee = await self._both_exist(follower_id, followee_id)
        follow, blocks = await asyncio.gather(
            self._repo.get_follow(follower_id, followee_id), self._blocks(follower_id, followee_id)
        )
        check_may_follow(followee, *blocks)
        if follow is None:
            # To the microsecond: the follow's rows and its event carry this time, and an unfollow must come after.
            follow = Follow(follower_id, followee_id, datetime.now(UTC))
            await self._repo.save_follow(follow)
            # A block written meanwhile may have looked for follows before this one existed: look again, so that
            # of a racing block and follow, one always sees the other.
            blocks = await self._blocks(follower_id, followee_id)
            if any(blocks):
                await self._repo.delete_follow(follower_id, followee_id, ended_at(follow, utc_now()))
                check_may_follow(followee, *blocks)
        await self._publisher.publish(self._topic, follower_id, events.user_followed(follow))

    async def unfollow(self, follower_id: int, followee_id: int) -> None:
        """Idempotent: unfollowing someone you do not follow publishes nothing."""
        check_follow(follower_id, followee_id)
        await self._both_exist(follower_id, followee_id)
        follow = await self._repo.get_follow(follower_id, followee_id)
        if follow is not None:
            await self._end_follow(follow, utc_now())

    async def list_edges(self, direction: str, user_id: int, after: int, limit: int) -> tuple[list[User], int | None]:
        """One page of followers or followees, and the position to continue from (None at the end)."""
        await self._known.get(user_id)
        ids = await self._repo.list_edges(direction, user_id, after, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        return await self._repo.get_users(ids), (ids[-1] if more else None)

    async def list_restrictions(
        self, kind: RestrictionKind, user_id: int, after: int, limit: int
    ) -> tuple[list[User], int | None]:
        """One page of whom the user blocks or mutes, and the position to continue from (None at the end)."""
        await self.get_user(user_id)
        ids = await self._repo.list_restrictions(kind, user_id, after, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        return await self._repo.get_users(ids), (ids[-1] if more else None)

    async def block(self, blocker_id: int, blocked_id: int) -> None:
        """Idempotent. The block row comes first, so no new follow can slip in (see `follow`); then each follow
        between the two ends as an unfollow does, UserUnfollowed first; UserBlocked comes last. A retry after a
        crash anywhere finds the block and finishes the rest, publishing the same events again (same ids)."""
        block = await self._restrict(BLOCK, blocker_id, blocked_id)
        follows = await asyncio.gather(
            self._repo.get_follow(blocker_id, blocked_id), self._repo.get_follow(blocked_id, blocker_id)
        )
        for follow in follows:
            if follow is not None:
                await self._end_follow(follow, block.since)
        await self._publisher.publish(self._topic, blocker_id, events.restricted(block))

    async def unblock(self, blocker_id: int, blocked_id: int) -> None:
        await self._lift(BLOCK, blocker_id, blocked_id)

    async def mute(self, muter_id: int, muted_id: int) -> None:
        mute = await self._restrict(MUTE, muter_id, muted_id)
        await self._publisher.publish(self._topic, muter_id, events.restricted(mute))

    async def unmute(self, muter_id: int, muted_id: int) -> None:
        await self._lift(MUTE, muter_id, muted_id)

    async def relationship(self, user_id: int, other_id: int) -> Relationship:
        await self._both_exist(user_id, other_id)
        following, followed_by, blocks, muting = await asyncio.gather(
            self._repo.get_follow(user_id, other_id),
            self._repo.get_follow(other_id, user_id),
            self._repo.blocks_between(user_id, other_id),
            self._repo.get_restriction(MUTE, user_id, other_id),
        )
        return Relationship(
            following is not None,
            followed_by is not None,
            (user_id, other_id) in blocks,
            (other_id, user_id) in blocks,
            muting is not None,
        )

    async def create_filter(self, user_id: int, wanted: graph_pb2.Filter) -> graph_pb2.Filter:
        """Writes, then publishes FilterCreated."""
        await self.get_user(user_id)
        filter_ = self._checked_filter(user_id, self._ids.next_id(), wanted, utc_now(), {})
        check_filter_count(await self._repo.count_filters(user_id))
        await self._repo.save_filter(filter_)
        await self._publisher.publish(self._topic, user_id, events.filter_changed(filter_, created=True))
        return filter_

    async def update_filter(self, user_id: int, wanted: graph_pb2.Filter) -> graph_pb2.Filter:
        """Replaces the filter whole, then publishes FilterUpdated. Keywords keep their ids when they name one of
        the filter's; one without an id (or with an id the filter has not) is new."""
        current = await self.get_filter(user_id, wanted.filter_id)
        known = {keyword.keyword_id: keyword for keyword in current.keywords}
        filter_ = self._checked_filter(user_id, current.filter_id, wanted, current.create_time.ToDatetime(), known)
        await self._repo.save_filter(filter_)
        await self._publisher.publish(self._topic, user_id, events.filter_changed(filter_, created=False))
        return filter_

    async def delete_filter(self, user_id: int, filter_id: int) -> None:
        """Idempotent; publishes before deleting, as `_lift` does."""
        await self.get_user(user_id)
        filter_ = await self._repo.get_filter(user_id, filter_id)
        if filter_ is not None:
            await self._publisher.publish(self._topic, user_id, events.filter_deleted(filter_, utc_now()))
            await self._repo.delete_filter(user_id, filter_id)

    async def get_filter(self, user_id: int, filter_id: int) -> graph_pb2.Filter:
        filter_ = await self._repo.get_filter(user_id, filter_id)
        if filter_ is None:
            raise NotFound("FILTER_NOT_FOUND", f"you have no filter with id {filter_id}", filter_id=str(filter_id))
        return filter_

    async def list_filters(self, user_id: int, after: int, limit: int) -> tuple[list[graph_pb2.Filter], int | None]:
        """One page of the user's filters, and the position to continue from (None at the end)."""
        await self.get_user(user_id)
        found = await self._repo.list_filters(user_id, after, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1].filter_id if more else None)

    def _checked_filter(
        self,
        user_id: int,
        filter_id: int,
        wanted: graph_pb2.Filter,
        created: datetime,
        known: dict[int, graph_pb2.FilterKeyword],
    ) -> graph_pb2.Filter:
        title, contexts, keywords = validate_filter(
            wanted.title,
            list(wanted.contexts),
            wanted.action,
            [(keyword.keyword, keyword.whole_word) for keyword in wanted.keywords],
            set(graph_pb2.FilterContext.values()) - {graph_pb2.FILTER_CONTEXT_UNSPECIFIED},
        )
        ids = [
            keyword.keyword_id if keyword.keyword_id in known else self._ids.next_id() for keyword in wanted.keywords
        ]
        now = timestamp_from_datetime(utc_now())
        return graph_pb2.Filter(
            filter_id=filter_id,
            user_id=user_id,
            title=title,
            contexts=contexts,
            action=wanted.action,
            keywords=[
                graph_pb2.FilterKeyword(keyword_id=keyword_id, keyword=keyword, whole_word=whole_word)
                for keyword_id, (keyword, whole_word) in zip(ids, keywords, strict=True)
            ],
            expire_time=wanted.expire_time if wanted.HasField("expire_time") else None,
            create_time=timestamp_from_datetime(as_utc(created)),
            update_time=now,
        )

    async def _end_follow(self, follow: Follow, at: datetime) -> None:
        """Publishes before deleting, so a crash in between leaves the edge for the retry to find. The unfollow
        takes effect strictly after the follow (`ended_at`), in the event and in the rows alike."""
        at = ended_at(follow, at)
        await self._publisher.publish(self._topic, follow.follower_id, events.user_unfollowed(follow, at))
        await self._repo.delete_follow(follow.follower_id, follow.followee_id, at)

    async def _restrict(self, kind: RestrictionKind, user_id: int, target_id: int) -> Restriction:
        """The block or mute, written now unless it already holds (then the one that holds, for its event id)."""
        check_not_self(kind, user_id, target_id)
        await self._both_exist(user_id, target_id)
        restriction = await self._repo.get_restriction(kind, user_id, target_id)
        if restriction is None:
            restriction = Restriction(kind, user_id, target_id, utc_now())
            await self._repo.save_restriction(restriction)
        return restriction

    async def _lift(self, kind: RestrictionKind, user_id: int, target_id: int) -> None:
        """Idempotent; publishes before deleting, as `_end_follow` does."""
        check_not_self(kind, user_id, target_id)
        await self._both_exist(user_id, target_id)
        restriction = await self._repo.get_restriction(kind, user_id, target_id)
        if restriction is not None:
            await self._publisher.publish(self._topic, user_id, events.restriction_lifted(restriction, utc_now()))
            await self._repo.delete_restriction(kind, user_id, target_id)

    async def _blocks(self, follower_id: int, followee_id: int) -> tuple[bool, bool]:
        """(the followee blocks the follower, the follower blocks the followee): one query."""
        found = await self._repo.blocks_between(follower_id, followee_id)
        return (followee_id, follower_id) in found, (follower_id, followee_id) in found

    async def _both_exist(self, *user_ids: int) -> list[User]:
        """The users (NOT_FOUND for one that does not exist), as remembered: only their ids and handles are used."""
        return await asyncio.gather(*(self._known.get(user_id) for user_id in user_ids))
