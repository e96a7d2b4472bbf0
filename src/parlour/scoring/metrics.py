"""Evaluation metrics that are not in scikit-learn: SemEval-2021 Task 5 character-offset F1."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from parlour.scoring.protocol import Span


def offsets(spans: Iterable[Span]) -> set[int]:
    """The character offsets covered by spans."""
    return {i for span in spans for i in range(span.start, span.end)}


def span_f1(predicted: set[int] | frozenset[int], gold: set[int] | frozenset[int]) -> float:
    """Task 5 F1 for one post: both empty score 1, exactly one empty scores 0."""
    if not gold:
        return 1.0 if not predicted else 0.0
    if not predicted:
        return 0.0
    common = len(predicted & gold)
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def mean_span_f1(predicted: Sequence[set[int] | frozenset[int]], gold: Sequence[set[int] | frozenset[int]]) -> float:
    """The official metric: per-post F1 averaged over posts."""
    if not gold:
        return 0.0
    return sum(span_f1(p, g) for p, g in zip(predicted, gold, strict=True)) / len(gold)
