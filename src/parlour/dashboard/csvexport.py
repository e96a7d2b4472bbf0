"""The audit log as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from parlour.moderation.audit import AuditRow

HEADER = [
    "id",
    "time_utc",
    "site",
    "moderator",
    "action",
    "reason",
    "status_before",
    "status_after",
    "comment_id",
    "author_id",
    "story_id",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); tab and CR too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell's text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def audit_csv(rows: Iterable[AuditRow]) -> Iterator[str]:
    """The header, then one line per audit row, as text chunks for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield _drain(buffer)
    for row in rows:
        writer.writerow(
            safe_cell(v)
            for v in (
                row.id,
                row.created_at.isoformat(),
                row.site_slug,
                row.staff,
                row.action,
                row.reason,
                row.status_before,
                row.status_after,
                row.comment_id,
                row.author_id,
                row.story_id,
            )
        )
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
