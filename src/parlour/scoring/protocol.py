"""The Scorer protocol the moderation pipeline calls; the local model implements it in its own module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Scores:
    """Per-category probabilities in [0, 1], and the character spans that drove each one."""

    categories: dict[str, float] = field(default_factory=dict)
    spans: dict[str, list[Span]] = field(default_factory=dict)
    model: str = "none"

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "categories": dict(self.categories),
            "spans": {name: [[s.start, s.end] for s in spans] for name, spans in self.spans.items()},
        }


class Scorer(Protocol):
    name: str

    def score(self, text: str) -> Scores: ...


class NullScorer:
    """Scores nothing: the default until a model is configured."""

    name = "none"

    def score(self, text: str) -> Scores:
        return Scores(model=self.name)
