"""Mastodon's JSON shapes (docs.joinmastodon.org/entities) from Chirp's messages, and the HTML of a post's text.

Every user string that goes into HTML is escaped here, once, so no text, name or bio can inject markup; plain-text
fields (display_name, spoiler_text, source.note) stay plain text, as Mastodon serves them. Ids are strings.
"""

import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from google.protobuf.timestamp_pb2 import Timestamp

from services.runtime.ids import timestamp_ms_of
from services.text import analyze

# Mastodon shows at most this much of a URL, without its scheme and "www.", and hides the rest behind an ellipsis.
URL_DISPLAY_LENGTH = 30
DEFAULT_AVATAR = "/avatars/original/missing.png"
DEFAULT_HEADER = "/headers/original/missing.png"


@dataclass(frozen=True)
class Author:
    """What a status or notification shows of an account; counts are 0 where the call that found it had none."""

    user_id: int
    handle: str
    display_name: str = ""
    bio: str = ""
    followers: int = 0
    following: int = 0
    statuses: int = 0
    created: datetime | None = None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_of(stamp: Timestamp) -> str:
    """As iso(), straight from the seconds (a page has dozens of them; ToDatetime is pure Python)."""
    if not _FAST_SECONDS[0] <= stamp.seconds < _FAST_SECONDS[1]:
        return iso(stamp.ToDatetime(tzinfo=UTC))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp.seconds)) + f".{stamp.nanos // 1_000_000:03d}Z"


# Years 1000 to 9999, which strftime writes with four digits on every platform.
_FAST_SECONDS = (-30610224000, 253402300800)


def created_of(chirp_id: int) -> datetime:
    """When something with a time-ordered id was made, as the id says: an account a call names without a profile,
    a repost."""
    return datetime.fromtimestamp(timestamp_ms_of(chirp_id) / 1000, UTC)


def author_of(user, stats=None) -> Author:
    """From a graph User (and its UserStats)."""
    return Author(
        user_id=user.user_id,
        handle=user.handle,
        display_name=user.display_name,
        bio=user.bio,
        followers=stats.follower_count if stats else 0,
        following=stats.following_count if stats else 0,
        statuses=stats.post_count if stats else 0,
        created=user.create_time.ToDatetime(tzinfo=UTC) if user.HasField("create_time") else None,
    )


class Accounts:
    """The Account of each author a page shows, made once however many of its statuses the author wrote (the
    dicts are shared: nothing changes an Account once made)."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._made: dict[Author, dict] = {}

    def of(self, author: Author) -> dict:
        made = self._made.get(author)
        if made is None:
            made = self._made[author] = account(author, self._base)
        return made


# What urllib's quote() leaves as it is (handles always are): such text is not quoted at all, the common case.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else quote(text)


def profile_url(base: str, handle: str) -> str:
    return f"{base}/@{_quoted(handle)}"


def account(author: Author, base: str) -> dict:
    created = author.created or created_of(author.user_id)
    return {
        "id": str(author.user_id),
        "username": author.handle,
        "acct": author.handle,
        "display_name": author.display_name or author.handle,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "hide_collections": False,
        "noindex": False,
        "created_at": iso(created.replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": note_html(author.bio, base),
        "url": profile_url(base, author.handle),
        "uri": f"{base}/users/{_quoted(author.handle)}",
        "avatar": base + DEFAULT_AVATAR,
        "avatar_static": base + DEFAULT_AVATAR,
        "header": base + DEFAULT_HEADER,
        "header_static": base + DEFAULT_HEADER,
        "followers_count": author.followers,
        "following_count": author.following,
        "statuses_count": author.statuses,
        "last_status_at": None,
        "emojis": [],
        "fields": [],
    }


def credential_account(author: Author, base: str) -> dict:
    """verify_credentials and update_credentials: the account with its `source` (the bio as typed)."""
    return account(author, base) | {
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": author.bio,
            "fields": [],
            "follow_requests_count": 0,
            "indexable": True,
            "hide_collections": False,
            "discoverable": True,
            "attribution_domains": [],
        },
        "role": {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False},
    }


def relationship(other_id: int, relation) -> dict:
    return {
        "id": str(other_id),
        "following": relation.following,
        "showing_reblogs": relation.following,
        "notifying": False,
        "languages": None,
        "followed_by": relation.followed_by,
        "blocking": relation.blocking,
        "blocked_by": relation.blocked_by,
        "muting": relation.muting,
        "muting_notifications": relation.muting,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def display_url(url: str) -> tuple[str, str, str]:
    """(hidden prefix, shown part, hidden rest): Mastodon's markup for a shortened link, as twitter-text's autolink
    shows it: no scheme and no "www.", at most URL_DISPLAY_LENGTH characters, then an ellipsis."""
    lowered = url.lower()
    prefix = ""
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme):
            prefix = url[: len(scheme)]
            break
    if lowered[len(prefix) :].startswith("www."):
        prefix = url[: len(prefix) + 4]
    rest = url[len(prefix) :]
    return prefix, rest[:URL_DISPLAY_LENGTH], rest[URL_DISPLAY_LENGTH:]


def href_of(url: str) -> str:
    """A URL as twitter-text found it, made absolute: a bare domain gets http://."""
    return url if url.lower().startswith(("http://", "https://")) else f"http://{url}"


def _link(url: str) -> str:
    prefix, shown, hidden = display_url(url)
    parts = [f'<a href="{html.escape(href_of(url))}" target="_blank" rel="nofollow noopener" translate="no">']
    if prefix:
        parts.append(f'<span class="invisible">{html.escape(prefix)}</span>')
    parts.append(f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>')
    if hidden:
        parts.append(f'<span class="invisible">{html.escape(hidden)}</span>')
    parts.append("</a>")
    return "".join(parts)


def _mention(handle: str, written: str, base: str) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{html.escape(profile_url(base, handle))}" '
        f'class="u-url mention">{html.escape(written[0])}<span>{html.escape(written[1:])}</span></a></span>'
    )


def _hashtag(tag: str, written: str, base: str) -> str:
    return (
        f'<a href="{html.escape(base)}/tags/{html.escape(_quoted(tag.lower()))}" class="mention hashtag" rel="tag">'
        f"{html.escape(written[0])}<span>{html.escape(written[1:])}</span></a>"
    )


def _paragraphs(escaped_pieces: list[str]) -> str:
    """Blank lines split paragraphs, single newlines become <br />, as Mastodon formats plain text."""
    joined = "".join(escaped_pieces)
    paragraphs = [part for part in joined.replace("\r\n", "\n").split("\n\n") if part.strip()]
    return "".join(f"<p>{part.strip(chr(10)).replace(chr(10), '<br />')}</p>" for part in paragraphs) or "<p></p>"


def content_html(text: str, mentions, hashtags, urls, base: str) -> str:
    """A post's text as Mastodon's `content`: mentions (of users that exist), hashtags and links as anchors, every
    other character escaped. Entities are (kind, value, start, end) in code points of the NFC text, as Chirp stores
    them; one that does not fit the text (or overlaps another) stays plain text."""
    spans = sorted(
        [("mention", m.handle, m.start, m.end) for m in mentions if m.user_id]
        + [("hashtag", h.value, h.start, h.end) for h in hashtags]
        + [("url", u.value, u.start, u.end) for u in urls],
        key=lambda span: span[2],
    )
    pieces, position = [], 0
    for kind, value, start, end in spans:
        if start < position or not 0 <= start < end <= len(text):
            continue
        pieces.append(html.escape(text[position:start]))
        written = text[start:end]
        if kind == "mention":
            pieces.append(_mention(value, written, base))
        elif kind == "hashtag":
            pieces.append(_hashtag(value, written, base))
        else:
            pieces.append(_link(written))
        position = end
    pieces.append(html.escape(text[position:]))
    return _paragraphs(pieces)


def note_html(bio: str, base: str) -> str:
    """A bio as Mastodon's `note`: its hashtags and links as anchors (bios keep no entities, so they are found
    here); mentions stay text, since whether they name someone is not known here."""
    if not bio:
        return ""
    found = analyze(bio)
    return content_html(found.text, [], found.hashtags, found.urls, base)


def tag(name: str, base: str) -> dict:
    return {"name": name, "url": f"{base}/tags/{_quoted(name.lower())}", "history": []}


@dataclass(frozen=True)
class Viewpoint:
    """What a status says of the viewer's own acts, where the call knows them."""

    favourited: bool = False
    reblogged: bool = False


# A status as anyone sees it: Chirp has no call that says whether the viewer liked or reposted a post.
NOBODY = Viewpoint()


def status(
    post,
    author: Author,
    base: str,
    *,
    reply_to_account: int = 0,
    quote_of: dict | None = None,
    viewpoint: "Viewpoint | None" = None,
    accounts: Accounts | None = None,
) -> dict:
    """A post (a post service Post or a timeline TimelinePost) as a Mastodon Status; `accounts` shares the authors'
    Accounts across a page."""
    viewpoint = viewpoint or NOBODY
    stats = post.stats
    post_id = str(post.post_id)
    handle = _quoted(author.handle)
    return {
        "id": post_id,
        "uri": f"{base}/users/{handle}/statuses/{post_id}",
        "url": f"{base}/@{handle}/{post_id}",
        "created_at": iso_of(post.create_time),
        "edited_at": None,
        "account": accounts.of(author) if accounts else account(author, base),
        "content": content_html(post.text, post.mentions, post.hashtags, post.urls, base),
        "text": None,
        "visibility": "public",
        "sensitive": False,
        "spoiler_text": "",
        "language": None,
        "media_attachments": [],
        "application": None,
        "mentions": [
            {"id": str(m.user_id), "username": m.handle, "acct": m.handle, "url": profile_url(base, m.handle)}
            for m in post.mentions
            if m.user_id
        ],
        "tags": [tag(h.value, base) for h in post.hashtags],
        "emojis": [],
        "replies_count": stats.reply_count,
        "reblogs_count": stats.repost_count,
        "favourites_count": stats.like_count,
        "quotes_count": stats.quote_count,
        "in_reply_to_id": str(post.in_reply_to_post_id) if post.in_reply_to_post_id else None,
        "in_reply_to_account_id": str(reply_to_account) if reply_to_account else None,
        "reblog": None,
        "quote": quote_of,
        "quote_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
        "poll": None,
        "card": None,
        "favourited": viewpoint.favourited,
        "reblogged": viewpoint.reblogged,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "filtered": [],
    }


def accepted_quote(quoted: dict | None, quoted_id: int) -> dict | None:
    """Mastodon 4.4's Quote: the quoted status, or only its id (a ShallowQuote) when it is not at hand; a deleted
    quoted post is "deleted"."""
    if not quoted_id:
        return None
    if quoted is None:
        return {"state": "deleted", "quoted_status": None}
    return {"state": "accepted", "quoted_status": quoted}


def reblog(original: dict, reblogger: Author, base: str, reblog_id: int, accounts: Accounts | None = None) -> dict:
    """A repost as Mastodon's reblog: a status of its own, with the repost's id and time (`reblog_id`, time-ordered
    like post ids), by the reblogger, whose `reblog` is the original status. A repost made before reposts had ids
    (`reblog_id` 0) keeps the post's id, as it was shown then (a home timeline shows each post once). `accounts`
    shares one Account per person across a page."""
    wrapper = dict(original)
    shown_id = str(reblog_id) if reblog_id else original["id"]
    wrapper |= {
        "id": shown_id,
        "account": accounts.of(reblogger) if accounts else account(reblogger, base),
        "reblog": original,
        "content": "",
        "mentions": [],
        "tags": [],
        "quote": None,
        "uri": f"{base}/users/{_quoted(reblogger.handle)}/statuses/{shown_id}/activity",
        "url": None,
        "created_at": iso(created_of(reblog_id)) if reblog_id else original["created_at"],
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
    }
    return wrapper
