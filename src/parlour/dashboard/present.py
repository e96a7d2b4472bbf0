"""Pure presentation helpers for the dashboard: highlighted source, reasons in words, score bars, times."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

_SCORE = re.compile(r"^(score|flag):([A-Z_]+)>=([0-9.]+)$")
_LINKS = re.compile(r"^links:(\d+)>(\d+)$")
_FIXED_REASONS = {
    "author:new": "A new author: their first comments are held",
    "author:premoderated": "The author is always pre-moderated",
    "mode:pre-moderation": "The story or site is in pre-moderation",
}
# Prefixes moderators filter queues by, with the words the filter menu shows.
REASON_FILTERS = {
    "score:": "Model score over a hold threshold",
    "flag:": "Model score over a flag threshold",
    "word:banned": "Banned word",
    "word:suspect": "Suspect word",
    "links:": "Too many links",
    "flood:": "Repeated text (flood)",
    "author:new": "New author",
    "author:premoderated": "Author always pre-moderated",
    "mode:": "Pre-moderation mode",
}


def category_label(name: str) -> str:
    """TOXICITY -> Toxicity, SEVERE_TOXICITY -> Severe toxicity."""
    return name.replace("_", " ").capitalize()


def reason_text(reason: str) -> str:
    """One pipeline reason ("score:TOXICITY>=0.5", "word:banned:xyz"…) in plain words."""
    if reason in _FIXED_REASONS:
        return _FIXED_REASONS[reason]
    if match := _SCORE.match(reason):
        kind, name, threshold = match.groups()
        what = "holds" if kind == "score" else "flags"
        return f"{category_label(name)} scored at least {threshold} (the threshold that {what} a comment)"
    if match := _LINKS.match(reason):
        return f"{match[1]} links; more than {match[2]} are held"
    kind, _, rest = reason.partition(":")
    if kind == "word":
        severity, _, word = rest.partition(":")
        return f"{'Banned' if severity == 'banned' else 'Suspect'} word “{word}”"
    if kind == "flood" and rest.isdigit():
        return f"The same text was posted {rest} times across the site in ten minutes"
    return reason


def highlight(text: str, spans: Mapping[str, Iterable[Iterable[int]]]) -> Markup:
    """The text with every span any category marked wrapped in <mark>; each piece is escaped on its own."""
    marks: dict[int, set[str]] = {}
    for name, ranges in spans.items():
        for pair in ranges:
            start, end = _bounds(pair, len(text))
            for index in range(start, end):
                marks.setdefault(index, set()).add(name)
    pieces: list[str] = []
    index = 0
    while index < len(text):
        names = marks.get(index)
        end = index + 1
        while end < len(text) and marks.get(end) == names:
            end += 1
        piece = escape(text[index:end])
        if names:
            title = escape(", ".join(category_label(n) for n in sorted(names)))
            pieces.append(f'<mark title="{title}">{piece}</mark>')
        else:
            pieces.append(str(piece))
        index = end
    return Markup("".join(pieces))  # noqa: S704 - every piece above was escaped


def _bounds(pair: Iterable[int], length: int) -> tuple[int, int]:
    values = [int(v) for v in pair][:2]
    if len(values) != 2:
        return 0, 0
    start, end = max(0, values[0]), min(length, values[1])
    return (start, end) if start < end else (0, 0)


@dataclass(frozen=True)
class ScoreBar:
    name: str
    label: str
    value: float
    width: int  # of 100 pixels
    over: bool  # at or over one of the thresholds in the reasons

    @property
    def shown(self) -> str:
        """Two decimals, cut rather than rounded: 0.449 beside a 0.45 threshold reads 0.44, not a puzzling 0.45."""
        return f"{math.floor(self.value * 100) / 100:.2f}"


def score_bars(scores: Mapping[str, Any], reasons: Iterable[str]) -> list[ScoreBar]:
    """The model's categories, highest first, as bars of 0 to 100 pixels."""
    categories = scores.get("categories") or {}
    tripped = {m[2] for r in reasons if (m := _SCORE.match(r))}
    bars = [
        ScoreBar(
            name, category_label(name), float(value), round(max(0.0, min(1.0, float(value))) * 100), name in tripped
        )
        for name, value in categories.items()
        if isinstance(value, int | float)
    ]
    return sorted(bars, key=lambda bar: (-bar.value, bar.name))


def has_spans(scores: Mapping[str, Any]) -> bool:
    spans = scores.get("spans") or {}
    return any(spans.get(name) for name in spans)


def ago(when: datetime | None, now: datetime) -> str:
    """A short relative time: "just now", "4 min ago", "3 h ago", "2 days ago"."""
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


def stamp(when: datetime | None) -> str:
    """An absolute UTC time for titles and tables."""
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else ""


def duration(delta: timedelta | None) -> str:
    """A time to decision: "45 s", "12 min", "3.5 h"."""
    if delta is None:
        return "–"
    seconds = delta.total_seconds()
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    label: str  # for the bar's <title>: the day and the number


@dataclass(frozen=True)
class Chart:
    """A bar chart's geometry in SVG user units; the template draws it, escaping every label."""

    width: int
    height: int
    bars: list[Bar]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    plot_left: int
    plot_bottom: int


def bar_chart(
    labels: list[str],
    series: list[tuple[str, list[float]]],
    *,
    width: int = 720,
    height: int = 220,
    every: int = 5,
    unit: str = "",
) -> Chart:
    """Grouped bars, one group per label and one bar per series, with a y axis from 0 to a round maximum."""
    left, right, top, bottom = 44, 8, 10, 24
    plot_width, plot_height = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((v for _name, values in series for v in values), default=0.0))
    group = plot_width / max(1, len(labels))
    bar_width = max(1.0, (group * 0.8) / max(1, len(series)))
    bars = []
    for index, label in enumerate(labels):
        for position, (name, values) in enumerate(series):
            value = values[index]
            bar_height = plot_height * value / top_value if top_value else 0.0
            x = left + index * group + group * 0.1 + position * bar_width
            shown = f"{value:g}{unit}"
            bars.append(Bar(x, top + plot_height - bar_height, bar_width, bar_height, name, f"{label}: {shown}"))
    ticks = [(top + plot_height - plot_height * i / 4, f"{top_value * i / 4:g}{unit}") for i in range(5)]
    x_labels = [(left + i * group + group / 2, labels[i]) for i in range(0, len(labels), every)]
    return Chart(width, height, bars, ticks, x_labels, left, top + plot_height)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above the value (an axis maximum)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)
