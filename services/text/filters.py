"""Whether a mute word (a filter keyword, Mastodon's filters v2) matches a text: by the search analyzer
(services/text/terms.py), so the keyword matches every inflection search would find for it ("elezione" hides
"elezioni", "Wahl" hides "Wahlen"). Pure: no I/O.

Whole word: the keyword's terms are among the text's terms (adjacent and in order for a phrase). Not whole word: a
keyword term may also stand inside a longer term ("elezion" in "rielezion", as Mastodon's substring match).

`in_force` and `matching` apply a reader's filters (chirp.graph.v1.Filter, owned by the graph service) for whoever
shows posts: which filters hold in a context now, and which of them a post matches.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chirp.graph.v1 import graph_pb2
from services.text.terms import analyze, matches, query_alternatives


@functools.lru_cache(maxsize=4096)
def keyword_alternatives(keyword: str) -> tuple[tuple[str, ...], ...]:
    """The ways a keyword may appear among a text's terms (services.text.terms.query_alternatives), cached: a
    reader's keywords are matched against every post of every page."""
    return query_alternatives(keyword)


def keyword_matches(keyword: str, whole_word: bool, terms: Sequence[str]) -> bool:
    """Whether a text with these terms (`analyze(text).terms`) holds the keyword."""
    alternatives = keyword_alternatives(keyword)
    if not alternatives:
        return False
    if whole_word:
        return matches(alternatives, terms, phrase=True)
    for option in alternatives:
        width = len(option)
        for start in range(len(terms) - width + 1):
            if all(part in terms[start + i] for i, part in enumerate(option)):
                return True
    return False


# Mastodon's names of the contexts, and Chirp's.
CONTEXTS = {
    "home": graph_pb2.FILTER_CONTEXT_HOME,
    "notifications": graph_pb2.FILTER_CONTEXT_NOTIFICATIONS,
    "thread": graph_pb2.FILTER_CONTEXT_THREAD,
    "account": graph_pb2.FILTER_CONTEXT_ACCOUNT,
    "public": graph_pb2.FILTER_CONTEXT_PUBLIC,
}
ACTIONS = {"warn": graph_pb2.FILTER_ACTION_WARN, "hide": graph_pb2.FILTER_ACTION_HIDE}


@dataclass(frozen=True)
class FilterMatch:
    """A filter a post matched, and the keywords (as the user wrote them) that matched."""

    filter: graph_pb2.Filter
    keywords: tuple[str, ...]

    @property
    def hides(self) -> bool:
        return self.filter.action == graph_pb2.FILTER_ACTION_HIDE


def in_force(filters: Iterable[graph_pb2.Filter], context: int, now_ms: int) -> list[graph_pb2.Filter]:
    """The filters that apply to `context` at `now_ms`: an expired filter applies no more."""
    return [
        f
        for f in filters
        if context in f.contexts and (not f.HasField("expire_time") or f.expire_time.ToMilliseconds() > now_ms)
    ]


def matching(
    filters: Sequence[graph_pb2.Filter], text: str = "", terms: Sequence[str] | None = None
) -> list[FilterMatch]:
    """The filters whose keywords a post matches, given its text or its analyzed terms (a search hit has them)."""
    if not filters:
        return []
    found = terms if terms is not None else analyze(text).terms
    matches = []
    for f in filters:
        keywords = tuple(k.keyword for k in f.keywords if keyword_matches(k.keyword, k.whole_word, found))
        if keywords:
            matches.append(FilterMatch(f, keywords))
    return matches


def hidden(matches: Iterable[FilterMatch]) -> bool:
    return any(match.hides for match in matches)


def hiding(filters: Iterable[graph_pb2.Filter], context: int, now_ms: int) -> list[graph_pb2.Filter]:
    """The "hide" filters in force in `context`: what a service that shows no warnings applies."""
    return [f for f in in_force(filters, context, now_ms) if f.action == graph_pb2.FILTER_ACTION_HIDE]
