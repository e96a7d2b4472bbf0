"""The audit log (page and CSV), the statistics page and the webhook delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from pydantic import StringConstraints
from starlette.datastructures import URL
from starlette.responses import Response, StreamingResponse

from parlour.clock import utcnow
from parlour.dashboard import present
from parlour.dashboard.auth import Moderator
from parlour.dashboard.csvexport import audit_csv
from parlour.dashboard.queues import Blank, IdParam, Offset, SiteParam
from parlour.dashboard.render import NO_STORE, render
from parlour.moderation import records
from parlour.moderation.audit import PAGE_SIZE, AuditFilter
from parlour.state import State

ActionParam = Annotated[Annotated[str, StringConstraints(max_length=32)] | None, Blank, Query()]


def audit_page(
    request: Request,
    state: State,
    who: Moderator,
    site: SiteParam = None,
    action: ActionParam = None,
    comment: IdParam = None,
    author: IdParam = None,
    story: IdParam = None,
    offset: Offset = 0,
) -> Response:
    """Who did what, when and why, newest first, with filters and paging."""
    where = AuditFilter((), action=action or None, comment_id=comment, author_id=author, story_id=story)
    with state.db.read() as session:
        view = records.audit_for(session=session, staff=who.staff, site=site or None, where=where, offset=offset)
    url = URL(str(request.url))
    links = {
        "previous": _relative(url.include_query_params(offset=max(0, offset - PAGE_SIZE))) if offset else None,
        "next": _relative(url.include_query_params(offset=offset + PAGE_SIZE)) if view.page.has_more else None,
        "csv": _relative(url.replace(path="/admin/audit.csv").remove_query_params("offset")),
    }
    context = {"view": view, "filters": {"site": site, "action": action, "comment": comment, "author": author}}
    return render(request, state, who, "admin/audit.html", context | {"story": story, "links": links})


def audit_export(
    state: State,
    who: Moderator,
    site: SiteParam = None,
    action: ActionParam = None,
    comment: IdParam = None,
    author: IdParam = None,
    story: IdParam = None,
) -> Response:
    """The filtered audit log as CSV; cells a spreadsheet would run as formulas are escaped."""
    where = AuditFilter((), action=action or None, comment_id=comment, author_id=author, story_id=story)
    rows = records.audit_export(db=state.db, staff=who.staff, site=site or None, where=where)
    filename = f"parlour-audit-{utcnow():%Y%m%d-%H%M}.csv"
    headers = NO_STORE | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(audit_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


def stats_page(request: Request, state: State, who: Moderator, site: SiteParam = None) -> Response:
    """Per day and per story: volume, held, rejected and time to decision; charts with their numbers."""
    with state.db.read() as session:
        view = records.stats_for(session=session, staff=who.staff, site=site or None)
    days = view.stats.days
    labels = [f"{d.day:%d %b}" for d in days]
    volume = present.bar_chart(
        labels,
        [
            ("comments", [float(d.comments) for d in days]),
            ("held", [float(d.held) for d in days]),
            ("rejected", [float(d.rejected) for d in days]),
        ],
    )
    minutes = [round(d.median_decision.total_seconds() / 60, 1) if d.median_decision else 0.0 for d in days]
    waits = present.bar_chart(labels, [("wait", minutes)], height=160, unit=" min")
    return render(request, state, who, "admin/stats.html", {"view": view, "volume": volume, "waits": waits})


def deliveries_page(
    request: Request, state: State, who: Moderator, site: SiteParam = None, offset: Offset = 0
) -> Response:
    """Webhook deliveries of a site, newest first: status, attempts, the receiver's answer."""
    with state.db.read() as session:
        view = records.deliveries_for(session=session, staff=who.staff, site=site or None, offset=offset)
    return render(request, state, who, "admin/deliveries.html", {"view": view})


def _relative(url: URL) -> str:
    return f"{url.path}?{url.query}" if url.query else url.path
