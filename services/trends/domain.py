"""The rules of trends: pure, no I/O, unit-tested.

A trend is a term (a hashtag, a link, a post) used by more accounts in the last hour than usual for that hour:

    C = weighted distinct accounts in the window (the last hour)
    B = the mean of the same window's C on each of the last BASELINE_DAYS days (the term's own baseline)
    score = (C - B) / sqrt(B + PRIOR)

and it trends when C >= MIN_WEIGHTED_ACCOUNTS, C >= MIN_GROWTH * B and score >= MIN_SCORE. Accounts, not posts:
an account counts once per term and window, however often it uses the term. Each account counts with a weight in
[0, 1] (`account_weight`): new accounts (by their UserCreated time) and accounts with few followers count for
little; accounts whose texts are near-duplicates of each other (MinHash of the analyzed terms) are grouped, and a
group of total weight S with heaviest member m counts m * (1 + ln(S / m)), so 500 copies of one text count as
about 7 accounts, not 500. A reader's blocked and muted accounts are left out before anything is counted.

Everything here is a function of the rows the projection wrote and of the moment asked about, so the same tables
give the same trends: after a replay, after a rebalance, on any replica.
"""

import enum
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.text.terms import url_host

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# The window counted, ending at the moment asked about, and the baseline: the same window 1..BASELINE_DAYS ago.
WINDOW_MS = HOUR_MS
BASELINE_DAYS = 7
# Pseudo-accounts added to the baseline under the square root: a term with no history needs a few real accounts
# (not one) to stand out, and a tiny baseline does not make any small rise a trend.
PRIOR = 2.0
# What trending takes: enough weighted accounts, growth against the baseline, and a score.
MIN_WEIGHTED_ACCOUNTS = 3.0
MIN_GROWTH = 1.5
MIN_SCORE = 2.0

# An account counts fully from this age (at the time of its use) and this many followers; less before.
FULL_WEIGHT_AGE_DAYS = 7
FULL_WEIGHT_FOLLOWERS = 10

# MinHash signatures: SIGNATURE_SIZE 32-bit minima; two texts are near-duplicates when at least NEAR_DUPLICATE of
# the positions agree (an estimated Jaccard similarity of the analyzed terms of about 0.6). Candidates are found
# by LSH bands of BAND_ROWS positions, so the grouping costs about one lookup per account.
SIGNATURE_SIZE = 32
NEAR_DUPLICATE = 19
BAND_ROWS = 2

# "Since when": steps back from the moment asked about while the term still trended, up to the look-back.
SINCE_STEP_MS = 10 * MINUTE_MS
SINCE_LOOKBACK_MS = 12 * HOUR_MS

# The scope of all languages (stored as a partition key, which may not be empty); a language scope is the
# analyzer's ISO 639-1 code.
GLOBAL = "*"


class Kind(enum.Enum):
    HASHTAG = "tag"
    LINK = "link"
    POST = "post"


# Sources of a use that are not posts: a like or a repost of the trending post by the account.
LIKE_SOURCE = -1
REPOST_SOURCE = -2


@dataclass(frozen=True)
class Use:
    """One account using a term once: in a post (`source_id` is the post's id) or by liking or reposting the post
    that is the term (`source_id` LIKE_SOURCE or REPOST_SOURCE)."""

    account_id: int
    source_id: int
    at_ms: int
    signature: bytes = b""


@dataclass(frozen=True)
class Account:
    """What weighs an account: when it was created (None: no UserCreated seen) and its followers (capped)."""

    created_ms: int | None
    followers: int


def hour_of(ms: int) -> int:
    """The hour bucket (hours since the Unix epoch) a moment falls in: one partition of uses."""
    return ms // HOUR_MS


def day_of(ms: int) -> int:
    """The day bucket (days since the Unix epoch, UTC)."""
    return ms // DAY_MS


def window_hours(end_ms: int) -> list[int]:
    """The hour buckets a window ending at `end_ms` reads, oldest first."""
    return list(range(hour_of(end_ms - WINDOW_MS + 1), hour_of(end_ms) + 1))


def in_window(uses: Iterable[Use], end_ms: int) -> list[Use]:
    start = end_ms - WINDOW_MS
    return [use for use in uses if start < use.at_ms <= end_ms]


def account_weight(account: Account | None, at_ms: int) -> float:
    """In [0, 1]: the product of an age factor (linear up to FULL_WEIGHT_AGE_DAYS at the time of the use; an
    account never seen created counts as new) and a follower factor (logarithmic up to FULL_WEIGHT_FOLLOWERS; none
    counts nothing)."""
    if account is None or account.created_ms is None:
        return 0.0
    age_days = (at_ms - account.created_ms) / DAY_MS
    age = min(1.0, max(0.0, age_days / FULL_WEIGHT_AGE_DAYS))
    followers = min(1.0, math.log2(1 + max(0, account.followers)) / math.log2(1 + FULL_WEIGHT_FOLLOWERS))
    return age * followers


def weights_of(uses: Iterable[Use], accounts: Mapping[int, Account]) -> dict[int, float]:
    """Each account's weight in a window, at its latest use there."""
    latest: dict[int, int] = {}
    for use in uses:
        latest[use.account_id] = max(latest.get(use.account_id, use.at_ms), use.at_ms)
    return {account_id: account_weight(accounts.get(account_id), at) for account_id, at in latest.items()}


# Signatures


_DIGITS = re.compile(r"^\d+$")


def features(terms: Iterable[str]) -> set[str]:
    """What near-duplicates are judged on: the analyzed terms (stemmed, case and accents folded, so inflections
    and case do not make a copy look new), without mentions and bare numbers, which spam varies to look unique."""
    return {term for term in terms if not term.startswith("@") and not _DIGITS.match(term)}


def signature(terms: Iterable[str]) -> bytes:
    """The MinHash signature of a text's features: SIGNATURE_SIZE 32-bit minima, big-endian, 4 bytes each."""
    minima = [0xFFFFFFFF] * SIGNATURE_SIZE
    for term in features(terms):
        digest = b"".join(
            hashlib.blake2b(term.encode(), digest_size=64, salt=bytes([part])).digest()
            for part in range(-(-4 * SIGNATURE_SIZE // 64))
        )
        for i in range(SIGNATURE_SIZE):
            value = int.from_bytes(digest[4 * i : 4 * i + 4], "big")
            if value < minima[i]:
                minima[i] = value
    return b"".join(value.to_bytes(4, "big") for value in minima)


def agreement(a: bytes, b: bytes) -> int:
    """How many positions of two signatures agree (0..SIGNATURE_SIZE)."""
    return sum(1 for i in range(0, 4 * SIGNATURE_SIZE, 4) if a[i : i + 4] == b[i : i + 4])


def near_duplicates(a: bytes, b: bytes) -> bool:
    return len(a) == len(b) == 4 * SIGNATURE_SIZE and agreement(a, b) >= NEAR_DUPLICATE


def _bands(sig: bytes) -> list[bytes]:
    width = 4 * BAND_ROWS
    return [bytes([i]) + sig[i * width : (i + 1) * width] for i in range(len(sig) // width)]


# Counting


@dataclass(frozen=True)
class Group:
    """Accounts whose texts are near-duplicates: counted as `contribution`."""

    accounts: tuple[int, ...]
    # The use that stands for the group (its heaviest account's first use).
    sample: Use
    contribution: float


@dataclass(frozen=True)
class Count:
    """A term's uses in one window."""

    accounts: int  # distinct, unweighted
    posts: int  # distinct sources
    weighted: float  # C
    groups: tuple[Group, ...] = field(default=())


EMPTY = Count(0, 0, 0.0)


def count(uses: Sequence[Use], weights: Mapping[int, float], excluded: frozenset[int] = frozenset()) -> Count:
    """Weighted distinct accounts of `uses` (already cut to a window), leaving out `excluded` accounts. Each account
    weighs `weights[account]`; accounts are grouped by near-duplicate texts (greedily, in the order of their first
    use, so the same uses always give the same groups) and each group counts m * (1 + ln(S / m))."""
    first: dict[int, Use] = {}
    sources: set[tuple[int, int]] = set()
    for use in sorted(uses, key=lambda u: (u.at_ms, u.account_id, u.source_id)):
        if use.account_id in excluded:
            continue
        sources.add((use.account_id, use.source_id))
        first.setdefault(use.account_id, use)
    if not first:
        return EMPTY
    members: list[list[int]] = []
    representatives: list[bytes] = []
    by_band: dict[bytes, list[int]] = {}
    for account_id, use in first.items():  # insertion order: by first use
        chosen = None
        if len(use.signature) == 4 * SIGNATURE_SIZE:
            candidates = sorted({index for band in _bands(use.signature) for index in by_band.get(band, ())})
            chosen = next((i for i in candidates if near_duplicates(representatives[i], use.signature)), None)
        if chosen is None:
            chosen = len(members)
            members.append([])
            representatives.append(use.signature)
            for band in _bands(use.signature):
                by_band.setdefault(band, []).append(chosen)
        members[chosen].append(account_id)
    groups = []
    for accounts in members:
        total = sum(weights.get(account, 0.0) for account in accounts)
        heaviest = max(accounts, key=lambda account: (weights.get(account, 0.0), -first[account].at_ms))
        top = weights.get(heaviest, 0.0)
        contribution = top * (1 + math.log(total / top)) if top > 0 else 0.0
        groups.append(Group(tuple(accounts), first[heaviest], contribution))
    groups.sort(key=lambda g: (-g.contribution, g.sample.at_ms, g.sample.account_id))
    # Rounded so that sums in another order (another replica, a rebuild) cannot differ in the last bit.
    weighted = round(sum(g.contribution for g in groups), 9)
    return Count(len(first), len(sources), weighted, tuple(groups))


def baseline(counts: Sequence[float]) -> float:
    """The mean of the same window over the last BASELINE_DAYS days; days without a use count as 0."""
    return round(sum(counts) / BASELINE_DAYS, 9)


def score(current: float, usual: float) -> float:
    return round((current - usual) / math.sqrt(usual + PRIOR), 6)


def trends(current: float, usual: float) -> bool:
    return current >= MIN_WEIGHTED_ACCOUNTS and current >= MIN_GROWTH * usual and score(current, usual) >= MIN_SCORE


def trending_since(trending_at: Sequence[bool], end_ms: int) -> int:
    """`trending_at[i]` says whether the term trended at end_ms - i * SINCE_STEP_MS (i = 0 is now, and trends):
    the start of the window of the oldest step of the unbroken run from now."""
    steps = 0
    while steps + 1 < len(trending_at) and trending_at[steps + 1]:
        steps += 1
    return end_ms - steps * SINCE_STEP_MS - WINDOW_MS


def reason(current: Count, usual_accounts: float, usual_weighted: float) -> str:
    """Why a term trends, in one sentence a person reads."""
    accounts = "1 account" if current.accounts == 1 else f"{current.accounts} accounts"
    usual = f"{usual_accounts:.1f}".removesuffix(".0") if usual_accounts < 10 else f"{usual_accounts:.0f}"
    text = f"{accounts} in the last hour against a usual {usual} (the same hour over the last {BASELINE_DAYS} days)"
    if current.weighted < 0.75 * current.accounts:
        text += (
            f"; counted as {current.weighted:.1f} after discounting new and little-followed accounts and "
            "near-duplicate texts"
        )
    return text


# Terms


def hashtag_term(name: str) -> str:
    """A hashtag as it trends: the analyzer's folded form (NFKC, lower case), without `#`."""
    return name.removeprefix("#")


_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref_src)$")


def link_term(url: str) -> str | None:
    """A link as it trends: scheme and host in lower case (https assumed when absent, `www.` dropped by the
    analyzer's url_host), no fragment, no tracking parameters, no trailing slash. None for no host."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = url_host(text)
    if not host:
        return None
    scheme = parts.scheme.lower() if parts.scheme.lower() in ("http", "https") else "https"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host + port, path, query, ""))


def post_term(post_id: int) -> str:
    return str(post_id)
