"""The categories the lexical model scores, and the default score at which a comment is held or rejected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

CATEGORIES: tuple[str, ...] = ("TOXICITY", "SEVERE_TOXICITY", "INSULT", "PROFANITY", "IDENTITY_ATTACK", "THREAT")

# The one place default thresholds live. Scores are calibrated probabilities. Hold: the F1 optimum on the dev
# splits. Reject: where dev precision reaches 0.97, never below 0.90, since a rejection is final. Training writes
# both to lexical-v1.metrics.json as "suggested_thresholds" (see docs/model-card.md); F1 and precision are
# measured on every dev split together: typed_posts, Davidson, unmarked sentences and held-out template frames.
# `parlour classify` decides with them; a site's flag thresholds default to HOLD, while a new site holds and rejects
# on scores only once it sets its own `thresholds` and `reject_thresholds` (the model is trained on toxic posts,
# so its scores run high on ordinary ones; see docs/model-card.md).
HOLD: dict[str, float] = {
    "TOXICITY": 0.50,
    "SEVERE_TOXICITY": 0.30,
    "INSULT": 0.40,
    "PROFANITY": 0.35,
    "IDENTITY_ATTACK": 0.45,
    "THREAT": 0.45,
}
REJECT: dict[str, float] = {
    "TOXICITY": 0.95,
    "SEVERE_TOXICITY": 0.95,
    "INSULT": 0.95,
    "PROFANITY": 0.90,
    "IDENTITY_ATTACK": 0.99,
    "THREAT": 0.90,
}

Outcome = Literal["publish", "hold", "reject"]


@dataclass(frozen=True)
class Verdict:
    decision: Outcome
    reasons: list[str] = field(default_factory=list)


def verdict(
    scores: Mapping[str, float],
    *,
    hold: Mapping[str, float] = HOLD,
    reject: Mapping[str, float] = REJECT,
) -> Verdict:
    """Reject if any category reaches its reject threshold, else hold if any reaches its hold threshold."""
    rejected = [f"score:{c}>={reject[c]:g}" for c in CATEGORIES if c in reject and scores.get(c, 0.0) >= reject[c]]
    if rejected:
        return Verdict("reject", rejected)
    held = [f"score:{c}>={hold[c]:g}" for c in CATEGORIES if c in hold and scores.get(c, 0.0) >= hold[c]]
    if held:
        return Verdict("hold", held)
    return Verdict("publish", [])
