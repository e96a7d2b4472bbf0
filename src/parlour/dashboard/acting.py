"""Running a dashboard action and answering it: a fragment for htmx, a redirect for a plain form post."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from parlour.accounts.sessions import SignedIn
from parlour.dashboard import forms
from parlour.dashboard.auth import FormData
from parlour.dashboard.render import is_htmx, redirect, render
from parlour.errors import InvalidInput
from parlour.events import EventBus, Recorded
from parlour.moderation import dashboard
from parlour.moderation.actions import Outcome
from parlour.moderation.queues import Queue
from parlour.sites.schemas import SLUG_PATTERN
from parlour.state import AppState

_SLUG = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class Reply:
    """How to answer an action, read from its form and checked before anything changes."""

    queue: Queue | None  # the queue the card was shown in: it stays only while it still belongs there
    site: str | None  # the site the page is narrowed to, for its counts
    comment_id: int | None  # an author action taken from a comment's card answers with that card
    next: str  # where a plain form post returns to ("" for the default)


def reply_of(state: AppState, who: SignedIn, form: FormData) -> Reply:
    """Read and check the answer's fields first, so a bad one is refused before the action, not after it."""
    queue = forms.queue_of(form)
    site = form.get("site").strip() or None
    if site is not None and not _SLUG.fullmatch(site):
        raise InvalidInput("Unknown site.", field="site")
    comment = form.get("comment").strip()
    comment_id = forms.id_of(comment, field="comment") if comment else None
    with state.db.read() as session:
        dashboard.check_return(session=session, staff=who.staff, site=site, comment_id=comment_id)
    return Reply(queue, site, comment_id, form.get("next"))


# An action with every argument but the session: `partial(actions.approve, staff=…, comment_id=…)`.
Work = Callable[..., Outcome]


def act(
    state: AppState, who: SignedIn, work: Work, *, deciding: Sequence[int] = (), seen: Mapping[int, int] | None = None
) -> Outcome:
    """Run one action in a write transaction; its events go out once it has committed.

    `deciding`: the comments the action decides on, refused while another moderator has claimed them, or when one
    has changed since the page showed it (`seen`: each one's latest audit row then; see `forms.seen_of`).
    """
    return act_all(state, who, [work], deciding=deciding, seen=seen)[0]


def act_all(
    state: AppState,
    who: SignedIn,
    works: Sequence[Work],
    *,
    deciding: Sequence[int] = (),
    seen: Mapping[int, int] | None = None,
) -> list[Outcome]:
    """Several actions in one transaction: all of them happen, or none (a bulk action)."""
    with state.db.write() as session:
        dashboard.require_current(session=session, staff=who.staff, comment_ids=deciding, seen=seen)
        outcomes = [work(session=session) for work in works]
        recorded = record(state.bus, session, outcomes)
    publish(state.bus, outcomes, recorded)
    return outcomes


def record(bus: EventBus, session: Session, outcomes: Sequence[Outcome]) -> Recorded:
    """Inside the actions' transaction: what must not be lost (webhook deliveries) commits with them."""
    return bus.record(session, [event for outcome in outcomes for event in outcome.events])


def publish(bus: EventBus, outcomes: Sequence[Outcome], recorded: Recorded) -> None:
    bus.publish([event for outcome in outcomes for event in outcome.events], recorded=recorded)


def after(
    request: Request,
    state: AppState,
    who: SignedIn,
    reply: Reply,
    comment_ids: list[int],
    outcomes: list[Outcome],
    message: str,
) -> Response:
    """htmx gets each item's new card (or its removal), fresh counts and a toast with Undo; a plain post a 303."""
    if not is_htmx(request):
        fallback = f"/admin/comments/{comment_ids[0]}" if len(comment_ids) == 1 else "/admin"
        return redirect(forms.safe_return(reply.next, fallback))
    with state.db.read() as session:
        answer = dashboard.after_action(
            session=session, staff=who.staff, comment_ids=comment_ids, queue=reply.queue, site=reply.site
        )
    context = {
        "after": answer,
        "scope": answer.scope,
        "counts": answer.counts,
        "queue": reply.queue,
        "site": reply.site,
        "current": reply.queue.value if reply.queue else "",
        "message": message,
        "undo_ids": [i for o in outcomes for i in (o.action_id, *o.also)],
    }
    return render(request, state, who, "admin/_after_action.html", context)
