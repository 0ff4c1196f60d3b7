"""Use cases of the graph service: each validates, writes its rows, then publishes the event that records it."""

import asyncio

from services.graph import events
from services.graph.domain import Follow, User, check_follow, handle_key, validate_display_name, validate_handle
from services.graph.repository import GraphRepository
from services.runtime.errors import AlreadyExists, NotFound
from services.runtime.events import as_utc, utc_now
from services.runtime.ids import SnowflakeIds
from services.runtime.kafka import EventPublisher


class GraphService:
    def __init__(self, repo: GraphRepository, publisher: EventPublisher, ids: SnowflakeIds, topic: str) -> None:
        self._repo = repo
        self._publisher = publisher
        self._ids = ids
        self._topic = topic

    async def create_user(self, handle: str, display_name: str, request_id: str = "") -> User:
        handle = validate_handle(handle)
        display_name = validate_display_name(display_name, handle)
        candidate = User(self._ids.next_id(), handle, display_name, utc_now())
        claimed, holder = await self._repo.claim_handle(handle_key(handle), candidate, request_id)
        if claimed:
            user = candidate
        elif request_id and holder["request_id"] == request_id:
            # A retry of a call that reserved the handle: finish what it started, with what it chose.
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

    async def resolve_handle(self, handle: str) -> User:
        user_id = await self._repo.user_id_by_handle(handle_key(handle.strip().removeprefix("@")))
        user = await self._repo.get_user(user_id) if user_id is not None else None
        if user is None:
            raise NotFound("HANDLE_NOT_FOUND", f"nobody has the handle @{handle}", handle=handle)
        return user

    async def follow(self, follower_id: int, followee_id: int) -> None:
        """Idempotent. A repeated follow re-publishes the same event (same id), so a retry after a crash between
        the write and the publication still reaches consumers, who drop the duplicate."""
        check_follow(follower_id, followee_id)
        await self._both_exist(follower_id, followee_id)
        follow = await self._repo.get_follow(follower_id, followee_id)
        if follow is None:
            follow = Follow(follower_id, followee_id, utc_now())
            await self._repo.save_follow(follow)
        await self._publisher.publish(self._topic, follower_id, events.user_followed(follow))

    async def unfollow(self, follower_id: int, followee_id: int) -> None:
        """Idempotent. Publishes before deleting, so a crash in between leaves the edge for the retry to find."""
        check_follow(follower_id, followee_id)
        await self._both_exist(follower_id, followee_id)
        follow = await self._repo.get_follow(follower_id, followee_id)
        if follow is None:
            return
        await self._publisher.publish(self._topic, follower_id, events.user_unfollowed(follow, utc_now()))
        await self._repo.delete_follow(follower_id, followee_id)

    async def list_edges(self, direction: str, user_id: int, after: int, limit: int) -> tuple[list[User], int | None]:
        """One page of followers or followees, and the position to continue from (None at the end)."""
        await self.get_user(user_id)
        ids = await self._repo.list_edges(direction, user_id, after, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        return await self._repo.get_users(ids), (ids[-1] if more else None)

    async def _both_exist(self, *user_ids: int) -> None:
        await asyncio.gather(*(self.get_user(user_id) for user_id in user_ids))
