"""Scoring comments for moderation: the Scorer protocol and its implementations."""

from __future__ import annotations

from pathlib import Path

from parlour.scoring.protocol import NullScorer, Scorer


def make_scorer(name: str, model_dir: Path | None = None) -> Scorer:
    """The scorer a setting names, with a retrained model's folder if given; imported lazily so that 'none'
    loads no model."""
    if name == "lexical":
        from parlour.scoring.lexical import LexicalScorer

        return LexicalScorer(folder=model_dir)
    return NullScorer()
