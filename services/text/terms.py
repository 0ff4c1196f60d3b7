"""Search terms of a text: the one analyzer shared by both search backends, the query parser and mute-word filters.
Pure: no I/O (the language model and the Japanese dictionary ship inside their packages and load on first use).

    text -> language (py3langid, restricted to LANGUAGES) -> tokens -> terms

- Tokens: twitter-text's entities first (services/text/entities.py), as special terms: a hashtag gives the words of
  the tag where it stands (so `bologna` finds `#Bologna`, `#ElezioniEuropee` gives `elezioni`, `europee`, and a
  phrase runs through it) and `#bologna` after the text's terms; `@ada` for a mention, `url:example.com` for a link
  (its host, without `www.`). The rest is split into runs of one script: Japanese (kanji, kana) goes through
  Sudachi's morphological analyzer in split mode A, the shortest units, so that 東京都 is 東京 + 都 and never 京都;
  particles, auxiliaries and punctuation are dropped and every word becomes its normalized dictionary form
  (食べました -> 食べる). Anything else is split into Unicode words (letters, marks and digits; an apostrophe
  ends a word, so l'elezione gives elezione).
- Terms: NFKC, lower-cased, stemmed with the Snowball stemmer of the text's language, then diacritics folded
  (Latin script; ё -> е in Cyrillic), so `elezioni` and `elezione` are both `elezion`, `Wahl` and `Wahlen` `wahl`.

A document has one language; a query word is short, so its language is not guessed: `query_alternatives` gives
its terms under every language of its script (and unstemmed), and a post matches when it holds any of them.
`analyze_query_word` picks one language when the caller knows it (`lang:xx`).
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from services.text.entities import extract_entities, url_entities
from services.text.urls import extract_urls

# The languages Chirp stems, by ISO 639-1 code -> Snowball stemmer name ("" for Japanese: Sudachi).
LANGUAGES = {
    "it": "italian",
    "ru": "russian",
    "es": "spanish",
    "fr": "french",
    "en": "english",
    "de": "german",
    "pt": "portuguese",
    "ja": "",
}
LATIN_LANGUAGES = ("it", "es", "fr", "en", "de", "pt")
# Below this many letters the detector is not asked: a text so short is as likely any Latin language.
MIN_DETECT_LETTERS = 12
# Below this probability (after restricting to LANGUAGES) a Latin-script text is taken as the fallback.
MIN_CONFIDENCE = 0.5
FALLBACK_LANGUAGE = "en"

_JAPANESE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶー]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]?[a-z\u00df-\u00ff]+|[A-Z]+(?![a-z])|\d+|[^\W\d_a-zA-Z]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Sudachi's parts of speech that carry no meaning of their own in a search.
_JA_DROPPED = ("助詞", "助動詞", "補助記号", "空白", "記号")


@dataclass(frozen=True)
class Analyzed:
    language: str  # one of LANGUAGES, or "" for a text with no letters
    terms: tuple[str, ...]  # in text order; a phrase is adjacent terms
    hashtags: tuple[str, ...]  # lower-cased, NFKC, without "#", in text order, without repeats
    mentions: tuple[str, ...]  # handles, lower-cased

    @property
    def text(self) -> str:
        """The terms as whitespace-separated text: what a backend indexes with a whitespace tokenizer."""
        return " ".join(self.terms)


def analyze(text: str, language: str | None = None) -> Analyzed:
    """The language and the search terms of a document (a post, a bio). `language` skips detection."""
    text = unicodedata.normalize("NFC", text)
    spans = extract_urls(text)
    entities = sorted(extract_entities(text, url_entities(text, spans)), key=lambda entity: entity.start)
    plain = []
    position = 0
    for entity in entities:
        plain.append(text[position : entity.start])
        position = entity.end
    plain.append(text[position:])
    lang = language if language is not None else detect_language(" ".join(plain))
    terms: list[str] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    tag_terms: list[str] = []
    position = 0
    for entity in entities:
        terms.extend(_text_terms(text[position : entity.start], lang))
        position = entity.end
        if entity.kind == "hashtag":
            tag = fold_case(entity.value)
            # The tag's words stand where it stands; its own term comes after the text, so that it does not part
            # the words around it ("regionali a bologna" finds "regionali a #Bologna").
            terms.extend(_text_terms(" ".join(_CAMEL.findall(entity.value)) or entity.value, lang))
            tag_terms.append("#" + tag)
            if tag not in hashtags:
                hashtags.append(tag)
        elif entity.kind in ("mention", "list"):
            handle = entity.value.split("/", 1)[0].lower()
            terms.append("@" + handle)
            if entity.kind == "mention" and handle not in mentions:
                mentions.append(handle)
        elif entity.kind == "url":
            host = url_host(entity.value)
            if host:
                terms.append("url:" + host)
        elif entity.kind == "cashtag":
            terms.append("$" + entity.value.lower())
    terms.extend(_text_terms(text[position:], lang))
    terms.extend(tag_terms)
    return Analyzed(lang, tuple(terms), tuple(hashtags), tuple(mentions))


def query_alternatives(word: str, language: str | None = None) -> tuple[tuple[str, ...], ...]:
    """The ways a query word (or phrase) may appear in a post: its terms under each language its script may be
    (under `language` alone when given), distinct, the unstemmed form among them for Latin and Cyrillic scripts.
    A post matches the word when it holds every term of one alternative (adjacent, for a phrase)."""
    word = unicodedata.normalize("NFC", word).strip()
    if not word:
        return ()
    special = _special_term(word)
    if special is not None:
        return ((special,),)
    if language is not None:
        candidates: Iterable[str] = (language,)
    elif _JAPANESE.search(word) and not _LATIN.search(word) and not _CYRILLIC.search(word):
        candidates = ("ja",)
    elif _CYRILLIC.search(word):
        candidates = ("ru",)
    else:
        candidates = LATIN_LANGUAGES
    found: list[tuple[str, ...]] = []
    single = len(_WORD.findall(word)) == 1 and not _JAPANESE.search(word)
    for lang in (*candidates, ""):
        forms = (word, *inflections(fold_case(word), lang)) if single else (word,)
        for form in forms:
            # Stemmed as this language's, and as it is (a post whose language was taken for another one).
            for terms in (tuple(_text_terms(form, lang)), tuple(_text_terms(form, ""))):
                if terms and terms not in found:
                    found.append(terms)
    return tuple(found)


# Regular inflections of a word by its ending, per language: (ending, [replacements]). A query word is matched in
# the stems of all its forms, because Snowball does not always give two forms of a word one stem (Spanish
# gobierno -> gobiern but gobiernos -> gobi; French cuisiner -> cuisin but cuisinons -> cuisinon).
_INFLECTIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "it": [
        ("are", ("o", "i", "a", "iamo", "ate", "ano", "ato", "ata", "ati", "ando", "ava", "avano", "erà")),
        ("ere", ("o", "i", "e", "iamo", "ete", "ono", "uto", "eva", "evano", "endo", "erà")),
        ("ire", ("o", "i", "e", "iamo", "ite", "ono", "ito", "iva", "ivano", "endo", "isce", "iscono", "irà")),
        ("co", ("chi", "ci", "ca", "che")),
        ("go", ("ghi", "ga", "ghe")),
        ("ca", ("che", "chi")),
        ("ga", ("ghe", "ghi")),
        ("io", ("i",)),
        ("o", ("i", "a", "e")),
        ("a", ("e", "i")),
        ("e", ("i",)),
        ("i", ("o", "e", "a")),
    ],
    "es": [
        ("ar", ("o", "as", "a", "amos", "an", "é", "ó", "aron", "aba", "aban", "ado", "ada", "ando", "ará")),
        ("er", ("o", "es", "e", "emos", "en", "í", "ió", "ieron", "ía", "ían", "ido", "ida", "iendo", "erá")),
        ("ir", ("o", "es", "e", "imos", "en", "í", "ió", "ieron", "ía", "ían", "ido", "ida", "iendo", "irá")),
        ("ción", ("ciones",)),
        ("sión", ("siones",)),
        ("z", ("ces",)),
        ("o", ("os", "a", "as")),
        ("a", ("as",)),
        ("e", ("es",)),
        ("", ("s", "es")),
    ],
    "pt": [
        ("ar", ("o", "as", "a", "amos", "am", "ei", "ou", "aram", "ava", "avam", "ado", "ada", "ando")),
        ("er", ("o", "es", "e", "emos", "em", "i", "eu", "eram", "ia", "iam", "ido", "ida", "endo")),
        ("ir", ("o", "es", "e", "imos", "em", "i", "iu", "iram", "ia", "iam", "ido", "ida", "indo")),
        ("ão", ("ões", "ães", "ãos")),
        ("al", ("ais",)),
        ("el", ("éis",)),
        ("m", ("ns",)),
        ("", ("s", "es")),
    ],
    "fr": [
        ("ger", ("ge", "ges", "geons", "gez", "gent", "gé", "gée", "gés", "geait", "geaient", "geant", "gera")),
        ("cer", ("ce", "ces", "çons", "cez", "cent", "cé", "cée", "cés", "çait", "çaient", "çant", "cera")),
        ("er", ("e", "es", "ons", "ez", "ent", "é", "ée", "és", "ées", "ait", "aient", "ant", "era", "eront")),
        ("ir", ("is", "it", "issons", "issez", "issent", "i", "ie", "issait", "issant")),
        ("re", ("s", "ons", "ez", "ent", "u", "ue", "ait", "ant")),
        ("al", ("aux",)),
        ("eau", ("eaux",)),
        ("", ("s", "x", "e", "es")),
    ],
    "en": [
        ("y", ("ies", "ied")),
        ("e", ("es", "ed", "ing")),
        ("", ("s", "es", "ed", "ing")),
    ],
    "de": [
        ("en", ("e", "st", "t", "et", "te", "ten", "test")),
        ("", ("e", "en", "n", "er", "s", "es")),
    ],
}


def inflections(word: str, language: str) -> tuple[str, ...]:
    """Regular inflected forms of a (lower-cased) word in `language`, by its ending; () for other languages."""
    forms: list[str] = []
    for ending, replacements in _INFLECTIONS.get(language, ()):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            base = word[: len(word) - len(ending)]
            forms.extend(base + replacement for replacement in replacements)
            if ending:
                break
    return tuple(forms)


def analyze_query_word(word: str, language: str | None = None) -> tuple[str, ...]:
    """The terms of a query word in one language (`language`, else the first alternative)."""
    alternatives = query_alternatives(word, language)
    return alternatives[0] if alternatives else ()


def matches(alternatives: tuple[tuple[str, ...], ...], terms: Iterable[str], phrase: bool = False) -> bool:
    """Whether a text with these terms (from `analyze(...).terms`) holds one of the alternatives: every term of it,
    adjacent and in order when `phrase`. What a mute word uses to hide every form of the word."""
    sequence = list(terms)
    present = set(sequence)
    for option in alternatives:
        if not phrase or len(option) == 1:
            if all(term in present for term in option):
                return True
        else:
            width = len(option)
            if any(tuple(sequence[i : i + width]) == option for i in range(len(sequence) - width + 1)):
                return True
    return False


def detect_language(text: str) -> str:
    """One of LANGUAGES: the script decides for Japanese (kana) and Russian (Cyrillic), py3langid among the Latin
    ones; a short or unsure Latin text is FALLBACK_LANGUAGE. "" when the text has no letters."""
    letters = sum(1 for char in text if char.isalpha())
    if not letters:
        return ""
    japanese = sum(len(run) for run in _JAPANESE.findall(text))
    if japanese * 2 >= letters:
        return "ja"
    cyrillic = len(_CYRILLIC.findall(text))
    if cyrillic * 2 >= letters:
        return "ru"
    if letters < MIN_DETECT_LETTERS:
        return FALLBACK_LANGUAGE
    language, probability = _identifier().classify(text)
    if language not in LATIN_LANGUAGES or probability < MIN_CONFIDENCE:
        return FALLBACK_LANGUAGE
    return language


def fold_case(text: str) -> str:
    """NFKC and case-folded (ß stays as the stemmer wants it: lower() not casefold())."""
    return unicodedata.normalize("NFKC", text).lower()


def url_host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    host = re.split(r"[/?#:]", rest, maxsplit=1)[0].lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def prefix_words(text: str) -> tuple[str, ...]:
    """Lower-cased, NFKC, diacritics-folded words of a name, for typeahead by prefix."""
    return tuple(_fold_marks(word) for word in _WORD.findall(fold_case(text)))


def _special_term(word: str) -> str | None:
    if word[0] in "#＃" and len(word) > 1:
        return "#" + fold_case(word[1:])
    if word[0] in "@＠" and len(word) > 1:
        return "@" + word[1:].lower()
    if word.lower().startswith("url:"):
        return "url:" + url_host(word[4:])
    return None


def _text_terms(text: str, language: str) -> Iterator[str]:
    """Terms of text without entities: Japanese runs through Sudachi, other words through the stemmer."""
    text = fold_case(text)
    position = 0
    for run in _JAPANESE.finditer(text):
        yield from _word_terms(text[position : run.start()], language)
        yield from _japanese_terms(run.group())
        position = run.end()
    yield from _word_terms(text[position:], language)


def _word_terms(text: str, language: str) -> Iterator[str]:
    words = _WORD.findall(text)
    if not words:
        return
    stemmer = _stemmer(language)
    stemmed = stemmer.stemWords(words) if stemmer is not None else words
    for word, stem in zip(words, stemmed, strict=True):
        if _CYRILLIC.search(word):
            # The Russian stemmer on other languages' words leaves them alone, and the other way round.
            yield stem.replace("ё", "е")
        else:
            yield _fold_marks(stem)


def _japanese_terms(run: str) -> Iterator[str]:
    for morpheme in _sudachi().tokenize(run):
        if morpheme.part_of_speech()[0] in _JA_DROPPED:
            continue
        term = fold_case(morpheme.normalized_form())
        if term.strip():
            yield term


def _fold_marks(word: str) -> str:
    """é -> e, ç -> c, ø stays: combining marks of a Latin word removed (not in kana, where they are letters)."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


@functools.cache
def _stemmer(language: str):
    name = LANGUAGES.get(language, "")
    if not name:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LATIN_LANGUAGES))
    return identifier


@functools.cache
def _sudachi():
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").tokenizer(mode=SplitMode.A)
