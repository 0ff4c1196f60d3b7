"""Fan-out rules: who gets a post in their home timeline, and how much history a new follow brings. No I/O."""

import heapq
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from services.runtime.ids import SEQUENCE_BITS, WORKER_BITS, first_id_at

# Posts of a newly followed account copied into the follower's home timeline, and removed again on unfollow.
BACKFILL_POSTS = 200
# A home timeline keeps at least this many of its newest entries; older ones are trimmed away.
HOME_TIMELINE_CAP = 800
# One post in this many trims the home timelines it lands in, so a timeline holds at most about CAP + this many.
TRIM_EVERY = 32
# How often a reader's activity is written down at most: reads in between are not recorded.
ACTIVITY_RESOLUTION_MS = 60_000


@dataclass(frozen=True)
class HomeEntry:
    """One item of a timeline: a post at its own place (its id), or a repost of it at the time of the repost."""

    # Where it sits, newest first, and what page tokens count from: the post's id, or the repost's id.
    position: int
    post_id: int
    # Who reposted it into this timeline; 0 when it is there as the author's own post (and in user timelines).
    reposted_by: int = 0
    # Merged in at read time (hybrid fan-out), not a row of the home timeline.
    held_back: bool = False
    # The post's author, so a page can fetch its people while it fetches its posts; 0 when not known.
    author_id: int = 0


def post_entry(post_id: int, author_id: int = 0, held_back: bool = False) -> HomeEntry:
    return HomeEntry(post_id, post_id, author_id=author_id, held_back=held_back)


def repost_position(repost_id: int, reposted_at_ms: int, reposter_id: int) -> int:
    """Where a repost sits: its own id. Events from before reposts had ids get a position made of the repost's
    time and the reposter, the same on every replay."""
    return repost_id or first_id_at(reposted_at_ms) | (zlib.crc32(str(reposter_id).encode()) & _LOW_BITS)


_LOW_BITS = (1 << (WORKER_BITS + SEQUENCE_BITS)) - 1


@dataclass(frozen=True)
class Provenance:
    """What put a row in a home timeline, for `chirp timeline explain`: the event's place in the log, or (partition
    and offset -1) the rule that wrote it without an event of its own."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, record) -> "Provenance":
        """The place of a consumed record (anything with topic, partition and offset)."""
        return cls(record.topic, record.partition, record.offset)


REBUILT_ON_RETURN = Provenance("(rebuilt when the reader returned from inactivity)", -1, -1)


def fans_out(follower_count: int, threshold: int) -> bool:
    """Whether a post is copied into each follower's home timeline (write time) or merged in when they read.
    Copying costs one write per follower per post; merging costs one read per reader per such author followed."""
    return follower_count <= threshold


def merge_home(fanned_out: list[HomeEntry], held_back: list[list[HomeEntry]], limit: int) -> list[HomeEntry]:
    """One page of a home timeline's entries: its rows and the held-back entries of followed authors, newest first,
    each place once (a row wins over a held-back copy of the same entry: after a threshold change an entry may be
    both)."""
    seen: set[int] = set()
    page: list[HomeEntry] = []
    for entry in heapq.merge(fanned_out, *held_back, key=lambda e: e.position, reverse=True):
        if entry.position not in seen:
            seen.add(entry.position)
            page.append(entry)
            if len(page) == limit:
                break
    return page


def newest_entries(
    entries: list[HomeEntry], reposts: dict[int, list[tuple[int, int]]], muted_ids: set[int]
) -> list[tuple[HomeEntry, int]]:
    """A post shows once in a home timeline, at its newest entry the reader may see: its own place, or the latest
    repost of it by someone they follow and have not muted. `reposts`: post id -> (reposter, position) of every
    repost of it the timeline holds (fanned out or held back), whichever pages they are on. Keeps the entries
    that are their post's newest, each with how many other reposters the post has there."""
    kept = []
    for entry in entries:
        others = [(r, position) for r, position in reposts.get(entry.post_id, ()) if r not in muted_ids]
        if not shown_at_home(entry.author_id, entry.reposted_by, muted_ids):
            continue
        if any(position > entry.position for _, position in others):
            continue  # a newer repost of it shows instead (on this page or one before)
        kept.append((entry, len({r for r, _ in others if r != entry.reposted_by})))
    return _once_per_post(kept)


def _once_per_post(kept: Iterable[tuple[HomeEntry, int]]) -> list[tuple[HomeEntry, int]]:
    seen: set[int] = set()
    page = []
    for entry, others in kept:
        if entry.post_id not in seen:
            seen.add(entry.post_id)
            page.append((entry, others))
    return page


def unfollow_removal_time(unfollowed_at: int, post_id: int, post_write_time: int) -> int:
    """When an unfollow removes a post from the former follower's home timeline (microseconds). A post created after
    the unfollow but applied before it (another partition) was fanned out at its own, later, time: deleting at that
    time removes it too, because Cassandra lets a tombstone win a tie. A later follow's backfill writes later still."""
    return max(unfollowed_at, post_write_time)


def is_inactive(last_active_ms: int, now_ms: int, inactive_after_ms: int) -> bool:
    return now_ms - last_active_ms > inactive_after_ms


def home_recipients(
    author_id: int,
    follower_ids: list[int],
    replied_to_id: int = 0,
    followers_of_replied_to: frozenset[int] = frozenset(),
) -> list[int]:
    """Everyone who follows the author, and the author (one sees one's own posts at home); for a reply, only the
    followers it reaches."""
    return [
        author_id,
        *(f for f in follower_ids if f != author_id and reply_reaches(f, replied_to_id, f in followers_of_replied_to)),
    ]


def reply_reaches(reader_id: int, replied_to_id: int, reader_follows_replied_to: bool) -> bool:
    """A reply is shown to a follower of its author only when the follower also follows the account it answers
    (or is that account): half a conversation is noise. Not a reply (0): always."""
    return replied_to_id == 0 or replied_to_id == reader_id or reader_follows_replied_to


def shown_at_home(author_id: int, reposted_by: int, muted_ids: set[int]) -> bool:
    """A muted account's posts and reposts are hidden, not removed: unmuting shows them again."""
    return author_id not in muted_ids and reposted_by not in muted_ids


def explain_home_entry(
    reader_id: int,
    author_id: int | None,
    has_row: bool,
    held_back: bool,
    follows_author: bool,
    muted: bool,
    reply_reaches_reader: bool,
) -> tuple[bool, str]:
    """Whether a post shows in a home timeline and the rule that decides it. `author_id` is None for a post the
    timeline does not know (never created, or deleted); `held_back`: merged at read time and the reader follows."""
    if author_id is None:
        return False, "no such post: it was deleted (a deleted post leaves every timeline) or never existed"
    if not has_row and not held_back:
        if author_id != reader_id and not follows_author:
            return False, "you do not follow its author (or unfollowed them, which removed it)"
        if not reply_reaches_reader:
            return False, "a reply to an account you do not follow: replies reach only followers of both"
        return False, f"not fanned out to you yet, or older than the {BACKFILL_POSTS} recent posts a follow copies"
    if muted:
        return False, "you muted its author: it is in your timeline's rows but hidden until you unmute"
    if not has_row:
        if not reply_reaches_reader:
            return False, "a reply to an account you do not follow: replies reach only followers of both"
        return (
            True,
            "merged in when you read: its author had more followers than the fan-out threshold when it was posted",
        )
    return True, "fanned out to you: you are its author or follow them"


def trims_home_timelines(post_id: int) -> bool:
    """Whether fanning out this post also trims its readers' timelines to HOME_TIMELINE_CAP. Decided by the post,
    not by chance, so a replay trims where the live run did; a hash, because the id's low bits are a sequence."""
    return zlib.crc32(post_id.to_bytes(8, "big", signed=True)) % TRIM_EVERY == 0
