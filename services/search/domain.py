"""The search query language, parsed into a small tree that every backend reads the same way. Pure: no I/O.

    climate #bologna from:ada @giulia lang:it since:2026-01-01 until:2026-02-01 "legge elettorale" -calcio a OR b

- A bare word matches the word in any of its inflections: it is analyzed as posts are (services/text/terms.py).
  A word that analyzes into several terms (東京の寺, e-mail) needs all of them.
- `"a phrase"` needs its terms adjacent and in order.
- `#tag` and `@handle` match the hashtag or the mention; `from:handle` the author; `lang:xx` the detected language;
  `since:`/`until:` a date (YYYY-MM-DD, UTC) or an instant (ISO 8601): since is inclusive, until exclusive.
- `-clause` excludes; `a OR b` (upper case) takes either, across scripts too (`京都 OR kyoto`). OR binds tighter
  than the implicit AND between clauses.
A query with no positive clause (only exclusions or filters) matches every post the filters allow.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from services.text.terms import LANGUAGES, prefix_words, query_alternatives

# Longest query accepted, in characters, and most clauses.
MAX_QUERY_LENGTH = 512
MAX_CLAUSES = 32


class QueryError(ValueError):
    """The query cannot be parsed; the message says what to change."""


@dataclass(frozen=True)
class Match:
    """Posts holding every term; adjacent and in order when `phrase`."""

    terms: tuple[str, ...]
    phrase: bool = False


@dataclass(frozen=True)
class Author:
    """Posts by this handle (lower-cased)."""

    handle: str


@dataclass(frozen=True)
class Language:
    code: str


@dataclass(frozen=True)
class Or:
    """Posts matching any of the options (each a Match or an Author)."""

    options: tuple["Clause", ...]


@dataclass(frozen=True)
class Not:
    clause: "Clause"


Clause = Match | Author | Language | Or | Not


@dataclass(frozen=True)
class Query:
    """All clauses must hold (a Not: must not), and the post's time must be in [since_ms, until_ms)."""

    clauses: tuple[Clause, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def positive(self) -> tuple[Clause, ...]:
        return tuple(clause for clause in self.clauses if not isinstance(clause, Not))

    @property
    def negative(self) -> tuple[Clause, ...]:
        return tuple(clause.clause for clause in self.clauses if isinstance(clause, Not))

    def text_terms(self) -> set[str]:
        """Every term a post may be matched on (for highlighting and the mute-word hook)."""
        found: set[str] = set()

        def walk(clause: Clause) -> None:
            if isinstance(clause, Match):
                found.update(clause.terms)
            elif isinstance(clause, Or):
                for option in clause.options:
                    walk(option)

        for clause in self.positive:
            walk(clause)
        return found


_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_LANG = re.compile(r"^[a-z]{2}$")


def parse(text: str) -> Query:
    """The query tree of `text`; QueryError says what is wrong."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"a query has at most {MAX_QUERY_LENGTH} characters")
    since_ms: int | None = None
    until_ms: int | None = None
    clauses: list[Clause] = []
    pending_or = False
    tokens = _TOKEN.findall(text)
    # With lang:xx the words are stemmed as that language's, not as any language's.
    languages = {token[5:].lower() for token in tokens if token.lower().startswith("lang:")}
    language = languages.pop() if len(languages) == 1 else None
    if language not in LANGUAGES:
        language = None
    for raw in tokens:
        if raw == "OR":
            if not clauses or pending_or:
                raise QueryError("OR needs a clause on each side")
            pending_or = True
            continue
        negated = raw.startswith("-") and len(raw) > 1
        body = raw[1:] if negated else raw
        key, _, value = body.partition(":")
        key = key.lower()
        if not body.startswith('"') and value and key in ("since", "until"):
            if negated or pending_or:
                raise QueryError(f"{key}: cannot be negated or OR-ed")
            moment = _moment(key, value)
            if key == "since":
                since_ms = moment
            else:
                until_ms = moment
            continue
        clause = _clause(body, key, value, language)
        if clause is None:
            continue
        if negated:
            if pending_or:
                raise QueryError("an excluded clause cannot be one side of OR")
            clause = Not(clause)
        if pending_or:
            previous = clauses.pop()
            if isinstance(previous, Not) or isinstance(clause, Language):
                raise QueryError("OR joins words, phrases, #tags, @mentions and from:")
            options = previous.options if isinstance(previous, Or) else (previous,)
            clause = Or((*options, clause))
            pending_or = False
        clauses.append(clause)
        if len(clauses) > MAX_CLAUSES:
            raise QueryError(f"a query has at most {MAX_CLAUSES} clauses")
    if pending_or:
        raise QueryError("OR needs a clause on each side")
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise QueryError("since: must be before until:")
    return Query(tuple(clauses), since_ms, until_ms)


def _clause(body: str, key: str, value: str, language: str | None) -> Clause | None:
    if body.startswith('"'):
        return _words(body.strip('"'), language, phrase=True)
    if key == "from" and value:
        handle = value.lstrip("@")
        if not _HANDLE.match(handle):
            raise QueryError(f"from: takes a handle, not {value!r}")
        return Author(handle.lower())
    if key == "lang" and value:
        if not _LANG.match(value.lower()):
            raise QueryError(f"lang: takes a two-letter language code, not {value!r}")
        return Language(value.lower())
    return _words(body, language, phrase=False)


def _words(text: str, language: str | None, phrase: bool) -> Clause | None:
    """A word (or phrase) in each of the forms it may take in a post: one Match, or an Or of them."""
    options = tuple(
        Match(terms, phrase=phrase and len(terms) > 1) for terms in query_alternatives(text, language) if terms
    )
    if not options:
        return None
    return options[0] if len(options) == 1 else Or(options)


def _moment(key: str, value: str) -> int:
    try:
        if len(value) == 10:
            moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError as error:
        raise QueryError(f"{key}: takes a date (YYYY-MM-DD) or an ISO 8601 instant, not {value!r}") from error
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class PeopleQuery:
    """People whose handle, name or bio match every clause (a word in its forms: a Match or an Or of Matches), and
    with `prefix`, whose handle or a word of whose name starts with it (lower-cased, diacritics folded). `words`
    are the query's words folded like names: a handle or a word of a name equal to one ranks higher."""

    clauses: tuple[Clause, ...] = ()
    prefix: str = ""
    words: tuple[str, ...] = ()


def parse_people(text: str, prefix: bool = False) -> PeopleQuery:
    """A people search; with `prefix` (typeahead), the last word is the start of a handle or of a word of a name."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"a query has at most {MAX_QUERY_LENGTH} characters")
    words = [word.lstrip("@＠") for word in text.split()]
    start = ""
    if prefix and words:
        last = words.pop()
        # A handle typed so far ("ada_1a") is the start of a whole handle, as people are indexed (lower-cased);
        # its first word alone ("ada") matched every "ada…" account alike. Other text starts a word of a name.
        if _HANDLE.match(last):
            start = last.lower()
        else:
            folded = prefix_words(last)
            start = folded[0] if folded else ""
    clauses = tuple(clause for word in words[:MAX_CLAUSES] if (clause := _words(word, None, phrase=False)) is not None)
    return PeopleQuery(clauses, start, tuple(w for word in words for w in prefix_words(word)))
