"""Every branch of the staff authorisation module."""

from __future__ import annotations

import pytest

from parlour.accounts import access
from parlour.accounts.access import Staff
from parlour.db.tables import StaffRole
from parlour.errors import Forbidden, NotFound


def staff(role: StaffRole, *sites: str) -> Staff:
    return Staff(1, "m@example.org", "M", role, frozenset(sites))


ADMIN = staff(StaffRole.ADMIN)
EVERY_SITE_MODERATOR = staff(StaffRole.MODERATOR)
COURIER_MODERATOR = staff(StaffRole.MODERATOR, "courier")
BADGE_ONLY = staff(StaffRole.STAFF)


def test_admin_moderates_every_site() -> None:
    assert access.can_moderate(ADMIN, "courier")
    assert access.can_moderate(ADMIN, "herald")


def test_moderator_without_sites_moderates_every_site() -> None:
    assert access.can_moderate(EVERY_SITE_MODERATOR, "herald")


def test_moderator_limited_to_sites_moderates_only_those() -> None:
    assert access.can_moderate(COURIER_MODERATOR, "courier")
    assert not access.can_moderate(COURIER_MODERATOR, "herald")


def test_staff_badge_moderates_nothing() -> None:
    assert not access.can_moderate(BADGE_ONLY, "courier")
    assert not access.can_moderate(staff(StaffRole.STAFF, "courier"), "courier")


def test_dashboard_is_for_admins_and_moderators() -> None:
    assert access.can_enter_dashboard(ADMIN)
    assert access.can_enter_dashboard(COURIER_MODERATOR)
    assert not access.can_enter_dashboard(BADGE_ONLY)
    access.require_dashboard(ADMIN)
    with pytest.raises(Forbidden):
        access.require_dashboard(BADGE_ONLY)


def test_ban_across_sites_needs_reach_over_every_site() -> None:
    assert access.can_ban_on_all_sites(ADMIN)
    assert access.can_ban_on_all_sites(EVERY_SITE_MODERATOR)
    assert not access.can_ban_on_all_sites(COURIER_MODERATOR)
    assert not access.can_ban_on_all_sites(BADGE_ONLY)
    with pytest.raises(Forbidden):
        access.require_ban_on_all_sites(COURIER_MODERATOR)


def test_story_settings_follow_moderation_rights() -> None:
    assert access.can_edit_story_settings(COURIER_MODERATOR, "courier")
    assert not access.can_edit_story_settings(COURIER_MODERATOR, "herald")


def test_webhooks_are_for_admins() -> None:
    assert access.can_manage_webhooks(ADMIN)
    assert not access.can_manage_webhooks(EVERY_SITE_MODERATOR)


def test_moderated_slugs_lists_the_reachable_sites_in_order() -> None:
    assert access.moderated_slugs(COURIER_MODERATOR, {"herald", "courier"}) == ["courier"]
    assert access.moderated_slugs(ADMIN, {"herald", "courier"}) == ["courier", "herald"]
    assert access.moderated_slugs(BADGE_ONLY, {"courier"}) == []


def test_another_sites_items_are_not_found_rather_than_forbidden() -> None:
    access.require_moderator_of(COURIER_MODERATOR, "courier")
    with pytest.raises(NotFound):
        access.require_moderator_of(COURIER_MODERATOR, "herald")
