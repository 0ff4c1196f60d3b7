"""Fan-out rules: who gets a post in their home timeline, and how much history a new follow brings. No I/O."""

# Posts of a newly followed account copied into the follower's home timeline, and removed again on unfollow.
BACKFILL_POSTS = 200


def home_recipients(author_id: int, follower_ids: list[int]) -> list[int]:
    """Everyone who follows the author, and the author (one sees one's own posts at home)."""
    return [author_id, *(f for f in follower_ids if f != author_id)]
