"""OAuth scopes as Mastodon defines them: what a token may do, and which scope covers which.

`read` and `write` cover all their sub-scopes (`read:statuses`, ...); the deprecated `follow` covers reading and
writing follows, blocks and mutes; `push` and `profile` cover only themselves.
"""

from collections.abc import Iterable

READ_SUBSCOPES = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
WRITE_SUBSCOPES = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)
# What the deprecated `follow` scope grants.
FOLLOW_SCOPES = frozenset({"read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"})
TOP_LEVEL = ("read", "write", "follow", "push", "profile")
ALL_SCOPES = frozenset({*TOP_LEVEL, *(f"read:{s}" for s in READ_SUBSCOPES), *(f"write:{s}" for s in WRITE_SUBSCOPES)})
# What a first-party credential (the CLI, the web client) holds.
FIRST_PARTY = frozenset({"read", "write", "follow", "push"})


def parse(scope: str | Iterable[str]) -> frozenset[str]:
    """Scopes from a space-separated string (as OAuth sends them) or a list; unknown ones are kept, for
    `unknown()` to name."""
    words = scope.split() if isinstance(scope, str) else [word for item in scope for word in item.split()]
    return frozenset(words)


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - ALL_SCOPES)


def covers(granted: Iterable[str], required: str) -> bool:
    """Whether scopes `granted` allow what needs `required` (a sub-scope such as `write:statuses`)."""
    granted = set(granted)
    if required in granted:
        return True
    parent = required.split(":", 1)[0]
    return (parent != required and parent in granted) or (required in FOLLOW_SCOPES and "follow" in granted)


def within(requested: Iterable[str], allowed: Iterable[str]) -> bool:
    """Whether every scope of `requested` is one `allowed` grants (an app asks only for what it registered)."""
    return all(covers(allowed, scope) for scope in requested)
