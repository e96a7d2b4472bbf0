"""Every authorisation decision for staff, in one place: one condition per line, each branch tested."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from parlour.db.tables import StaffRole, StaffUser
from parlour.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member as access checks see them."""

    id: int
    email: str
    display_name: str
    role: StaffRole
    # Slugs a moderator is limited to; empty means every site.
    site_slugs: frozenset[str]

    @classmethod
    def of(cls, user: StaffUser) -> Staff:
        return cls(user.id, user.email, user.display_name, user.role, frozenset(user.site_slugs))


def is_admin(staff: Staff) -> bool:
    return staff.role is StaffRole.ADMIN


def can_moderate(staff: Staff, site_slug: str) -> bool:
    """Read the queues of a site and act on its comments and authors."""
    if staff.role is StaffRole.ADMIN:
        return True
    if staff.role is not StaffRole.MODERATOR:
        return False
    return not staff.site_slugs or site_slug in staff.site_slugs


def can_enter_dashboard(staff: Staff) -> bool:
    return staff.role in {StaffRole.ADMIN, StaffRole.MODERATOR}


def can_ban_on_all_sites(staff: Staff) -> bool:
    """A ban across sites reaches sites a limited moderator does not moderate."""
    return staff.role is StaffRole.ADMIN or (staff.role is StaffRole.MODERATOR and not staff.site_slugs)


def can_edit_story_settings(staff: Staff, site_slug: str) -> bool:
    return can_moderate(staff, site_slug)


def can_manage_webhooks(staff: Staff) -> bool:
    return staff.role is StaffRole.ADMIN


def moderated_slugs(staff: Staff, all_slugs: Collection[str]) -> list[str]:
    """The sites whose queues this member sees, in a stable order."""
    return sorted(slug for slug in all_slugs if can_moderate(staff, slug))


def require_dashboard(staff: Staff) -> None:
    if not can_enter_dashboard(staff):
        raise Forbidden("Only moderators and admins can use the moderation dashboard.")


def require_moderator_of(staff: Staff, site_slug: str) -> None:
    # Not found rather than forbidden: a moderator of site A learns nothing about what site B holds.
    if not can_moderate(staff, site_slug):
        raise NotFound("No such item on the sites you moderate.")


def require_ban_on_all_sites(staff: Staff) -> None:
    if not can_ban_on_all_sites(staff):
        raise Forbidden("Only admins and moderators of every site can ban across all sites.")
