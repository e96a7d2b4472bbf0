"""Fold text for word rules, undoing case, accents, look-alikes and common obfuscation, with offsets kept.

The result is a stream of units, one per run of a repeated letter, each knowing the characters of the
original text it came from, so a match in the stream maps back to an exact span of what the reader wrote.
Rules are folded by the same code, so whatever the folding does it does to both sides alike.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]  # ships no type hints

# Digits and symbols read as letters, but only in a word that has a letter: "sh1t", "@ss" and "$hit", not "455".
LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
# "1" and "|" stand for i ("sh1t") or l ("he11"): a text holding one is read both ways.
AMBIGUOUS = frozenset("1|")
SYMBOLS = frozenset("@$!|")
JOINERS = frozenset(".-_'")  # inside a word they split it into parts ("well-known") or hide it ("f.u.c.k")
MASK = "*"  # stands for a hidden letter ("f*ck") or separates letters ("f*u*c*k")
_LEAD_TRIM = JOINERS | {"!", "|", MASK}  # punctuation before a word ("'quote", "**bold")
_TAIL_TRIM = JOINERS | {"!", "|"}  # after it ("idiot!!!"); trailing stars stay, they mask letters ("f***")
SPACED_MIN = 3  # "f u c k": at least this many one-letter words in a row are read as one word
SPACED_GAP = 3  # ... with at most this many characters between each ("f . u . c . k")
# Punctuation that NFKC leaves alone but people type for an apostrophe or a hyphen inside a word.
_PUNCTUATION = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"}
# Latin letters with no decomposition to strip.
_LATIN = {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h", "ŀ": "l"}
# Look-alikes that Unicode's confusables data maps to small capitals rather than to the plain letter.
_LOOKALIKES = {"κ": "k", "к": "k", "τ": "t", "т": "t", "м": "m", "ε": "e", "ɡ": "g", "в": "b", "н": "h", "ь": "b"}


_Token = tuple[list[list[int]], bool]  # a word's parts (indices into the folded characters); spaced letters?


@dataclass(slots=True)
class Folded:
    """A folded text: one character per unit in `text`, with each unit's run length and original span."""

    text: str = ""  # units; one space between words
    runs: list[int] = field(default_factory=list)  # how many times the unit's letter was repeated
    starts: list[int] = field(default_factory=list)  # span of the unit in the original text
    ends: list[int] = field(default_factory=list)
    word_start: bytearray = field(default_factory=bytearray)  # a word, or a part of one, begins at this unit
    word_end: bytearray = field(default_factory=bytearray)  # ... ends at this unit
    part_end: list[int] = field(default_factory=list)  # the last unit of the part this unit is in
    masked: list[tuple[str, int, int]] = field(default_factory=list)  # words with stars: ("f**k", start, end)
    ambiguous: bool = False  # a word holds "1" or "|": read it again with the other letter

    def unfolded(self) -> str:
        """The folded text with repeated letters written out again."""
        return "".join(char * run for char, run in zip(self.text, self.runs, strict=True))


class _Builder(Folded):
    """A Folded being built: units gathered in a list, joined once at the end."""

    __slots__ = ("units",)

    def __init__(self) -> None:
        super().__init__()
        self.units: list[str] = []

    def append(self, char: str, origin: int) -> None:
        self.units.append(char)
        self.runs.append(1)
        self.starts.append(origin)
        self.ends.append(origin + 1)
        self.word_start.append(0)
        self.word_end.append(0)

    def finish(self) -> Folded:
        return Folded(
            "".join(self.units), self.runs, self.starts, self.ends, self.word_start, self.word_end,
            self.part_end, self.masked, self.ambiguous,
        )  # fmt: skip


def fold(text: str) -> str:
    """The canonical folded form: lower-case ASCII-like letters, words split by single spaces."""
    return fold_units(text).unfolded()


def squeeze(text: str) -> str:
    """Collapse every run of a repeated character to one ("fuuuck" -> "fuck", "good" -> "god")."""
    return "".join(c for i, c in enumerate(text) if i == 0 or text[i - 1] != c)


def fold_units(text: str, *, ambiguous_as: str = "i") -> Folded:
    """Fold `text` into units; "1" and "|" inside words read as `ambiguous_as` (i or l)."""
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        for folded in _fold_char(char):
            chars.append(folded)
            origins.append(index)
    out = _Builder()
    for token in _join_spaced(chars, origins, _tokens(chars)):
        _emit_token(out, token, chars, origins, ambiguous_as)
    return out.finish()


@lru_cache(maxsize=16384)
def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return ""  # combining marks, zero-width and other invisible characters: as if absent
    out: list[str] = []
    for c in unicodedata.normalize("NFKC", char):
        for lower in _homoglyph(c).casefold():  # upper case first: "В" looks like B, "в" not like b
            for d in unicodedata.normalize("NFKD", _homoglyph(lower)):
                if not unicodedata.combining(d):
                    out.append(_PUNCTUATION.get(d) or _LATIN.get(d) or d)
    return "".join(out)


def _homoglyph(char: str) -> str:
    if char.isascii() or not char.isalpha():
        return char
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"])
    for entry in found or ():
        for glyph in entry["homoglyphs"]:
            candidate: str = glyph["c"]
            if candidate.isascii() and candidate.isalpha():
                return candidate
    return char


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in SYMBOLS or char in JOINERS or char == MASK


def _tokens(chars: list[str]) -> list[tuple[int, int]]:
    """Maximal runs of word characters, trimmed of punctuation at their edges, as [start, end) of `chars`."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(chars)
    while i < n:
        if not _is_word_char(chars[i]):
            i += 1
            continue
        start = i
        while i < n and _is_word_char(chars[i]):
            i += 1
        a, b = start, i
        while a < b and chars[a] in _LEAD_TRIM:
            a += 1
        while b > a and chars[b - 1] in _TAIL_TRIM:
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def _join_spaced(chars: list[str], origins: list[int], tokens: list[tuple[int, int]]) -> list[_Token]:
    """Each token as its parts; a run of s p a c e d letters becomes one token."""
    out: list[_Token] = []
    run: list[tuple[int, int]] = []  # the one-letter tokens of the spaced run being collected

    def flush() -> None:
        if len(run) >= SPACED_MIN:
            out.append(([[i for a, b in run for i in range(a, b)]], True))
        else:
            out.extend(_parts(chars, origins, token) for token in run)
        run.clear()

    for token in tokens:
        a, b = token
        single = chars[a] != MASK and origins[a] == origins[b - 1]  # one character of the original
        if run and (not single or origins[a] - origins[run[-1][1] - 1] - 1 > SPACED_GAP):
            flush()
        if single:
            run.append(token)
        else:
            out.append(_parts(chars, origins, token))
    flush()
    return out


def _parts(chars: list[str], origins: list[int], token: tuple[int, int]) -> _Token:
    parts: list[list[int]] = [[]]
    for i in range(*token):
        if chars[i] in JOINERS:
            if parts[-1]:
                parts.append([])
        else:
            parts[-1].append(i)
    parts = [p for p in parts if p]
    if len(parts) >= SPACED_MIN and all(origins[p[0]] == origins[p[-1]] for p in parts):
        return [[i for p in parts for i in p]], True  # "f.u.c.k": one letter per part is spaced letters
    return parts, False


def _emit_token(out: _Builder, token: _Token, chars: list[str], origins: list[int], one: str) -> None:
    parts, spaced = token
    mapped_parts = [_read_part(out, [chars[i] for i in part], one) for part in parts]
    if any(MASK in m for m in mapped_parts) and any(c.isalpha() for m in mapped_parts for c in m):
        start, end = origins[parts[0][0]], origins[parts[-1][-1]] + 1
        out.masked.append(("".join("".join(m) for m in mapped_parts), start, end))
    if all(c == MASK for m in mapped_parts for c in m):
        return
    if out.units:
        out.append(" ", origins[parts[0][0]])  # one space between words, whatever separated them
        out.part_end.append(len(out.units) - 1)
    for part, mapped in zip(parts, mapped_parts, strict=True):
        begin = len(out.units)
        previous = ""
        for i, char in zip(part, mapped, strict=True):
            if char == MASK:
                continue
            if char == previous:
                out.runs[-1] += 1
                out.ends[-1] = origins[i] + 1
                continue
            previous = char
            out.append(char, origins[i])
            if spaced:  # "f u c k y o u": where the words divide is lost, so a word may begin or end anywhere
                out.word_start[-1] = out.word_end[-1] = 1
        if len(out.units) > begin:
            out.word_start[begin] = 1
            out.word_end[-1] = 1
            out.part_end.extend([len(out.units) - 1] * (len(out.units) - begin))


def _read_part(out: _Builder, part: list[str], one: str) -> list[str]:
    if not any(c.isalpha() for c in part):
        return part  # "455", "$100": a number, not leetspeak
    if any(c in AMBIGUOUS for c in part):
        out.ambiguous = True
    return [one if c in AMBIGUOUS else LEET.get(c, c) for c in part]


def _search_table() -> dict[int, int | None]:
    """One character for one (or none), so that SQL's translate() can apply the same table on PostgreSQL."""
    table: dict[int, int | None] = {ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    for code in range(0x00C0, 0x0530):  # Latin-1 letters, Latin Extended-A and -B, IPA, Greek, Cyrillic
        char = chr(code)
        if unicodedata.combining(char):
            table[code] = None  # a combining accent typed apart ("nai\u0308ve"): as if absent
            continue
        base = "".join(d for d in unicodedata.normalize("NFKD", char) if not unicodedata.combining(d)).lower()
        base = _LATIN.get(base, base)
        if len(base) != 1:  # "Æ": no one-letter base; its lower case at least
            base = char.lower()
        if len(base) == 1 and base != char:
            table[code] = ord(base)
    return table


SEARCH_TABLE = _search_table()


def fold_for_search(text: str) -> str:
    """Case and accents folded, one character for one: "NAÏVE" -> "naive". Unlike fold(), no words are read."""
    return text.translate(SEARCH_TABLE)
