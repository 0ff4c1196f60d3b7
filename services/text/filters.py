"""Whether a mute word (a filter keyword, Mastodon's filters v2) matches a text: by the search analyzer
(services/text/terms.py), so the keyword matches every inflection search would find for it ("elezione" hides
"elezioni", "Wahl" hides "Wahlen"). Pure: no I/O.

Whole word: the keyword's terms are among the text's terms (adjacent and in order for a phrase). Not whole word: a
keyword term may also stand inside a longer term ("elezion" in "rielezion", as Mastodon's substring match).
"""

import functools
from collections.abc import Sequence

from services.text.terms import matches, query_alternatives


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
