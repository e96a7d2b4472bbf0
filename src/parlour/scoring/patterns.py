"""Lexicon and pattern features: dehumanisation, incitement, threats, and the cues that a phrase is quoted or condemned.

Each feature names the tokens that triggered it, so its weight can be shown as a span. The logistic regression
learns how much each one counts, from the hand-written templates in `data/` and the corpora.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from parlour.scoring.features import Token, quoted_regions

LEXICON_FILE = "lexicons.json"

# Every pattern feature, in a fixed order (the order is part of the trained artifact).
PATTERNS: tuple[str, ...] = (
    "lex:profanity",
    "lex:slur",
    "lex:insult",
    "lex:dehum_word",
    "lex:violence",
    "lex:identity",
    "lex:negative",
    "pat:dehum_group",
    "pat:dehum_other",
    "pat:dehum_demonstrative",
    "pat:ident_neg",
    "pat:hate_group",
    "pat:incite",
    "pat:incite_group",
    "pat:threat",
    "pat:threat_you",
    "pat:you_insult",
    "x:dehum*mention",
    "x:dehum*negated",
    "x:dehum*condemn",
    "x:ident_neg*mention",
    "x:ident_neg*negated",
    "x:hate*negated",
    "x:incite*report",
    "x:incite*mention",
    "x:incite*negated",
    "x:threat*mention",
    "x:slur*mention",
    "x:slur*condemn",
    "x:identity_plain",
    "pat:group_ref_negative",
    "pat:negated_regard",
)
PATTERN_INDEX = {name: i for i, name in enumerate(PATTERNS)}

_NOT_BASE = {"dead", "death", "shot", "hung", "burnt", "die", "hurt", "skin", "gut", "bury"}
_SECOND_PERSON = {"you", "u", "ya", "your", "youre", "yours", "yourself", "ur"}
_YOU_ARE = {"you", "u", "ya", "youre", "ur"}


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(text.lower().replace("'", "").replace("’", "").split())


@dataclass(frozen=True)
class Lexicons:
    words: dict[str, frozenset[str]]
    phrases: dict[str, dict[str, tuple[tuple[str, ...], ...]]]  # lexicon -> first word -> phrases

    @classmethod
    def load(cls) -> Lexicons:
        """The lexicons shipped in the package."""
        raw = json.loads(resources.files("parlour.scoring").joinpath("data", LEXICON_FILE).read_text("utf-8"))
        return cls.from_json(raw)

    @classmethod
    def from_json(cls, raw: dict[str, list[str]]) -> Lexicons:
        words: dict[str, frozenset[str]] = {}
        phrases: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {}
        for name, entries in raw.items():
            if name.startswith("_"):
                continue
            split = [_phrase(e) for e in entries]
            words[name] = frozenset(p[0] for p in split if len(p) == 1)
            by_first: dict[str, set[tuple[str, ...]]] = {}
            for p in split:
                if len(p) > 1:
                    by_first.setdefault(p[0], set()).add(p)
            phrases[name] = {first: tuple(sorted(ps)) for first, ps in by_first.items()}
        return cls(words, phrases)

    def keywords(self) -> frozenset[str]:
        """Words that obfuscation aims at: worth undoing a misspelling to reach."""
        names = ("profanity", "slurs", "dehumanising", "violence_verbs", "identity_terms", "insults", "hate_verbs")
        out: set[str] = set()
        for name in names:
            out |= self.words[name]
            for group in self.phrases[name].values():
                for phrase in group:
                    out.update(w for w in phrase if len(w) > 3)
        return frozenset(out)

    def group_like(self, token: Token, known: frozenset[str]) -> bool:
        """A word that names a group of people: a known identity term, or an unknown capitalised plural."""
        word = token.text
        if word in self.words["identity_terms"]:
            return True
        return token.capital and word.endswith(("s", "ese")) and len(word) > 3 and word not in known

    def find_phrases(self, words: Sequence[str], name: str) -> list[tuple[int, int]]:
        """[start, end) token ranges where a multi-word entry of lexicon `name` occurs."""
        hits = []
        index = self.phrases[name]
        for i, word in enumerate(words):
            for phrase in index.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    hits.append((i, i + len(phrase)))
        return hits


def pattern_features(tokens: Sequence[Token], text: str, lex: Lexicons, known: frozenset[str]) -> dict[str, set[int]]:
    """Which pattern features fire, each with the indices of the tokens that triggered it."""
    words = [t.text for t in tokens]
    w = lex.words
    found: dict[str, set[int]] = {}

    def add(name: str, *indices: int) -> None:
        found.setdefault(name, set()).update(indices)

    group = [lex.group_like(t, known) for t in tokens]
    pronoun = [x in w["group_pronouns"] for x in words]
    for i, word in enumerate(words):
        if word in w["profanity"]:
            add("lex:profanity", i)
        if word in w["slurs"]:
            add("lex:slur", i)
        if word in w["insults"]:
            add("lex:insult", i)
        if word in w["dehumanising"]:
            add("lex:dehum_word", i)
        if word in w["violence_verbs"]:
            add("lex:violence", i)
        if word in w["identity_terms"]:
            add("lex:identity", i)
        if word in w["negative_predicates"] or word in w["hate_verbs"]:
            add("lex:negative", i)

    def same_sentence(i: int, j: int) -> bool:
        return 0 <= i < len(tokens) and 0 <= j < len(tokens) and tokens[i].sentence == tokens[j].sentence

    def negated(i: int, reach: int = 4) -> bool:
        return any(words[k] in w["negations"] for k in range(max(0, i - reach), i) if same_sentence(k, i))

    # Dehumanisation: "<group> are (nothing but) <vermin>", "<group> vermin", "vermin like <group>", "these rats".
    for j, word in enumerate(words):
        if word not in w["dehumanising"]:
            continue
        k = j - 1
        while k >= 0 and j - k <= 5 and words[k] in w["dehum_intensifiers"] and same_sentence(k, j):
            k -= 1
        subject: int | None = None
        if k >= 0 and words[k] in w["copulas"] and same_sentence(k, j):
            s = k - 1
            if s >= 0 and words[s] in {"all", "just", "really", "truly", "still", "simply"}:
                s -= 1
            if same_sentence(s, j):
                subject = s
        elif k >= 0 and group[k] and same_sentence(k, j) and k == j - 1:
            subject = k
        elif j + 2 < len(words) and words[j + 1] in {"like", "called"} and (group[j + 2] or words[j + 2] == "the"):
            subject = j + 2 if group[j + 2] else min(j + 3, len(words) - 1)
        if subject is not None and (group[subject] or pronoun[subject]):
            add("pat:dehum_group", j, subject)
        elif subject is not None:
            add("pat:dehum_other", j)
        elif j > 0 and words[j - 1] in {"these", "those", "such", "filthy", "dirty"}:
            add("pat:dehum_demonstrative", j)

    # Identity term near negative words (same sentence, within six words).
    negative = w["negative_predicates"] | w["insults"] | w["slurs"] | w["dehumanising"] | w["profanity"]
    for i in range(len(words)):
        if not group[i]:
            continue
        for j in range(max(0, i - 6), min(len(words), i + 7)):
            if j != i and words[j] in negative and same_sentence(i, j):
                add("pat:ident_neg", i, j)
                if negated(j, 6) or negated(i, 3):
                    add("x:ident_neg*negated", j)

    # A group named earlier, then attacked through a pronoun: "I met some <group>. They are all vile." The
    # same-sentence check above cannot see across sentences, and "they" alone says nothing about a group.
    first_group = next((i for i in range(len(words)) if group[i]), None)
    if first_group is not None:
        for j in range(first_group + 1, len(words)):
            if words[j] not in negative and words[j] not in w["violence_verbs"]:
                continue
            for k in range(max(first_group + 1, j - 4), j):
                # "all" is listed as a pronoun for "kill them all"; in "they are all vile" it is not the subject.
                if pronoun[k] and words[k] != "all" and same_sentence(k, j):
                    add("pat:group_ref_negative", k, j)
                    break

    # Regard denied to a group: "<group> can never be trusted", "I will never respect a <group>".
    for i in range(len(words)):
        if words[i] not in w["positive_regard"]:
            continue
        if negated(i, 4) and any(group[j] for j in range(max(0, i - 6), min(len(words), i + 4)) if same_sentence(i, j)):
            add("pat:negated_regard", i)

    # "I hate <group>", "can't stand <group>".
    for i, word in enumerate(words):
        if word in w["hate_verbs"]:
            for j in range(i + 1, min(len(words), i + 5)):
                if group[j] and same_sentence(i, j):
                    add("pat:hate_group", i, j)
                    if negated(i, 3):
                        add("x:hate*negated", i)
                    break
    for start, end in lex.find_phrases(words, "hate_verbs"):
        for j in range(end, min(len(words), end + 4)):
            if group[j]:
                add("pat:hate_group", *range(start, end), j)
                break

    # Incitement: imperatives and calls to violence ("continue the slaughter", "round them up", "should be shot").
    incite: set[int] = set()
    for start, end in lex.find_phrases(words, "incitement_phrases"):
        incite.update(range(start, end))
    for i, word in enumerate(words):
        base_verb = word in w["violence_verbs"] and word not in _NOT_BASE and not word.endswith(("ing", "ed"))
        sentence_start = i == 0 or tokens[i - 1].sentence != tokens[i].sentence
        cue = any(words[k] in w["incitement_cues"] for k in range(max(0, i - 3), i) if same_sentence(k, i))
        if base_verb and (sentence_start or cue):
            incite.add(i)
        if word in w["violence_nouns"] and i >= 2 and words[i - 2] in {"continue", "resume", "start", "finish", "more"}:
            incite.update((i - 2, i))
    if incite:
        add("pat:incite", *incite)
        for i in sorted(incite):
            obj = range(i + 1, min(len(words), i + 5))
            if any((group[j] or words[j] in {"them", "all", "every", "em", "they"}) for j in obj):
                add("pat:incite_group", i)
            if negated(i, 3):
                add("x:incite*negated", i)

    # Threats: first person and a future or intention, then a violent verb; "I know where you live".
    threat: set[int] = set()
    for start, end in lex.find_phrases(words, "threat_phrases"):
        threat.update(range(start, end))
    for i, word in enumerate(words):
        if word not in w["violence_verbs"]:
            continue
        before = [words[k] for k in range(max(0, i - 4), i) if same_sentence(k, i)]
        if {"i", "ill", "im", "we", "well", "imma"} & set(before) and {"will", "ill", "gonna", "going", "well"} & set(
            before
        ):
            threat.add(i)
    if threat:
        add("pat:threat", *threat)
        if any(words[j] in _SECOND_PERSON for i in threat for j in range(i, min(len(words), i + 4))):
            add("pat:threat_you", *threat)

    # "you (are a|idiot) ..." second person and an insult.
    for i, word in enumerate(words):
        if word in _YOU_ARE:
            for j in range(i + 1, min(len(words), i + 5)):
                if (words[j] in w["insults"] or words[j] in w["profanity"]) and same_sentence(i, j):
                    add("pat:you_insult", i, j)
                    break

    # Use and mention: quoted, introduced by "calling" / "the word", or condemned; violence reported, not urged.
    quotes = quoted_regions(text)
    condemn = {i for i, x in enumerate(words) if x in w["condemnation_cues"]}

    def mentioned(i: int) -> bool:
        token = tokens[i]
        if any(a <= token.start and token.end <= b for a, b in quotes):
            return True
        return any(words[k] in w["mention_cues"] for k in range(max(0, i - 7), i) if same_sentence(k, i))

    def reported(i: int) -> bool:
        if i + 1 < len(words) and words[i + 1] == "of":
            return True
        return any(words[k] in w["report_cues"] for k in range(max(0, i - 4), min(len(words), i + 3)) if k != i)

    for i in found.get("pat:dehum_group", set()) | found.get("pat:dehum_other", set()):
        if words[i] not in w["dehumanising"]:
            continue
        if mentioned(i):
            add("x:dehum*mention", i)
        if negated(i):
            add("x:dehum*negated", i)
        if condemn:
            add("x:dehum*condemn", *condemn)
    for i in found.get("pat:ident_neg", set()):
        if words[i] in negative and mentioned(i):
            add("x:ident_neg*mention", i)
    for i in incite:
        if reported(i):
            add("x:incite*report", i)
        if mentioned(i):
            add("x:incite*mention", i)
    for i in threat:
        if mentioned(i):
            add("x:threat*mention", i)
    for i in found.get("lex:slur", set()):
        if mentioned(i):
            add("x:slur*mention", i)
        if condemn:
            add("x:slur*condemn", *condemn)
    if "lex:identity" in found and "lex:negative" not in found and not (found.keys() & {"lex:slur", "lex:profanity"}):
        add("x:identity_plain", *found["lex:identity"])
    return found
