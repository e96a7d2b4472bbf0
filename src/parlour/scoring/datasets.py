"""Loaders for the moderation corpora under shared/data/moderation, and the training examples made from them."""

from __future__ import annotations

import ast
import csv
import html
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from parlour.scoring.thresholds import CATEGORIES

csv.field_size_limit(sys.maxsize)

TYPED_CATEGORIES = {  # typed_posts column -> Parlour category
    "insult": "INSULT",
    "threat": "THREAT",
    "identity_attack": "IDENTITY_ATTACK",
    "obscene": "PROFANITY",
}


def default_data_dir() -> Path | None:
    """shared/data/moderation beside a source checkout of the project, if it is there."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / "shared" / "data" / "moderation"
        if candidate.is_dir():
            return candidate
    return None


def text_key(text: str) -> str:
    """How texts are compared when keeping test cases out of training: lower-case, whitespace collapsed."""
    return " ".join(text.lower().split())


@dataclass
class Example:
    """A training text and its targets: a probability per category; a missing category is unlabelled."""

    text: str
    labels: dict[str, float]
    source: str
    weight: float = 1.0
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class TypedPost:
    comment_id: str
    text: str
    split: str
    fracs: dict[str, float]  # typed_posts category -> fraction of raters
    majority: dict[str, bool]  # typed_posts category -> > 0.5 of raters
    offsets: frozenset[int]  # characters marked by a majority (any category)
    category_spans: dict[str, list[tuple[int, int]]]
    in_semeval: bool


def typed_posts(data: Path) -> list[TypedPost]:
    out = []
    with (data / "toxic_spans" / "typed_posts.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            names = [*TYPED_CATEGORIES, "other_toxicity"]
            out.append(
                TypedPost(
                    comment_id=row["comment_id"],
                    text=row["text"],
                    split=row["split"],
                    fracs={c: float(row[f"{c}_frac"]) for c in names},
                    majority={c: row[c] == "1" for c in names},
                    offsets=frozenset(ast.literal_eval(row["spans"])),
                    category_spans={c: [tuple(s) for s in ast.literal_eval(row[f"{c}_spans"])] for c in names},
                    in_semeval=row["in_semeval2021"] == "1",
                )
            )
    return out


RATER_TYPES = {  # spans.csv type (two rows are truncated) -> typed_posts category
    "insult": "insult",
    "insu": "insult",
    "threat": "threat",
    "identity based attack": "identity_attack",
    "identity based": "identity_attack",
    "profane/obscene": "obscene",
    "other toxicity": "other_toxicity",
}


def rater_spans(data: Path) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """Per comment id and typed_posts category: every [start, end) any rater marked (ACL 2022 raw annotations)."""
    folder = data / "toxic_spans" / "acl2022_raw"
    with (folder / "annotations.csv").open(newline="", encoding="utf-8") as f:
        comment_of = {row["annotation"]: row["comment_id"] for row in csv.DictReader(f)}
    out: dict[str, dict[str, list[tuple[int, int]]]] = {}
    with (folder / "spans.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            category = RATER_TYPES.get(row["type"].strip().lower())
            comment = comment_of.get(row["annotation"])
            if category is None or comment is None:
                continue
            out.setdefault(comment, {}).setdefault(category, []).append((int(row["start"]), int(row["end"])))
    return out


def semeval(data: Path, split: str) -> list[tuple[str, frozenset[int]]]:
    """SemEval-2021 Task 5 posts and their gold toxic character offsets; split is train, trial or test."""
    with (data / "toxic_spans" / "semeval2021" / f"tsd_{split}.csv").open(newline="", encoding="utf-8") as f:
        return [(row["text"], frozenset(ast.literal_eval(row["spans"]))) for row in csv.DictReader(f)]


@dataclass(frozen=True)
class Tweet:
    text: str
    split: str
    label: int  # 0 hate speech, 1 offensive, 2 neither
    hate_frac: float
    offensive_frac: float


_MENTION = re.compile(r"@\w+:?")
_URL = re.compile(r"https?://\S+")


def clean_tweet(text: str) -> str:
    """HTML entities decoded, @mentions, URLs and retweet markers dropped: they carry the source, not toxicity."""
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = re.sub(r"(^|\s)RT(\s|$)", " ", text)
    return " ".join(text.split())


def davidson(data: Path) -> list[Tweet]:
    folder = data / "davidson"
    with (folder / "splits.csv").open(newline="", encoding="utf-8") as f:
        splits = {row["row_id"]: row["split"] for row in csv.DictReader(f)}
    out = []
    with (folder / "labeled_data.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            count = max(1, int(row["count"]))
            out.append(
                Tweet(
                    text=clean_tweet(row["tweet"]),
                    split=splits[row[""]],
                    label=int(row["class"]),
                    hate_frac=int(row["hate_speech"]) / count,
                    offensive_frac=int(row["offensive_language"]) / count,
                )
            )
    return out


@dataclass(frozen=True)
class Case:
    functionality: str
    text: str
    hateful: bool
    target: str


def hatecheck(data: Path) -> list[Case]:
    """HateCheck's test cases. Test only: nothing in training reads this."""
    with (data / "hatecheck" / "test_suite_cases.csv").open(newline="", encoding="utf-8") as f:
        return [
            Case(row["functionality"], row["test_case"].strip(), row["label_gold"] == "hateful", row["target_ident"])
            for row in csv.DictReader(f)
        ]


def held_out_texts(data: Path) -> set[str]:
    """Keys of the test texts of the corpora we train on (typed_posts, SemEval, Davidson), kept out of training.

    HateCheck is not read here: training never opens it; the evaluation reports any overlap with it instead.
    """
    keys = {text_key(p.text) for p in typed_posts(data) if p.split == "test"}
    keys |= {text_key(t) for t, _ in semeval(data, "test")}
    keys |= {text_key(t.text) for t in davidson(data) if t.split == "test"}
    return keys


def severe(post: TypedPost) -> float:
    """Weak SEVERE_TOXICITY target: a majority saw a threat or an identity attack, or both an insult and obscenity."""
    m = post.majority
    if m["threat"] or m["identity_attack"] or (m["insult"] and m["obscene"]):
        return 1.0
    return 0.0


def typed_examples(posts: list[TypedPost], split: str, *, binary: bool) -> list[Example]:
    """typed_posts as examples: every post is toxic; categories from the fraction of raters."""
    out = []
    for post in posts:
        if post.split != split:
            continue
        labels = {"TOXICITY": 1.0, "SEVERE_TOXICITY": severe(post)}
        for column, category in TYPED_CATEGORIES.items():
            frac = post.fracs[column]
            labels[category] = float(frac > 0) if binary else frac
        spans = sorted({s for spans in post.category_spans.values() for s in spans})
        out.append(Example(post.text, labels, "typed_posts", 1.0, spans))
    return out


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def clean_sentences(posts: list[tuple[str, frozenset[int]]], *, banned: frozenset[str]) -> Iterator[str]:
    """Weak negatives: sentences of toxic posts that no rater marked and that hold no lexicon word."""
    for text, offsets in posts:
        if not offsets:
            continue  # raters saw toxicity but could not point at it: the whole post may be toxic
        for match in _SENTENCE.finditer(text):
            start, end = match.span()
            sentence = match.group().strip()
            if len(sentence) < 40 or any(start <= o < end for o in offsets):
                continue
            words = set(re.findall(r"[a-z]+", sentence.lower()))
            if words & banned:
                continue
            yield sentence


def davidson_examples(tweets: list[Tweet], split: str) -> list[Example]:
    """Tweets: toxic unless "neither"; identity attack and severe toxicity from the share of coders who saw hate."""
    out = []
    for t in tweets:
        if t.split != split or not t.text:
            continue
        labels = {
            "TOXICITY": float(t.label != 2),
            "IDENTITY_ATTACK": t.hate_frac,
            "SEVERE_TOXICITY": float(t.label == 0),
        }
        out.append(Example(t.text, labels, "davidson", 0.6))
    return out


def all_zero() -> dict[str, float]:
    return dict.fromkeys(CATEGORIES, 0.0)
