"""The nudge: before a reader posts, say whether the draft would be held and which words would hold it.

Coral's toxic-comment warning showed that many writers soften a comment when told, in the moment, which words
read as an attack. The check runs the content rules of the pipeline (word lists and model thresholds) on the
draft and returns the words to highlight; it stores nothing. The widget asks once per draft, and the comment
then records whether the writer revised it ("nudge:revised") or posted it as it was ("nudge:ignored").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from parlour.moderation.wordrules import WordMatch, compiled_rules
from parlour.scoring.protocol import Scores
from parlour.sites.schemas import SiteSettings

Decision = Literal["publish", "flag", "hold", "reject"]
# The order of severity: a draft gets the most severe decision any rule gives it.
SEVERITY: tuple[Decision, ...] = ("publish", "flag", "hold", "reject")


@dataclass(frozen=True)
class Highlight:
    start: int
    end: int
    # A model category ("INSULT") or the word list that matched ("banned", "suspect").
    reason: str


@dataclass(frozen=True)
class DraftVerdict:
    decision: Decision
    categories: list[str] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)


def verdict(*, settings: SiteSettings, scores: Scores, matches: list[WordMatch]) -> DraftVerdict:
    """What the pipeline's content rules would do with this draft, and the words that made it so."""
    decision: Decision = "publish"
    categories: list[str] = []
    highlights = [Highlight(m.start, m.end, m.kind) for m in matches]
    if any(m.kind == "banned" for m in matches):
        decision = "reject"
    elif matches:
        decision = "hold"
    levels: tuple[tuple[Decision, dict[str, float]], ...] = (
        ("reject", settings.reject_thresholds),
        ("hold", settings.thresholds),
        ("flag", settings.flag_thresholds),
    )
    for level, thresholds in levels:
        crossed = [name for name, t in sorted(thresholds.items()) if scores.categories.get(name, 0.0) >= t]
        if not crossed:
            continue
        decision = max(decision, level, key=SEVERITY.index)
        for name in crossed:
            if name not in categories:
                categories.append(name)
                highlights += [Highlight(s.start, s.end, name) for s in scores.spans.get(name, [])]
    return DraftVerdict(decision, categories, sorted(set(highlights), key=lambda h: (h.start, h.end, h.reason)))


def word_matches(settings: SiteSettings, body: str) -> list[WordMatch]:
    return compiled_rules(tuple(settings.banned_words), tuple(settings.suspect_words)).find(body)
