"""Extra training sources a newsroom brings: Civil Comments, Jigsaw 2018, and its own moderators' decisions.

Each file is recognised by its header, read as a stream (constant memory however large) and, when a limit is
given, subsampled reproducibly: a seeded reservoir keeps `limit` rows, whichever rows the file holds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from parlour.scoring.datasets import Example
from parlour.scoring.thresholds import CATEGORIES

csv.field_size_limit(sys.maxsize)

DECISIONS_FORMAT = "parlour-decisions"
DECISIONS_VERSION = 1

# Jigsaw Unintended Bias in Toxicity Classification (Civil Comments): fractions of raters, positive at >= 0.5.
CIVIL_COLUMNS = {
    "severe_toxicity": "SEVERE_TOXICITY",
    "obscene": "PROFANITY",
    "identity_attack": "IDENTITY_ATTACK",
    "insult": "INSULT",
    "threat": "THREAT",
}
CIVIL_TOXICITY = ("target", "toxicity")  # Kaggle's train.csv calls it target; all_data.csv, toxicity
# Jigsaw 2018 Toxic Comment Classification: 0/1 per label, -1 where the test set was not scored.
JIGSAW_COLUMNS = {
    "toxic": "TOXICITY",
    "severe_toxic": "SEVERE_TOXICITY",
    "obscene": "PROFANITY",
    "threat": "THREAT",
    "insult": "INSULT",
    "identity_hate": "IDENTITY_ATTACK",
}
TEXT_COLUMNS = ("comment_text", "text")
CIVIL_WEIGHT = 1.0
JIGSAW_WEIGHT = 1.0
# A newsroom's own decisions say the most about what it will not publish.
DECISION_WEIGHT = 2.0

# Words in a moderator's reject reason -> the categories it names. The dashboard's one-click reasons are
# "Abuse" (toxic, no finer category), "Dehumanising language" and "Threat"; "Spam", "Off-topic" and "Personal
# information" name no category: such rejects say nothing about toxicity and are not used.
REASON_WORDS: dict[str, tuple[str, ...]] = {
    "TOXICITY": ("abuse", "abusive", "toxic", "toxicity", "uncivil", "incivility"),
    "SEVERE_TOXICITY": ("severe", "severe toxicity"),
    "INSULT": ("insult", "insults", "insulting", "personal attack", "name calling"),
    "PROFANITY": ("profanity", "profane", "obscene", "obscenity", "swearing", "vulgar", "vulgarity"),
    "IDENTITY_ATTACK": (
        "identity attack",
        "dehumanising",
        "dehumanizing",
        "hate",
        "hateful",
        "racism",
        "racist",
        "sexism",
        "sexist",
        "homophobia",
        "homophobic",
        "transphobic",
        "slur",
        "slurs",
    ),
    "THREAT": ("threat", "threats", "threatening", "violence", "incitement", "incitement to violence"),
}


class LayoutError(ValueError):
    """A training file whose layout is not one Parlour reads, or that breaks its layout."""


@dataclass(frozen=True)
class Layout:
    name: str
    read: Callable[[Iterable[str], Path], Iterator[Example]]


def reason_categories(reason: str) -> list[str]:
    """The categories a reject reason names ("Threat: and a racist slur" -> TOXICITY, IDENTITY_ATTACK, THREAT).

    The dashboard stores a chosen reason, a colon and a note. The note adds categories only when the chosen
    reason names one, so "Spam: a threat to buy watches" stays spam.
    """
    chosen, _, note = reason.partition(":")
    named = _named(chosen)
    if named:
        named |= _named(note)
        named.add("TOXICITY")
    return [c for c in CATEGORIES if c in named]


def _named(text: str) -> set[str]:
    padded = " " + " ".join(re.findall(r"[a-z]+", text.lower().replace("_", " "))) + " "
    return {c for c in CATEGORIES if any(f" {w} " in padded for w in REASON_WORDS[c])}


def decision_labels(decision: str, categories: Iterable[str]) -> dict[str, float] | None:
    """Approve: negative for every category. Reject naming categories: positive for those (and TOXICITY), the
    rest unlabelled (a threat may also insult). Reject naming none (spam, off-topic): not a toxicity label."""
    if decision == "approve":
        return dict.fromkeys(CATEGORIES, 0.0)
    named = [c for c in categories if c in CATEGORIES]
    if decision != "reject" or not named:
        return None
    return dict.fromkeys(["TOXICITY", *named], 1.0)


def decision_line(*, text: str, decision: str, reason: str, time: str, comment_id: int) -> dict[str, Any]:
    """One line of `parlour model decisions`: what training and calibration read."""
    return {
        "comment_id": comment_id,
        "decision": decision,
        "categories": reason_categories(reason) if decision == "reject" else [],
        "reason": reason,
        "time": time,
        "text": text,
    }


def decisions_header(site: str) -> dict[str, Any]:
    return {"format": DECISIONS_FORMAT, "version": DECISIONS_VERSION, "site": site}


# -- readers ----------------------------------------------------------------------------------------------------------


def _text_column(header: list[str]) -> str | None:
    return next((c for c in TEXT_COLUMNS if c in header), None)


def _number(row: dict[str, str], column: str, where: str) -> float:
    value = (row.get(column) or "").strip()
    try:
        return float(value)
    except ValueError as exc:
        raise LayoutError(f"{where}: column {column!r} holds {value!r}, not a number") from exc


def _civil(header: list[str]) -> Callable[[Iterable[str], Path], Iterator[Example]]:
    text_column = _text_column(header)
    toxicity = next(c for c in CIVIL_TOXICITY if c in header)
    columns = {toxicity: "TOXICITY", **CIVIL_COLUMNS}

    def read(lines: Iterable[str], path: Path) -> Iterator[Example]:
        for line, row in enumerate(csv.DictReader(lines, fieldnames=header), start=2):
            # all_data.csv carries its own split: only its training rows are trained on.
            if row.get("split", "train") != "train" or not row.get(text_column or ""):
                continue
            labels = {cat: float(_number(row, col, f"{path}:{line}") >= 0.5) for col, cat in columns.items()}
            yield Example(row[text_column or ""], labels, "civil_comments", CIVIL_WEIGHT)

    return read


def _jigsaw(header: list[str]) -> Callable[[Iterable[str], Path], Iterator[Example]]:
    text_column = _text_column(header)

    def read(lines: Iterable[str], path: Path) -> Iterator[Example]:
        for line, row in enumerate(csv.DictReader(lines, fieldnames=header), start=2):
            values = {cat: _number(row, col, f"{path}:{line}") for col, cat in JIGSAW_COLUMNS.items()}
            if any(v < 0 for v in values.values()) or not row.get(text_column or ""):
                continue  # -1: a test row Kaggle never scored
            yield Example(row[text_column or ""], {c: float(v >= 0.5) for c, v in values.items()}, "jigsaw2018")

    return read


def _decisions(lines: Iterable[str], path: Path) -> Iterator[Example]:
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text, decision, categories = record["text"], record["decision"], record.get("categories", [])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LayoutError(f"{path}:{number}: not a decision line ({exc})") from exc
        labels = decision_labels(decision, categories)
        if labels is not None and isinstance(text, str) and text.strip():
            yield Example(text, labels, "decisions", DECISION_WEIGHT)


def detect(first_line: str, path: Path) -> Layout:
    """The layout a file's first line announces, or a LayoutError naming what was expected."""
    if first_line.lstrip().startswith("{"):
        try:
            header = json.loads(first_line)
        except json.JSONDecodeError:
            header = None
        if isinstance(header, dict) and header.get("format") == DECISIONS_FORMAT:
            if header.get("version") != DECISIONS_VERSION:
                raise LayoutError(f"{path}: decisions format version {header.get('version')!r} is not supported")
            return Layout("parlour decisions", _decisions)
        raise LayoutError(f"{path}: a JSON file without the header {{'format': {DECISIONS_FORMAT!r}}}")
    columns = [c.strip() for c in next(csv.reader([first_line]), [])]
    if _text_column(columns) and set(JIGSAW_COLUMNS) <= set(columns):
        return Layout("Jigsaw 2018 toxic comments", _jigsaw(columns))
    if _text_column(columns) and set(CIVIL_COLUMNS) <= set(columns) and set(CIVIL_TOXICITY) & set(columns):
        return Layout("Civil Comments (Jigsaw Unintended Bias)", _civil(columns))
    raise LayoutError(
        f"{path}: unknown layout (header {', '.join(columns[:8]) or 'empty'}). Expected Civil Comments "
        "(comment_text, target or toxicity, severe_toxicity, obscene, identity_attack, insult, threat), Jigsaw 2018 "
        "(comment_text, toxic, severe_toxic, obscene, threat, insult, identity_hate) or `parlour model decisions`."
    )


class _CountingReader(io.RawIOBase):
    """A binary file that reports the bytes read, so a progress bar can follow a stream of unknown row count."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._on_read(len(data))
        return len(data)


def check_source(path: Path) -> str:
    """The name of the file's layout, read from its first line: bad files fail before a long training run starts."""
    if not path.is_file():
        raise LayoutError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return detect(f.readline(), path).name
    except UnicodeDecodeError as exc:
        raise LayoutError(f"{path}: not UTF-8 text") from exc


def read_source(
    path: Path, *, limit: int | None, seed: int, on_bytes: Callable[[int], None] = lambda _n: None
) -> tuple[str, list[Example]]:
    """The layout's name and the examples of one file; with a limit, a seeded uniform sample of that many."""
    if not path.is_file():
        raise LayoutError(f"{path}: no such file")
    with path.open("rb") as raw:
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, on_bytes)), encoding="utf-8-sig", newline="")
        try:
            first = text.readline()
            layout = detect(first, path)
            # Multi-line quoted CSV fields need the csv module to see the raw stream, not lines.
            return layout.name, reservoir(layout.read(text, path), limit=limit, seed=seed)
        except UnicodeDecodeError as exc:
            raise LayoutError(f"{path}: not UTF-8 text") from exc


def reservoir(items: Iterable[Example], *, limit: int | None, seed: int) -> list[Example]:
    """All items, or `limit` of them chosen uniformly (Algorithm R) with a seeded generator, in file order."""
    if not limit:
        return list(items)
    rng = np.random.default_rng(seed)
    kept: list[tuple[int, Example]] = []
    for index, item in enumerate(items):
        if index < limit:
            kept.append((index, item))
            continue
        slot = int(rng.integers(0, index + 1))
        if slot < limit:
            kept[slot] = (index, item)
    return [item for _, item in sorted(kept, key=lambda pair: pair[0])]
