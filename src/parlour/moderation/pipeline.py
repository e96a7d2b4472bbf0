"""Decide what happens to a new or edited comment: a pure function of its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from parlour.db.tables import CommentStatus
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import ModerationMode, SiteSettings


@dataclass(frozen=True)
class Decision:
    status: CommentStatus
    reasons: list[str] = field(default_factory=list)


def decide(*, settings: SiteSettings, scores: Scores) -> Decision:
    """Publish, hold or reject, with reasons; phases run in order and the strictest outcome wins."""
    reasons: list[str] = []
    held = False
    for category, threshold in sorted(settings.thresholds.items()):
        score = scores.categories.get(category)
        if score is not None and score >= threshold:
            held = True
            reasons.append(f"score:{category}>={threshold:g}")
    if settings.moderation_mode is ModerationMode.PRE:
        held = True
        reasons.append("mode:pre-moderation")
    return Decision(CommentStatus.PENDING if held else CommentStatus.APPROVED, reasons)
