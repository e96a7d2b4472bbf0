"""What the moderation dashboard shows, gathered per page for one staff member, within the sites they moderate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parlour.accounts import sessions
from parlour.accounts.access import (
    Staff,
    can_ban_on_all_sites,
    moderated_slugs,
    require_dashboard,
    require_moderator_of,
)
from parlour.clock import utcnow
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, CommentStatus, ModerationAction, Report, Site, StaffUser, Story
from parlour.errors import Conflict, NotFound
from parlour.infra.ratelimit import RateLimiter
from parlour.moderation import actions
from parlour.moderation.audit import AuditFilter, AuditRow, audit_page
from parlour.moderation.queues import (
    AuthorHistory,
    ItemDetail,
    Queue,
    QueueFilter,
    QueueItem,
    QueuePage,
    author_history,
    in_filtered_queue,
    item_detail,
    items_by_id,
    list_queue,
    queue_condition,
    queue_counts,
)
from parlour.sites.schemas import SiteSettings
from parlour.sites.service import site_settings

RECENT_ACTIONS = 3
AUTHOR_COMMENTS = 50
SURGE_NOTICES = 5


@dataclass(frozen=True)
class SiteRef:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class Scope:
    """The sites a staff member moderates, and the one a page is narrowed to (None: all of them)."""

    sites: list[SiteRef]
    selected: SiteRef | None = None

    @property
    def site_ids(self) -> tuple[int, ...]:
        return (self.selected.id,) if self.selected else tuple(s.id for s in self.sites)


@dataclass(frozen=True)
class AuthorSummary:
    author_id: int
    first_seen: datetime
    always_premoderate: bool
    counts: dict[str, int]
    actions: int
    recent: list[tuple[str, datetime]]


@dataclass(frozen=True)
class Claim:
    name: str
    mine: bool
    until: datetime


@dataclass(frozen=True)
class Card:
    """One queue item with what a moderator needs beside it to decide."""

    item: QueueItem
    author: AuthorSummary
    reports: list[tuple[str, int]]
    report_messages: list[str]
    claim: Claim | None
    seen: int  # the comment's latest audit row when the card was drawn (0: none): a decision checks it is unchanged


@dataclass(frozen=True)
class SurgeNotice:
    story_id: int
    title: str
    site_slug: str
    at: datetime


@dataclass(frozen=True)
class QueueView:
    scope: Scope
    queue: Queue
    counts: dict[Queue, int]
    page: QueuePage
    cards: list[Card]
    surges: list[SurgeNotice]


@dataclass(frozen=True)
class QueueQuery:
    """The filters of a queue page, as the moderator gave them."""

    site: str | None = None
    story_id: int | None = None
    author_id: int | None = None
    reason: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class CommentPage:
    detail: ItemDetail
    card: Card
    audit: list[AuditRow]


@dataclass(frozen=True)
class AuthorPage:
    history: AuthorHistory
    site: SiteRef
    email: str | None
    comments: list[QueueItem]
    audit: list[AuditRow]
    can_ban_everywhere: bool


@dataclass(frozen=True)
class StoryPage:
    story: Story
    site: SiteRef
    settings: SiteSettings
    counts: dict[str, int]
    audit: list[AuditRow]
    effective_mode: str
    effective_slow_mode: int


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim | None


def sign_in(
    *, db: Database, email: str, password: str, network: str, limiter: RateLimiter, old_token: str | None
) -> sessions.NewSession:
    """A throttled sign-in that only moderators and admins pass; nothing is stored for anyone else."""
    return sessions.log_in(
        db=db,
        email=email,
        password=password,
        network=network,
        limiter=limiter,
        old_token=old_token,
        admit=require_dashboard,
    )


def scope_for(*, session: Session, staff: Staff, site: str | None = None) -> Scope:
    """The staff member's sites; asking for one they do not moderate is not found, as if it did not exist."""
    require_dashboard(staff)
    all_sites = {s.slug: s for s in session.scalars(select(Site).order_by(Site.slug))}
    refs = [SiteRef(all_sites[slug].id, slug, all_sites[slug].name) for slug in moderated_slugs(staff, all_sites)]
    if not site:
        return Scope(refs)
    selected = next((ref for ref in refs if ref.slug == site), None)
    if selected is None:
        raise NotFound("No such site among those you moderate.", field="site")
    return Scope(refs, selected)


def queue_view(*, session: Session, staff: Staff, queue: Queue, query: QueueQuery, offset: int = 0) -> QueueView:
    scope = scope_for(session=session, staff=staff, site=query.site)
    where = _queue_filter(scope, query)
    page = list_queue(session=session, queue=queue, where=where, offset=offset)
    return QueueView(
        scope=scope,
        queue=queue,
        counts=queue_counts(session=session, site_ids=scope.site_ids),
        page=page,
        cards=cards_for(session=session, staff=staff, items=page.items),
        surges=surge_notices(session=session, site_ids=scope.site_ids),
    )


def counts_for(*, session: Session, staff: Staff, site: str | None = None) -> tuple[Scope, dict[Queue, int]]:
    scope = scope_for(session=session, staff=staff, site=site)
    return scope, queue_counts(session=session, site_ids=scope.site_ids)


def card_for(
    *, session: Session, staff: Staff, comment_id: int, queue: Queue | None = None, query: QueueQuery | None = None
) -> Card | None:
    """One item's card; None when it is not in the given queue (as a page with `query`'s filters shows it).
    Another site's item is not found."""
    items = items_by_id(session, [comment_id])
    if not items:
        raise NotFound(f"No comment {comment_id}.")
    require_moderator_of(staff, items[0].site_slug)
    if queue is not None and query is not None:
        where = _queue_filter(scope_for(session=session, staff=staff, site=query.site), query)
        if not in_filtered_queue(session=session, comment_id=comment_id, queue=queue, where=where):
            return None
    elif queue is not None and not in_queue(session=session, comment_id=comment_id, queue=queue):
        return None
    return cards_for(session=session, staff=staff, items=items)[0]


def _queue_filter(scope: Scope, query: QueueQuery) -> QueueFilter:
    return QueueFilter(
        site_ids=scope.site_ids,
        story_id=query.story_id,
        author_id=query.author_id,
        reason=query.reason or None,
        text=query.text or None,
    )


def in_queue(*, session: Session, comment_id: int, queue: Queue) -> bool:
    found = session.scalar(select(Comment.id).where(Comment.id == comment_id, queue_condition(queue)))
    return found is not None


def cards_for(*, session: Session, staff: Staff, items: list[QueueItem]) -> list[Card]:
    """Cards for a page of items: authors' histories, open reports and claims in a few queries, not per item."""
    if not items:
        return []
    ids = [i.id for i in items]
    authors = _author_summaries(session, sorted({i.author_id for i in items}))
    reports: dict[int, Counter[str]] = defaultdict(Counter)
    messages: dict[int, list[str]] = defaultdict(list)
    for comment_id, reason, message in session.execute(
        select(Report.comment_id, Report.reason, Report.message)
        .where(Report.comment_id.in_(ids), Report.resolved_at.is_(None))
        .order_by(Report.id)
    ):
        reports[comment_id][reason.value] += 1
        if message:
            messages[comment_id].append(message)
    claims = _claims(session, staff, ids)
    latest = _latest_actions(session, ids)
    return [
        Card(
            item=item,
            author=authors[item.author_id],
            reports=sorted(reports[item.id].items(), key=lambda pair: (-pair[1], pair[0])),
            report_messages=messages[item.id][:3],
            claim=claims.get(item.id),
            seen=latest.get(item.id, 0),
        )
        for item in items
    ]


def surge_notices(*, session: Session, site_ids: tuple[int, ...]) -> list[SurgeNotice]:
    """Stories the surge guard switched to pre-moderation that no moderator has reset since."""
    if not site_ids:
        return []
    rows = session.execute(
        select(Story.id, Story.title, Story.url, Site.slug, Story.surge_at)
        .join(Site, Site.id == Story.site_id)
        .where(Story.site_id.in_(site_ids), Story.surge_at.is_not(None))
        .order_by(Story.surge_at.desc())
        .limit(SURGE_NOTICES)
    ).all()
    return [SurgeNotice(r.id, r.title or r.url, r.slug, r.surge_at) for r in rows]


def surges_for(*, session: Session, staff: Staff, site: str | None = None) -> list[SurgeNotice]:
    scope = scope_for(session=session, staff=staff, site=site)
    return surge_notices(session=session, site_ids=scope.site_ids)


def comment_page(*, session: Session, staff: Staff, comment_id: int) -> CommentPage:
    detail = item_detail(session=session, comment_id=comment_id)
    if detail is None:
        raise NotFound(f"No comment {comment_id}.")
    require_moderator_of(staff, detail.item.site_slug)
    card = cards_for(session=session, staff=staff, items=[detail.item])[0]
    site_id = session.scalar(select(Comment.site_id).where(Comment.id == comment_id))
    assert site_id is not None
    audit = audit_page(session=session, where=AuditFilter(site_ids=(site_id,), comment_id=comment_id), limit=100)
    return CommentPage(detail, card, audit.rows)


def author_page(*, session: Session, staff: Staff, author_id: int) -> AuthorPage:
    author = session.get(Author, author_id)
    site = session.get(Site, author.site_id) if author else None
    if author is None or site is None:
        raise NotFound(f"No author {author_id}.")
    require_moderator_of(staff, site.slug)
    recent = list(
        session.scalars(
            select(Comment.id)
            .where(Comment.author_id == author_id)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(AUTHOR_COMMENTS)
        )
    )
    audit = audit_page(session=session, where=AuditFilter(site_ids=(site.id,), author_id=author_id), limit=100)
    return AuthorPage(
        history=author_history(session=session, author_id=author_id),
        site=SiteRef(site.id, site.slug, site.name),
        email=author.email,
        comments=items_by_id(session, recent),
        audit=audit.rows,
        can_ban_everywhere=can_ban_on_all_sites(staff),
    )


def story_page(*, session: Session, staff: Staff, story_id: int) -> StoryPage:
    story, site = _story_and_site(session, staff, story_id)
    settings = site_settings(site)
    counts = {
        CommentStatus(status).value: int(n)
        for status, n in session.execute(
            select(Comment.status, func.count()).where(Comment.story_id == story_id).group_by(Comment.status)
        )
    }
    audit = audit_page(session=session, where=AuditFilter(site_ids=(site.id,), story_id=story_id), limit=100)
    slow = story.slow_mode_seconds if story.slow_mode_seconds is not None else settings.slow_mode_seconds
    return StoryPage(
        story=story,
        site=SiteRef(site.id, site.slug, site.name),
        settings=settings,
        counts=counts,
        audit=audit.rows,
        effective_mode=story.moderation_mode or settings.moderation_mode.value,
        effective_slow_mode=slow,
    )


def claim_item(*, db: Database, staff: Staff, comment_id: int) -> ClaimResult:
    """Claim an item for this moderator; when another moderator holds it, say who."""
    try:
        with db.write() as session:
            actions.claim(session=session, staff=staff, comment_id=comment_id)
    except Conflict:
        pass
    with db.read() as session:
        return ClaimResult(_claims(session, staff, [comment_id]).get(comment_id))


def require_current(
    *, session: Session, staff: Staff, comment_ids: Sequence[int], seen: Mapping[int, int] | None = None
) -> None:
    """Refuse a decision on an item another moderator has claimed, or has decided since the moderator's page showed it.

    `seen`: per comment, its latest audit row when the card was drawn (`Card.seen`). Without it a second moderator
    on an older page would silently undo the first one's decision; a double submit would log the decision twice.
    Run in the action's write transaction (the rows are locked on PostgreSQL), after the access checks: a moderator
    of another site hears "not found", never who is working on the item.
    """
    if not comment_ids:
        return
    rows = {
        row.id: row
        for row in session.execute(
            select(Comment.id, Site.slug, Comment.claimed_by, Comment.claimed_until, StaffUser.display_name)
            .join(Site, Site.id == Comment.site_id)
            .outerjoin(StaffUser, StaffUser.id == Comment.claimed_by)
            .where(Comment.id.in_(comment_ids))
            .with_for_update(of=Comment)
        )
    }
    for comment_id in comment_ids:
        if comment_id not in rows:
            raise NotFound(f"No comment {comment_id}.")
        require_moderator_of(staff, rows[comment_id].slug)
    now = utcnow()
    for comment_id in comment_ids:
        row = rows[comment_id]
        if row.claimed_by is not None and row.claimed_by != staff.id and row.claimed_until and row.claimed_until > now:
            raise Conflict(
                f"{row.display_name} is working on comment {comment_id} until {row.claimed_until:%H:%M:%S} UTC; "
                "leave it to them or try again later."
            )
    _require_unchanged(session, {i: seen[i] for i in comment_ids if seen and i in seen})


def _require_unchanged(session: Session, seen: Mapping[int, int]) -> None:
    if not seen:
        return
    latest = _latest_actions(session, list(seen))
    for comment_id, shown in seen.items():
        action_id = latest.get(comment_id, 0)
        if action_id == shown:
            continue
        row = session.execute(
            select(ModerationAction.action, ModerationAction.created_at, StaffUser.display_name)
            .outerjoin(StaffUser, StaffUser.id == ModerationAction.staff_user_id)
            .where(ModerationAction.id == action_id)
        ).one_or_none()
        if row is None:  # the audit row the page showed is gone (purged): nothing to compare with
            continue
        who = row.display_name or "Another moderator"
        did = _DONE.get(row.action, "acted on")
        raise Conflict(
            f"{who} {did} comment {comment_id} at {row.created_at:%H:%M:%S} UTC, after this page was drawn. "
            "Reload to see it as it is now, then decide again if you still need to."
        )


# Audit actions on a comment, as a sentence says them ("Mo approved comment 4").
_DONE = {
    "approve": "approved",
    "reject": "rejected",
    "feature": "featured",
    "unfeature": "unfeatured",
    "dismiss-reports": "dismissed the reports on",
    "undo": "undid a decision on",
}


def _latest_actions(session: Session, comment_ids: list[int]) -> dict[int, int]:
    """Each comment's latest audit row id, one grouped query for a page of cards."""
    if not comment_ids:
        return {}
    rows = session.execute(
        select(ModerationAction.comment_id, func.max(ModerationAction.id))
        .where(ModerationAction.comment_id.in_(comment_ids))
        .group_by(ModerationAction.comment_id)
    )
    return {comment_id: action_id for comment_id, action_id in rows if comment_id is not None}


def check_return(*, session: Session, staff: Staff, site: str | None, comment_id: int | None) -> None:
    """The site and comment an action's answer will show exist among this member's: checked before acting."""
    scope_for(session=session, staff=staff, site=site)
    if comment_id is not None:
        card_for(session=session, staff=staff, comment_id=comment_id)


def _story_and_site(session: Session, staff: Staff, story_id: int) -> tuple[Story, Site]:
    story = session.get(Story, story_id)
    site = session.get(Site, story.site_id) if story else None
    if story is None or site is None:
        raise NotFound(f"No story {story_id}.")
    require_moderator_of(staff, site.slug)
    return story, site


def _author_summaries(session: Session, author_ids: list[int]) -> dict[int, AuthorSummary]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for author_id, status, n in session.execute(
        select(Comment.author_id, Comment.status, func.count())
        .where(Comment.author_id.in_(author_ids))
        .group_by(Comment.author_id, Comment.status)
    ):
        counts[author_id][CommentStatus(status).value] = int(n)
    totals = dict(
        session.execute(
            select(ModerationAction.author_id, func.count())
            .where(ModerationAction.author_id.in_(author_ids), ModerationAction.comment_id.is_(None))
            .group_by(ModerationAction.author_id)
        ).all()
    )
    rank = func.row_number().over(partition_by=ModerationAction.author_id, order_by=ModerationAction.id.desc())
    ranked = (
        select(ModerationAction.author_id, ModerationAction.action, ModerationAction.created_at, rank.label("rank"))
        .where(ModerationAction.author_id.in_(author_ids), ModerationAction.comment_id.is_(None))
        .subquery()
    )
    recent: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for author_id, action, created_at in session.execute(
        select(ranked.c.author_id, ranked.c.action, ranked.c.created_at)
        .where(ranked.c.rank <= RECENT_ACTIONS)
        .order_by(ranked.c.author_id, ranked.c.rank)
    ):
        recent[author_id].append((action, created_at))
    facts = {
        row.id: row
        for row in session.execute(
            select(Author.id, Author.created_at, Author.always_premoderate).where(Author.id.in_(author_ids))
        )
    }
    return {
        a: AuthorSummary(
            a, facts[a].created_at, facts[a].always_premoderate, counts.get(a, {}), int(totals.get(a, 0)), recent[a]
        )
        for a in author_ids
    }


def _claims(session: Session, staff: Staff, ids: list[int]) -> dict[int, Claim]:
    now = utcnow()
    rows = session.execute(
        select(Comment.id, Comment.claimed_by, Comment.claimed_until, StaffUser.display_name)
        .join(StaffUser, StaffUser.id == Comment.claimed_by)
        .where(Comment.id.in_(ids), Comment.claimed_until > now)
    ).all()
    return {r.id: Claim(r.display_name, r.claimed_by == staff.id, r.claimed_until) for r in rows}


@dataclass(frozen=True)
class AfterAction:
    """What an htmx action answers with: each item's card while it still belongs to its queue, and new counts."""

    cards: dict[int, Card | None]
    scope: Scope
    counts: dict[Queue, int]


def after_action(
    *, session: Session, staff: Staff, comment_ids: list[int], queue: Queue | None, site: str | None = None
) -> AfterAction:
    cards = {i: card_for(session=session, staff=staff, comment_id=i, queue=queue) for i in comment_ids}
    scope, counts = counts_for(session=session, staff=staff, site=site)
    return AfterAction(cards, scope, counts)
