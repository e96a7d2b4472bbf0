"""Scoring comments for moderation: the Scorer protocol and its implementations."""

from __future__ import annotations

from parlour.scoring.protocol import NullScorer, Scorer


def make_scorer(name: str) -> Scorer:
    """The scorer a setting names; imported lazily so that 'none' loads no model."""
    if name == "lexical":
        from parlour.scoring.lexical import LexicalScorer

        return LexicalScorer()
    return NullScorer()
