"""What an import did, or would do: counts, skipped records with their reasons and positions, notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

EXAMPLES_PER_REASON = 20
MAX_NOTES = 200


@dataclass
class ImportReport:
    dry_run: bool = False
    created: Counter[str] = field(default_factory=Counter)  # stories, authors, comments
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first positions
    outside: Counter[str] = field(default_factory=Counter)  # article URL off the site's origins -> comments
    notes: list[str] = field(default_factory=list)
    notes_dropped: int = 0
    indexes_built_after: int = 0  # secondary indexes of comments set aside during the import (db/bulk_indexes.py)

    def skip(self, reason: str, position: str) -> None:
        self.skipped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(position)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        else:
            self.notes_dropped += 1

    def counts(self) -> dict[str, int]:
        """The figures a progress bar shows."""
        return {
            "comments": self.created["comments"],
            "stories": self.created["stories"],
            "authors": self.created["authors"],
            "skipped": sum(self.skipped.values()),
        }


class Progress(Protocol):
    """Told how far a long operation is; the CLI draws it, tests ignore it."""

    def update(self, *, done: int, total: int, counts: dict[str, int]) -> None: ...

    def stage(self, description: str) -> None:
        """A new stage of the operation begins: `update` counts its own work from now on."""


class NoProgress:
    def update(self, *, done: int, total: int, counts: dict[str, int]) -> None:
        return None

    def stage(self, description: str) -> None:
        return None
