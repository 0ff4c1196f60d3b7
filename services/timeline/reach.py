"""Which posts reach a reader when they arrive other than by their own fan-out (a rule with one read)."""

from services.timeline.domain import reply_reaches
from services.timeline.repository import StoredPost, TimelineRepository


async def reaching_posts(
    repo: TimelineRepository, reader: int, posts: dict[int, StoredPost], followed: set[int] | None = None
) -> dict[int, StoredPost]:
    """Of posts that do not come through their own fan-out (backfilled on a follow, held back, rebuilt on return),
    those that reach the reader: a reply shows only to followers of both accounts, and one's own replies always.
    `followed`: whom the reader follows, when the caller has it already; otherwise read only if a reply needs it."""
    if followed is None:
        replied_to = {p.in_reply_to_user_id for p in posts.values() if p.in_reply_to_user_id not in (0, reader)}
        followed = set(await repo.followee_ids(reader)) if replied_to else set()
    return {
        pid: p
        for pid, p in posts.items()
        if p.author_id == reader or reply_reaches(reader, p.in_reply_to_user_id, p.in_reply_to_user_id in followed)
    }
