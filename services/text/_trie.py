"""Regular expressions for large sets of literal strings, as tries: Python's `re` tries the branches of an
alternation one by one, so `a|b|c|...` over 1,500 TLDs or 3,000 emoji costs 1,500 comparisons at every position."""

import re


def trie(words) -> dict:
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return root


def trie_pattern(node: dict) -> str:
    """A pattern matching, from `node`, the longest word first and shorter ones on backtracking (greedy, one branch
    per next character): the same matches as an alternation of the words that lists longer words before their
    prefixes."""
    branches = [re.escape(char) + trie_pattern(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = "(?:" + "|".join(branches) + ")"
    return body + "?" if "" in node else body


# An alternation of at least 20 plain words, as twitter-text's TLD lists are written.
_WORDS = re.compile(r"\(\?:((?:[^()|\\\[\]{}?*+.^$]+\|){20,}[^()|\\\[\]{}?*+.^$]+)\)")


def with_trie_alternations(pattern: str) -> str:
    """`pattern` with each long alternation of plain words rewritten as a trie. Only done where it cannot change a
    match: every word that is a prefix of another comes after it, so the alternation also tries the longer first."""

    def rewrite(match: re.Match) -> str:
        words = match.group(1).split("|")
        order = {word: index for index, word in enumerate(words)}
        for longer, index in order.items():
            if any(order.get(longer[:size], index) < index for size in range(1, len(longer))):
                return match.group(0)  # a prefix comes first: the alternation may stop at it, a trie would not
        return "(?:" + trie_pattern(trie(words)) + ")"

    return _WORDS.sub(rewrite, pattern)
