"""The audit log, statistics and webhook deliveries as one staff member may see them, within their sites."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from parlour.accounts.access import Staff, can_manage_webhooks
from parlour.db.engine import Database
from parlour.db.tables import WebhookDelivery
from parlour.errors import Forbidden, InvalidInput
from parlour.moderation.audit import AuditFilter, AuditPage, AuditRow, action_names, audit_page, audit_rows
from parlour.moderation.dashboard import Scope, scope_for
from parlour.moderation.stats import Stats, moderation_stats
from parlour.webhooks.service import recent_deliveries

DELIVERIES_PAGE = 50


@dataclass(frozen=True)
class AuditView:
    scope: Scope
    page: AuditPage
    actions: list[str]


@dataclass(frozen=True)
class StatsView:
    scope: Scope
    stats: Stats


@dataclass(frozen=True)
class DeliveriesView:
    scope: Scope
    deliveries: list[WebhookDelivery]
    offset: int
    has_more: bool


def audit_for(*, session: Session, staff: Staff, site: str | None, where: AuditFilter, offset: int) -> AuditView:
    """A page of the audit log; `where.site_ids` is replaced by the sites this member may see."""
    scope = scope_for(session=session, staff=staff, site=site)
    page = audit_page(session=session, where=replace(where, site_ids=scope.site_ids), offset=offset)
    return AuditView(scope, page, action_names(session=session, site_ids=scope.site_ids))


def audit_export(*, db: Database, staff: Staff, site: str | None, where: AuditFilter) -> Iterator[AuditRow]:
    """Every row of the log this member may see, for the CSV export; access is checked before the first row."""
    with db.read() as session:
        scope = scope_for(session=session, staff=staff, site=site)
    return audit_rows(db=db, where=replace(where, site_ids=scope.site_ids))


def stats_for(*, session: Session, staff: Staff, site: str | None) -> StatsView:
    scope = scope_for(session=session, staff=staff, site=site)
    return StatsView(scope, moderation_stats(session=session, site_ids=scope.site_ids))


def deliveries_for(*, session: Session, staff: Staff, site: str | None, offset: int) -> DeliveriesView:
    """The webhook delivery log of one site (the first one when none is chosen); admins only."""
    if not can_manage_webhooks(staff):
        raise Forbidden("Only admins can see webhook deliveries.")
    scope = scope_for(session=session, staff=staff, site=site)
    chosen = scope.selected or (scope.sites[0] if scope.sites else None)
    if chosen is None:
        raise InvalidInput("There is no site yet.", field="site")
    rows = recent_deliveries(session=session, site_id=chosen.id, limit=DELIVERIES_PAGE + 1, offset=offset)
    return DeliveriesView(replace(scope, selected=chosen), rows[:DELIVERIES_PAGE], offset, len(rows) > DELIVERIES_PAGE)
