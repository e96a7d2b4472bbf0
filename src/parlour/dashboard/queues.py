"""The queue pages and what moderators do to items in them."""

from __future__ import annotations

import unicodedata
from functools import partial
from typing import Annotated

from fastapi import Query, Request
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from starlette.datastructures import URL
from starlette.responses import Response

from parlour.dashboard import forms
from parlour.dashboard.acting import act, act_all, after, publish, record, reply_of
from parlour.dashboard.auth import CheckedForm, Moderator
from parlour.dashboard.render import is_htmx, redirect, render
from parlour.errors import InvalidInput
from parlour.moderation import actions, dashboard
from parlour.moderation.dashboard import QueueQuery
from parlour.moderation.queues import Queue, QueuePage
from parlour.sites.schemas import SLUG_PATTERN
from parlour.state import State


def _blank_as_absent(value: object) -> object:
    """A filter form sends its empty fields as `name=`: an empty field is no filter, not a bad value."""
    return None if isinstance(value, str) and not value.strip() else value


def _no_control_characters(value: str) -> str:
    """A NUL or another control character in a search cannot be typed, and SQLite ends the pattern at a NUL."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("the search text holds a control character")
    return value


# The filters of the dashboard's GET forms. Each constraint sits on the inner type, so an absent filter skips it.
Blank = BeforeValidator(_blank_as_absent)
SiteParam = Annotated[Annotated[str, StringConstraints(max_length=64, pattern=SLUG_PATTERN)] | None, Blank, Query()]
IdParam = Annotated[Annotated[int, Field(ge=1)] | None, Blank, Query()]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
ReasonParam = Annotated[Annotated[str, StringConstraints(max_length=100)] | None, Blank, Query()]
TextParam = Annotated[
    Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_control_characters)] | None, Blank, Query()
]
QueueName = Annotated[str, Query(max_length=32)]


def dashboard_home() -> Response:
    """The dashboard opens on the Pending queue."""
    return redirect("/admin/queues/pending")


def queue_page(
    request: Request,
    state: State,
    who: Moderator,
    queue: Queue,
    site: SiteParam = None,
    story: IdParam = None,
    author: IdParam = None,
    reason: ReasonParam = None,
    q: TextParam = None,
    offset: Offset = 0,
) -> Response:
    """One queue: navigation with counts, filters, a page of items with everything needed to decide."""
    query = QueueQuery(site=site or None, story_id=story, author_id=author, reason=reason, text=q)
    with state.db.read() as session:
        view = dashboard.queue_view(session=session, staff=who.staff, queue=queue, query=query, offset=offset)
    template = "admin/_items.html" if request.query_params.get("fragment") == "items" else "admin/queue.html"
    context = {"view": view, "query": query, "here": _here(request), "links": _page_links(request, view.page)}
    return render(request, state, who, template, context)


def counts(request: Request, state: State, who: Moderator, site: SiteParam = None, current: QueueName = "") -> Response:
    """The queue navigation with fresh counts (after live events)."""
    with state.db.read() as session:
        scope, numbers = dashboard.counts_for(session=session, staff=who.staff, site=site or None)
    context = {"scope": scope, "counts": numbers, "current": current, "oob": False}
    return render(request, state, who, "admin/_nav.html", context)


def surges(request: Request, state: State, who: Moderator, site: SiteParam = None) -> Response:
    """The surge guard banners."""
    with state.db.read() as session:
        notices = dashboard.surges_for(session=session, staff=who.staff, site=site or None)
    return render(request, state, who, "admin/_surges.html", {"surges": notices})


def comment_card(
    request: Request,
    state: State,
    who: Moderator,
    comment_id: int,
    queue: Queue | None = None,
    site: SiteParam = None,
    story: IdParam = None,
    author: IdParam = None,
    reason: ReasonParam = None,
    q: TextParam = None,
) -> Response:
    """One item's card, or 204 when it is not in the queue as the page's filters show it (live updates ask)."""
    query = QueueQuery(site=site or None, story_id=story, author_id=author, reason=reason, text=q)
    with state.db.read() as session:
        card = dashboard.card_for(session=session, staff=who.staff, comment_id=comment_id, queue=queue, query=query)
    if card is None:
        return Response(status_code=204)
    return render(request, state, who, "admin/_card_only.html", {"card": card, "queue": queue, "site": None})


def comment_page(request: Request, state: State, who: Moderator, comment_id: int) -> Response:
    """One comment with its reports, its author's history and its audit rows."""
    with state.db.read() as session:
        page = dashboard.comment_page(session=session, staff=who.staff, comment_id=comment_id)
    return render(request, state, who, "admin/comment.html", {"page": page})


def claim(request: Request, state: State, who: Moderator, form: CheckedForm, comment_id: int) -> Response:
    """Mark the item the moderator opened as theirs for a while; say who holds it when someone else does."""
    result = dashboard.claim_item(db=state.db, staff=who.staff, comment_id=comment_id)
    return render(request, state, who, "admin/_claim.html", {"comment_id": comment_id, "claim": result.claim})


def approve(request: Request, state: State, who: Moderator, form: CheckedForm, comment_id: int) -> Response:
    reply = reply_of(state, who, form)
    work = partial(actions.approve, staff=who.staff, comment_id=comment_id)
    outcome = act(state, who, work, deciding=[comment_id], seen=forms.seen_of(form, [comment_id]))
    return after(request, state, who, reply, [comment_id], [outcome], "Approved")


def reject(request: Request, state: State, who: Moderator, form: CheckedForm, comment_id: int) -> Response:
    reason, reply = forms.reason_of(form), reply_of(state, who, form)
    outcome = act(
        state,
        who,
        partial(actions.reject, staff=who.staff, comment_id=comment_id, reason=reason),
        deciding=[comment_id],
        seen=forms.seen_of(form, [comment_id]),
    )
    return after(request, state, who, reply, [comment_id], [outcome], "Rejected")


def feature(request: Request, state: State, who: Moderator, form: CheckedForm, comment_id: int) -> Response:
    on, reply = forms.flag_of(form, "on"), reply_of(state, who, form)
    outcome = act(
        state,
        who,
        partial(actions.set_featured, staff=who.staff, comment_id=comment_id, featured=on),
        deciding=[comment_id],
        seen=forms.seen_of(form, [comment_id]),
    )
    return after(request, state, who, reply, [comment_id], [outcome], "Featured" if on else "Unfeatured")


def dismiss_reports(request: Request, state: State, who: Moderator, form: CheckedForm, comment_id: int) -> Response:
    reply = reply_of(state, who, form)
    outcome = act(
        state,
        who,
        partial(actions.dismiss_reports, staff=who.staff, comment_id=comment_id),
        deciding=[comment_id],
        seen=forms.seen_of(form, [comment_id]),
    )
    return after(request, state, who, reply, [comment_id], [outcome], "Reports dismissed")


def bulk(request: Request, state: State, who: Moderator, form: CheckedForm) -> Response:
    """Approve or reject the selected items together: all of them, or none when one cannot be decided."""
    ids = forms.ids_of(form)
    verb = form.get("action")
    if verb not in {"approve", "reject"}:
        raise InvalidInput("Choose approve or reject.", field="action")
    reason = forms.reason_of(form) if verb == "reject" else ""
    reply = reply_of(state, who, form)
    decide = actions.reject if verb == "reject" else actions.approve
    works = [partial(decide, staff=who.staff, comment_id=i, reason=reason) for i in ids]
    outcomes = act_all(state, who, works, deciding=ids, seen=forms.seen_of(form, ids))
    label = f"{'Approved' if verb == 'approve' else 'Rejected'} {len(ids)}"
    return after(request, state, who, reply, ids, outcomes, label)


def undo(request: Request, state: State, who: Moderator, form: CheckedForm) -> Response:
    """Take back one's own last action (or a bulk action's every row) within the undo window."""
    action_ids = forms.ids_of(form, "action", what="action")
    with state.db.write() as session:
        outcomes = [actions.undo(session=session, staff=who.staff, action_id=i) for i in reversed(action_ids)]
        recorded = record(state.bus, session, outcomes)
    publish(state.bus, outcomes, recorded)
    if not is_htmx(request):
        return redirect(forms.next_of(form, "/admin"))
    context = {"message": "Undone", "undo_ids": [], "refresh": True}
    return render(request, state, who, "admin/_toast.html", context, headers={"HX-Trigger": "parlour-refresh"})


def _here(request: Request) -> str:
    """This page's path and query, for forms to come back to."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _page_links(request: Request, page: QueuePage) -> dict[str, str | None]:
    url = URL(str(request.url)).remove_query_params("fragment")
    previous = max(0, page.offset - page.limit)
    return {
        "previous": _relative(url.include_query_params(offset=previous)) if page.offset > 0 else None,
        "next": _relative(url.include_query_params(offset=page.next_offset)) if page.next_offset else None,
    }


def _relative(url: URL) -> str:
    return f"{url.path}?{url.query}" if url.query else url.path
