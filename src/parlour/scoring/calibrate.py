"""Per-site hold thresholds from the site's own moderator decisions: the lowest score that reaches a precision.

A hold is right when a moderator goes on to reject the comment, for any toxicity reason: precision at a threshold
is the share of the decided comments at or above it that moderators rejected. Recall is per category: the share
of the rejects whose reason names the category (TOXICITY: every toxicity reject) that the threshold would hold.
Rejects that name no category (spam, off-topic) say nothing about the model and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parlour.scoring.thresholds import CATEGORIES, HOLD

GRID = tuple(round(float(t), 2) for t in np.arange(0.05, 0.991, 0.01))
MIN_DECISIONS = 50
MIN_REJECTS = 10


@dataclass(frozen=True)
class ScoredDecision:
    scores: Mapping[str, float]
    rejected: bool
    categories: frozenset[str]  # the categories the reject reason names, TOXICITY included; empty for approvals


@dataclass(frozen=True)
class Quality:
    threshold: float
    held: int
    precision: float | None  # None when the threshold holds nothing
    recall: float | None  # None when no reject names the category


@dataclass(frozen=True)
class Calibration:
    category: str
    rejects: int  # rejects naming the category
    approvals: int
    before: Quality
    after: Quality
    note: str
    calibrated: bool = False


def informative(decisions: Sequence[ScoredDecision]) -> list[ScoredDecision]:
    """Approvals, and rejects whose reason names a category."""
    return [d for d in decisions if not d.rejected or d.categories]


def quality(decisions: Sequence[ScoredDecision], category: str, threshold: float) -> Quality:
    decisions = informative(decisions)
    scores = np.array([d.scores.get(category, 0.0) for d in decisions], dtype=np.float64)
    rejected = np.array([d.rejected for d in decisions], dtype=bool)
    named = np.array([category in d.categories for d in decisions], dtype=bool)
    held = scores >= threshold
    n_held = int(held.sum())
    precision = float((held & rejected).sum()) / n_held if n_held else None
    recall = float((held & named).sum()) / int(named.sum()) if named.any() else None
    return Quality(threshold, n_held, precision, recall)


def calibrate(
    decisions: Sequence[ScoredDecision],
    *,
    current: Mapping[str, float],
    precision: float,
    min_decisions: int = MIN_DECISIONS,
    min_rejects: int = MIN_REJECTS,
) -> list[Calibration]:
    """Per category, the lowest threshold whose precision reaches `precision`; the current one where the site's
    decisions are too few to tell, or no threshold reaches the target."""
    used = informative(decisions)
    approvals = sum(not d.rejected for d in used)
    out = []
    for category in CATEGORIES:
        now = current.get(category, HOLD[category])
        before = quality(used, category, now)
        rejects = sum(category in d.categories for d in used)
        if len(used) < min_decisions:
            note = f"kept: {len(used)} decisions, fewer than {min_decisions}"
            out.append(Calibration(category, rejects, approvals, before, before, note))
            continue
        if rejects < min_rejects:
            note = f"kept: {rejects} rejects name it, fewer than {min_rejects}"
            out.append(Calibration(category, rejects, approvals, before, before, note))
            continue
        reached = next((q for t in GRID if _reaches(q := quality(used, category, t), precision)), None)
        if reached is None:
            best = max((quality(used, category, t) for t in GRID), key=lambda q: (q.precision or 0.0, -q.threshold))
            best_precision = best.precision or 0.0
            note = (
                f"kept: no threshold reaches precision {precision:g} (best {best_precision:.2f} at {best.threshold:g})"
            )
            out.append(Calibration(category, rejects, approvals, before, before, note))
            continue
        note = f"calibrated to precision {precision:g}"
        out.append(Calibration(category, rejects, approvals, before, reached, note, calibrated=True))
    return out


def _reaches(found: Quality, target: float) -> bool:
    return found.precision is not None and found.precision >= target


def chosen_thresholds(calibrations: Sequence[Calibration]) -> dict[str, float]:
    """The thresholds calibration chose; the others stay as the site has them."""
    return {c.category: c.after.threshold for c in calibrations if c.calibrated}
