"""A site's banned and suspect words found in a comment in linear time; link counts and duplicate fingerprints.

Both the rules and the comment go through `folding.fold_units`, and one Aho-Corasick automaton (the Rust
`aho-corasick` crate through `ahocorasick_rs`) finds every rule in the folded comment in one pass: the rules
never run a regular expression on what a reader wrote. A match counts when it begins and ends on a word boundary and its
repeated letters fit the rule's (see `_runs_fit`); its span is mapped back to the original text.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ahocorasick_rs import AhoCorasick
from linkify_it import LinkifyIt

from parlour.moderation.folding import MASK, Folded, fold_units, squeeze

ListName = Literal["banned", "suspect"]
_MaskIndex = dict[tuple[int, str, str], list[tuple[str, int]]]
MASK_CHOICES = 3  # at most this many rules may fit a starred word ("f***": fuck, feck, fart)
MASK_MIN, MASK_MAX = 3, 24  # one-word rules this long are found with letters starred out ("f**k", "a**hole")
CACHE_SIZE = 64  # compiled rule sets kept, one per site in practice
STRETCH = 3  # a letter typed this many times or more is stretched on purpose ("fuuuck"), not a double letter


@dataclass(frozen=True, slots=True)
class WordMatch:
    """One rule found in a text: the rule as written, its list, and the [start, end) span in the original."""

    rule: str
    kind: ListName
    start: int
    end: int

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


@dataclass(frozen=True, slots=True)
class _Rule:
    word: str
    kind: ListName
    runs: tuple[int, ...]  # run length of each unit of the folded rule
    prefix: bool  # "word*": matches word, words, wording


class WordRules:
    """Compiled banned and suspect lists; `find` is linear in the length of the text."""

    def __init__(self, rules: list[_Rule], patterns: list[str], by_pattern: list[list[int]]) -> None:
        self._rules = rules
        self._by_pattern = by_pattern
        self._automaton = AhoCorasick(patterns) if patterns else None
        self._masked = _mask_index(rules, patterns, by_pattern)

    @classmethod
    def compile(cls, banned: Sequence[str], suspect: Sequence[str]) -> WordRules:
        """Fold every rule once; a rule in both lists, or folding like an earlier one, counts once (banned first)."""
        rules: list[_Rule] = []
        patterns: list[str] = []
        by_pattern: list[list[int]] = []
        index: dict[str, int] = {}
        seen: set[tuple[str, tuple[int, ...], bool]] = set()
        entries: list[tuple[ListName, str]] = [("banned", w) for w in banned] + [("suspect", w) for w in suspect]
        for kind, raw in entries:
            word = raw.strip()
            prefix = word.endswith(MASK)
            folded = fold_units(word.rstrip(MASK))
            key = (folded.text, tuple(folded.runs), prefix)
            if not folded.text or key in seen:
                continue
            seen.add(key)
            if folded.text not in index:
                index[folded.text] = len(patterns)
                patterns.append(folded.text)
                by_pattern.append([])
            by_pattern[index[folded.text]].append(len(rules))
            rules.append(_Rule(word, kind, tuple(folded.runs), prefix))
        return cls(rules, patterns, by_pattern)

    def __len__(self) -> int:
        return len(self._rules)

    def find(self, text: str) -> list[WordMatch]:
        """Every rule in `text`, whole words only, ordered by position; overlapping matches are all reported."""
        if not self._rules:
            return []  # most sites keep no lists: skip folding the text
        found: dict[tuple[int, int, int], None] = {}  # (rule, start, end), in the order found
        folded = fold_units(text)
        self._scan(folded, found)
        if folded.ambiguous:  # "he11", "k1ll": read 1 and | as l too
            self._scan(fold_units(text, ambiguous_as="l"), found)
        matches = [WordMatch(self._rules[r].word, self._rules[r].kind, s, e) for r, s, e in found]
        return sorted(matches, key=lambda m: (m.start, m.end, m.kind, m.rule))

    def _scan(self, folded: Folded, found: dict[tuple[int, int, int], None]) -> None:
        if self._automaton is not None:
            for pattern, start, end in self._automaton.find_matches_as_indexes(folded.text, overlapping=True):
                if not folded.word_start[start]:
                    continue  # most candidates stop here: "ass" inside "class"
                last = end - 1
                for r in self._by_pattern[pattern]:
                    rule = self._rules[r]
                    if rule.prefix:
                        if _runs_fit(rule.runs, folded.runs, start, prefix=True):
                            found[r, folded.starts[start], folded.ends[folded.part_end[last]]] = None
                    elif folded.word_end[last] and _runs_fit(rule.runs, folded.runs, start, prefix=False):
                        found[r, folded.starts[start], folded.ends[last]] = None
        for key, start, end in folded.masked:
            stripped = key.rstrip(MASK)  # "*f**k*" in italics arrives as "f**k*"
            for candidate in (key, stripped) if MASK in stripped and stripped != key else (key,):
                for r in _unmask(self._masked, candidate):
                    found[r, start, end] = None


def _runs_fit(rule: tuple[int, ...], text: list[int], start: int, *, prefix: bool) -> bool:
    """Letters repeated as in the rule, or stretched (3+): "good" and "goooood" fit "good", "god" does not."""
    for k, want in enumerate(rule):
        got = text[start + k]
        if got == want or got >= max(want, STRETCH):
            continue
        if prefix and k == len(rule) - 1 and got > want:
            continue  # "as*" fits "ass": the rest of the run belongs to the suffix
        return False
    return True


def _mask_index(rules: list[_Rule], patterns: list[str], by_pattern: list[list[int]]) -> _MaskIndex:
    """One-word rules by length, first and last letter, and by length and first letter (for "f***")."""
    index: _MaskIndex = {}
    for pattern, rule_ids in zip(patterns, by_pattern, strict=True):
        for r in rule_ids:
            rule = rules[r]
            word = "".join(c * n for c, n in zip(pattern, rule.runs, strict=True))
            if rule.prefix or not MASK_MIN <= len(word) <= MASK_MAX or not word.isalpha():
                continue
            index.setdefault((len(word), word[0], word[-1]), []).append((word, r))
            index.setdefault((len(word), word[0], MASK), []).append((word, r))
    return index


def _unmask(index: _MaskIndex, key: str) -> list[int]:
    """Rules that `key` ("f**k", "sh*t", "f***") could hide: the first letter shown, a star for each other letter."""
    if not MASK_MIN <= len(key) <= MASK_MAX or key[0] == MASK:
        return []
    candidates = index.get((len(key), key[0], key[-1]), ())
    fits = [r for word, r in candidates if all(k in (MASK, w) for k, w in zip(key, word, strict=True))]
    return fits if len(fits) <= MASK_CHOICES else []  # the stars hide too much to tell which word it is


_cache: OrderedDict[str, WordRules] = OrderedDict()
_cache_lock = threading.Lock()


def compiled_rules(banned: Sequence[str], suspect: Sequence[str]) -> WordRules:
    """The compiled rules for these lists, from a small LRU keyed by a hash of the lists."""
    digest = hashlib.sha256()
    for words in (banned, suspect):
        digest.update("\x00".join(words).encode("utf-8", "surrogatepass") + b"\x01")
    key = digest.hexdigest()
    with _cache_lock:
        rules = _cache.get(key)
        if rules is not None:
            _cache.move_to_end(key)
            return rules
    rules = WordRules.compile(banned, suspect)  # outside the lock: two threads may both compile, harmlessly
    with _cache_lock:
        _cache[key] = rules
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return rules


_linkify = LinkifyIt()  # the same detector markdown-it uses when it renders comments, so counts match links


def count_links(markdown_text: str) -> int:
    """Links in a comment: URLs, bare domains (example.com/path) and markdown links; e-mail addresses not."""
    if not _linkify.pretest(markdown_text):
        return 0  # most comments: the quick test costs a quarter of a search that finds nothing
    count = 0
    previous_url, previous_end = "", -1
    for match in _linkify.match(markdown_text) or ():
        if match.schema == "mailto:":
            continue
        # [https://a.example](https://a.example) is one link written twice
        if not (match.url == previous_url and markdown_text[previous_end : match.index] == "]("):
            count += 1
        previous_url, previous_end = match.url, match.last_index
    return count


def fingerprint(text: str) -> str:
    """SHA-256 hex of the folded, squeezed text: "BUY NOW!!!" and "buy   now" give the same fingerprint."""
    folded = squeeze(fold_units(text).unfolded())
    if not folded:  # only emoji or punctuation: keep them apart ("👍" is not "❤️")
        folded = "\x00" + "".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()
