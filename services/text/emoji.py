"""Emoji as twitter-text's weighted profile sees them, so that one emoji counts as one heavy character (2 units).

twitter-text (JS 3.1.0, the reference) finds emoji with twemoji-parser 11.0.2, which knows the emoji of Emoji 11.0
and nothing newer: an emoji sequence it does not know is counted code point by code point (a ZWJ sequence of Emoji
12.0 or later then weighs far more than 2). Chirp must count like twitter-text, so it recognises the same set: the
Emoji 11.0 sequences of the Unicode emoji data shipped by the maintained `emoji` package (fully-qualified ones, the
unqualified forms of the ones without a ZWJ, and the skin-tone modifiers alone), longest match first, with the few
differences of twemoji-parser 11.0.2 listed below, each observed against the pinned JS oracle
(tests/unit/test_text_oracle.py weighs every sequence of the Unicode emoji data against it, alone and among others).
"""

import re

import emoji as _emoji_data

from services.text._trie import trie, trie_pattern

# The Emoji version twemoji-parser 11.0.2 was generated from.
EMOJI_VERSION = 11.0

_FULLY_QUALIFIED = 2
_UNQUALIFIED = 4
_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_SKIN_TONES = [chr(c) for c in range(0x1F3FB, 0x1F400)]

# Characters shown as emoji by default that Unicode 11's emoji-variation-sequences.txt lists all the same.
_PRESENTATION_WITH_VARIANTS = [
    *"\u231a\u231b\u25fd\u25fe\u2614\u2615\u267f\u2693\u26a1\u26aa\u26ab\u26bd\u26be\u26c4\u26c5\u26d4\u26ea",
    *"\u26f2\u26f3\u26f5\u26fa\u26fd\u2757\u2b1b\u2b1c\u2b50\u2b55\U0001f004\U0001f21a\U0001f22f",
    *(chr(c) for c in range(0x2648, 0x2654)),  # the zodiac signs
]

# Sequences twemoji-parser 11.0.2 does not take as one emoji although Emoji 11.0 has them (it takes their parts).
_TWEMOJI_LACKS = {
    "\u267e\ufe0f",  # ♾️ infinity: only the bare U+267E is known
    "\u265f",  # ♟ chess pawn without VS16 (with it, it is known)
    "\u00a9",  # © without VS16 stays text
    "\u00ae",  # ® likewise
    "\u2122",  # ™ likewise
    "\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f",  # 👁️‍🗨️ eye in speech bubble, fully qualified
}
# Sequences twemoji-parser 11.0.2 knows beyond that rule.
_TWEMOJI_ADDS = {
    *(chr(c) for c in range(0x1F1E6, 0x1F200)),  # a regional indicator alone (half a flag)
    "\ufe0f",  # a VS16 that follows no emoji
    "\U0001f441\u200d\U0001f5e8",  # 👁‍🗨 eye in speech bubble without any VS16
    *(f"\u26f7{vs}{tone}" for vs in ("", _VS16) for tone in _SKIN_TONES),  # ⛷🏽 skier: no skin tones since Emoji 13
    *(
        f"\U0001f935{tone}\u200d{sign}\ufe0f"  # 🤵‍♂️ man/woman in tuxedo (Emoji 13.0) and their skin tones
        for tone in ("", *_SKIN_TONES)
        for sign in ("\u2642", "\u2640")
    ),
}


def twemoji_sequences() -> frozenset[str]:
    """Every string twemoji-parser 11.0.2 takes as one emoji, by the rule and the exceptions above."""
    known = set(_SKIN_TONES)
    for sequence, data in _emoji_data.EMOJI_DATA.items():
        if data["E"] > EMOJI_VERSION:
            continue
        if data["status"] == _FULLY_QUALIFIED or (data["status"] == _UNQUALIFIED and _ZWJ not in sequence):
            known.add(sequence)
    for sequence in list(known):
        # A base that takes a VS16 (its fully-qualified form has one) is also taken with a VS16 before its skin tone.
        if len(sequence) == 2 and sequence[1] in _SKIN_TONES and sequence[0] + _VS16 in known:
            known.add(sequence[0] + _VS16 + sequence[1])
    # Emoji-presentation characters that had a standardized variation sequence in Unicode 11 take a VS16 too.
    known.update(char + _VS16 for char in _PRESENTATION_WITH_VARIANTS)
    return frozenset((known - _TWEMOJI_LACKS) | _TWEMOJI_ADDS)


def _char_class(chars) -> str:
    """A character class of ranges (re checks astral members of a class one by one, BMP ones in a bitmap)."""
    ranges: list[list[int]] = []
    for code in sorted(ord(char) for char in chars if char):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges) + "]"


# Emoji are looked for in two steps, as one regular expression of every sequence tries each of its 1,400 first
# characters in turn at every position (200 µs for a 100-character post): a character class finds where an emoji
# may start, then the expression for the rest of the sequences starting with that character takes the longest.
_TRIE = trie(twemoji_sequences())
# Exact for the BMP (a bitmap for re); for astral characters one range holding them all, checked against the trie.
_ASTRAL_STARTS = (min(char for char in _TRIE if char > "\uffff"), max(_TRIE))
_START = re.compile(
    _char_class(char for char in _TRIE if char <= "\uffff")[:-1] + "{}-{}]".format(*map(re.escape, _ASTRAL_STARTS))
)
_REST = {char: re.compile(trie_pattern(child)) for char, child in _TRIE.items() if set(child) - {""}}
_ALONE = frozenset(char for char, child in _TRIE.items() if "" in child)


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans [start, end) of the emoji twitter-text's weighted profile counts as one character each."""
    spans = []
    position = 0
    search = _START.search
    while found := search(text, position):
        start = found.start()
        char = text[start]
        if char not in _TRIE:  # an astral character of the range that starts no emoji
            position = start + 1
            continue
        rest = _REST.get(char)
        # An optional rest only exists for a character that is an emoji alone, so any match is an emoji.
        matched = rest.match(text, start + 1) if rest is not None else None
        if matched is not None:
            position = matched.end()
        elif char in _ALONE:
            position = start + 1
        else:
            position = start + 1
            continue
        spans.append((start, position))
    return spans
