"""Text normalisation that undoes common obfuscation, keeping every token's offsets in the original text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Characters people substitute for letters ("sh1t", "@ss", "$hit", "f!ck"); digits only when a word mixes them in.
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                      "@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "€": "e", "£": "l"})  # fmt: skip
# Look-alike letters from other scripts, folded one character to one character so offsets do not move.
HOMOGLYPHS = str.maketrans("аеорсухіјѕԁɡαοεικντυρß’‘", "aeopcyxijsdgaoeikvtups''")
_SYMBOL = r"@$*!|+#€£"
_PIECE = re.compile(rf"(?:[^\W_]|[{_SYMBOL}])+(?:['.\-](?:[^\W_]|[{_SYMBOL}])+)*")
_REPEAT3 = re.compile(r"(.)\1{2,}")
_REPEAT2 = re.compile(r"(.)\1+")
_STARS = re.compile(r"\*+")
_TRAILING_DIGITS = re.compile(r"[a-z]+\d+")
_SENTENCE_END = re.compile(r"[.!?;:\n]")
_QUOTES = "\"'“”«»`"


@dataclass(frozen=True, slots=True)
class Token:
    """One normalised word and the characters of the original text it came from."""

    text: str
    start: int
    end: int
    capital: bool = False  # the original began with an upper-case letter (a hint for names of groups)
    sentence: int = 0  # index of the sentence the word is in


def fold(text: str) -> str:
    """Lower-case, strip accents and fold look-alike letters, one character for one so offsets stay put."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters (İ) lower-case to two; fall back to one by one
        lowered = "".join(c.lower()[0] for c in text)
    if lowered.isascii():
        return lowered
    return "".join(_fold_char(c) for c in lowered.translate(HOMOGLYPHS))


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char.isascii():
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Normaliser:
    """Splits text into normalised tokens; `known` words decide between candidate readings of an obfuscated word."""

    def __init__(self, *, known: Iterable[str], keywords: Iterable[str]) -> None:
        self.keywords = frozenset(keywords)  # words obfuscation is aimed at: profanity, slurs, groups, violence
        self.known = frozenset(known) | self.keywords
        # Words one edit away from a keyword, for misspellings ("womn", "muslmis"); an ambiguous edit maps to none.
        fixes: dict[str, list[str]] = {}
        for word in sorted(self.keywords):
            if len(word) < 4 or " " in word:
                continue
            for variant in _deletes(word):
                fixes.setdefault(variant, []).append(word)
        self._fixes = fixes
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(self.keywords):
            self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str] = {}

    # -- one word ------------------------------------------------------------------------------------------
    def word(self, raw: str) -> str:
        """The normalised reading of one folded word (cached: the vocabulary of comments is small)."""
        hit = self._cache.get(raw)
        if hit is None:
            hit = self._word(raw)
            if len(self._cache) < 200_000:
                self._cache[raw] = hit
        return hit

    def _word(self, raw: str) -> str:
        word = raw.replace("'", "")
        if not any(c.isalpha() for c in word):
            if any(c.isdigit() for c in word):
                return "<num>"
            return "".join(c for c in word.translate(LEET) if c.isalpha()) if len(word) > 2 else ""
        if word.startswith("@") and len(word) > 1:
            leet = self._squeeze("".join(c for c in word.translate(LEET) if c.isalpha()))
            return leet if leet in self.keywords else "@user"
        if word.isalpha():
            return self._spelling(self._squeeze(word))
        if "*" in word:
            return self._unmask(word)
        digits = sum(c.isdigit() for c in word)
        letters = sum(c.isalpha() for c in word)
        if digits and digits >= letters and self._squeeze(word.translate(LEET)) not in self.keywords:
            return word  # "4th", "mp3", "covid19": a number with letters, not leetspeak
        mapped = "".join(c for c in word.translate(LEET) if c.isalnum())
        if _TRAILING_DIGITS.fullmatch(word) and self._squeeze(mapped) not in self.keywords:
            return word  # "mp3", "covid19", "g20": a name with a number, not leetspeak
        return self._spelling(self._squeeze(mapped))

    def _squeeze(self, word: str) -> str:
        """Shorten runs of a repeated letter: to two if that is a known word, else to one ("fuuuck", "looove")."""
        if not _REPEAT3.search(word) and word in self.known:
            return word
        two = _REPEAT3.sub(r"\1\1", word)
        if two in self.known:
            return two
        one = _REPEAT2.sub(r"\1", word)
        if one in self.known:
            return one
        return two

    def _unmask(self, word: str) -> str:
        """Read "f*ck", "sh**", "a**hole" as the keyword the stars hide, if exactly one fits."""
        core = word.strip("*")
        if not core:
            return ""
        letters = word.translate(LEET)
        pattern = re.compile(_STARS.sub(lambda m: f"[a-z]{{{len(m.group())}}}", re.escape(letters).replace(r"\*", "*")))
        candidates = [w for w in self._by_length.get(len(letters), []) if pattern.fullmatch(w)]
        if not candidates:  # people rarely count their stars: "f***" for fuck, "f**king"
            loose = re.compile(_STARS.sub("[a-z]{1,4}", re.escape(letters).replace(r"\*", "*")))
            candidates = [w for n, ws in self._by_length.items() if n >= len(core) for w in ws if loose.fullmatch(w)]
        if candidates:
            return min(candidates, key=lambda w: (abs(len(w) - len(letters)), w))
        return "".join(c for c in letters if c.isalpha())

    def _spelling(self, word: str) -> str:
        """Undo one dropped, added, swapped or changed letter in a would-be keyword ("womn", "musilms")."""
        if word in self.known or len(word) < 4:
            return word
        dropped = self._fixes.get(word)  # a letter was dropped: the likeliest slip ("womn" -> woman, women)
        if dropped:
            return dropped[0]
        options = {w for w in _deletes(word) if w in self.keywords}  # a letter was added
        for variant in _deletes(word):  # a letter was changed, or two were swapped
            options.update(w for w in self._fixes.get(variant, ()) if len(w) == len(word))
        return options.pop() if len(options) == 1 else word

    # -- a whole text --------------------------------------------------------------------------------------
    def tokens(self, text: str) -> list[Token]:
        """Normalised tokens of `text` with their [start, end) offsets in `text` itself."""
        folded = fold(text)
        pieces = list(self._pieces(folded))
        pieces = self._join_spaced(folded, pieces)
        pieces = self._join_split(folded, pieces)
        out: list[Token] = []
        sentence = 0
        last_end = 0
        for norm, start, end in pieces:
            if _SENTENCE_END.search(folded, last_end, start):
                sentence += 1
            last_end = end
            for part, p_start, p_end in self._split_glued(norm, start, end):
                out.append(Token(part, p_start, p_end, text[p_start].isupper(), sentence))
        return out

    def _pieces(self, folded: str) -> Iterable[tuple[str, int, int]]:
        for match in _PIECE.finditer(folded):
            start, end = match.span()
            chunk = match.group()
            # trim symbols that are punctuation here, not letters ("idiot!!!", "#tag", "|note|")
            while start < end and folded[start] in "!|+#*":
                start += 1
            while end > start and (
                folded[end - 1] in "!|+#" or (folded[end - 1] == "*" and not _masks(folded[start:end]))
            ):
                end -= 1
            if start >= end:
                continue
            chunk = folded[start:end]
            if "." in chunk or "-" in chunk:
                parts = [(m.group(), start + m.start(), start + m.end()) for m in re.finditer(r"[^.\-]+", chunk)]
                if len(parts) > 1 and all(len(p[0]) == 1 for p in parts):  # "f.u.c.k", "u.s."
                    norm = self.word("".join(p[0] for p in parts))
                    if norm:
                        yield norm, start, end
                    continue
                for part, p_start, p_end in parts:
                    norm = self.word(part)
                    if norm:
                        yield norm, p_start, p_end
                continue
            norm = self.word(chunk)
            if norm:
                yield norm, start, end

    def _join_spaced(self, folded: str, pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Join s p a c e d letters: three or more one-letter words in a row, at most two spaces apart."""
        out: list[tuple[str, int, int]] = []
        i = 0
        while i < len(pieces):
            j = i
            while (
                j + 1 < len(pieces)
                and len(pieces[j][0]) == 1
                and len(pieces[j + 1][0]) == 1
                and pieces[j + 1][1] - pieces[j][2] <= 2
                and folded[pieces[j][2] : pieces[j + 1][1]].isspace()
            ):
                j += 1
            if j - i >= 2:
                joined = self.word("".join(p[0] for p in pieces[i : j + 1]))
                out.append((joined, pieces[i][1], pieces[j][2]))
                i = j + 1
            else:
                out.append(pieces[i])
                i += 1
        return out

    def _join_split(self, folded: str, pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Join a keyword split by a space ("mus lims", "wo men") when a half is not a word of its own."""
        out: list[tuple[str, int, int]] = []
        i = 0
        while i < len(pieces):
            if i + 1 < len(pieces) and folded[pieces[i][2] : pieces[i + 1][1]] == " ":
                a, b = pieces[i][0], pieces[i + 1][0]
                joined = a + b
                if joined in self.keywords and (a not in self.known or b not in self.known):
                    out.append((joined, pieces[i][1], pieces[i + 1][2]))
                    i += 2
                    continue
            out.append(pieces[i])
            i += 1
        return out

    def _split_glued(self, norm: str, start: int, end: int) -> list[tuple[str, int, int]]:
        """Split two words run together ("womenare", "ihate") when one of them is a keyword."""
        if len(norm) < 5 or norm in self.known or not norm.isalpha():
            return [(norm, start, end)]
        best: tuple[int, int] | None = None
        for cut in range(1, len(norm)):
            a, b = norm[:cut], norm[cut:]
            if a in self.known and b in self.known and (a in self.keywords or b in self.keywords):
                if min(len(a), len(b)) == 1 and not ({a, b} & {"i", "a"}):
                    continue
                score = len(a) ** 2 + len(b) ** 2
                if best is None or score > best[0]:
                    best = (score, cut)
        if best is None:
            return [(norm, start, end)]
        cut = best[1]
        middle = start + cut if end - start == len(norm) else start  # offsets are exact only without squeezing
        return [(norm[:cut], start, middle if middle > start else end), (norm[cut:], middle, end)]


def _masks(chunk: str) -> bool:
    """Whether the stars in `chunk` hide letters ("f**k") rather than decorate it ("*sigh*")."""
    return any(c.isalpha() for c in chunk) and not chunk.startswith("*")


def quoted_regions(text: str) -> list[tuple[int, int]]:
    """[start, end) of text between a pair of quotation marks (straight or typographic)."""
    regions: list[tuple[int, int]] = []
    for match in re.finditer(r"[\"“”«»]([^\"“”«»\n]{1,300})[\"“”«»]", text):
        regions.append(match.span(1))
    for match in re.finditer(r"(?:^|(?<=[\s(]))['‘]([^'‘’\n]{2,200})['’](?=$|[\s.,;:!?)])", text):
        regions.append(match.span(1))
    return regions


def char_ngrams(word: str, low: int = 3, high: int = 5) -> list[str]:
    """Character n-grams of a word padded with spaces ("char_wb" style)."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(low, high + 1):
        if n > len(padded):
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


QUOTES = _QUOTES
