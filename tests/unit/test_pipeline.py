from __future__ import annotations

from parlour.db.tables import CommentStatus
from parlour.moderation.pipeline import decide
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import ModerationMode, SiteSettings


def test_post_moderation_publishes() -> None:
    assert decide(settings=SiteSettings(), scores=Scores()).status is CommentStatus.APPROVED


def test_pre_moderation_holds_with_reason() -> None:
    decision = decide(settings=SiteSettings(moderation_mode=ModerationMode.PRE), scores=Scores())
    assert decision.status is CommentStatus.PENDING
    assert decision.reasons == ["mode:pre-moderation"]


def test_scores_over_threshold_hold() -> None:
    settings = SiteSettings(thresholds={"TOXICITY": 0.8})
    held = decide(settings=settings, scores=Scores(categories={"TOXICITY": 0.9}))
    assert held.status is CommentStatus.PENDING
    assert held.reasons == ["score:TOXICITY>=0.8"]
    assert decide(settings=settings, scores=Scores(categories={"TOXICITY": 0.2})).status is CommentStatus.APPROVED
