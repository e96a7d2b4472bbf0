"""Rows as plain JSON-ready dicts, and back: the export, the restore and a reader's own data export use these.

Every column is written (so new columns travel without changes here) except secrets: a site's API key hash and
its SSO shared secret, staff password hashes and webhook signing secrets. Times are ISO 8601 in UTC, bytes are
hex, enums their value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Enum, LargeBinary, Table
from sqlalchemy import inspect as sa_inspect

from parlour.db.tables import Base, UTCDateTime

Row = Mapping[str, Any] | Base

# Never exported: whoever holds them could act as the site, a moderator or the site's webhooks.
SECRETS: dict[str, frozenset[str]] = {
    "sites": frozenset({"api_key_hash"}),
    "staff_users": frozenset({"password_hash"}),
    "webhook_endpoints": frozenset({"secret"}),
}
# Secrets inside a site's settings (JSON): the HS256 key publishers sign their readers' tokens with.
SETTINGS_SECRETS = frozenset({"sso_secret"})


# Values JSON takes as they are: most of a row; checked first, by exact type (an enum may subclass str or int).
_AS_IS = frozenset({str, int, float, bool, list, dict})


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def _columns(table: Table, row: Row) -> dict[str, Any]:
    values = row if isinstance(row, Mapping) else {c.key: getattr(row, c.key) for c in sa_inspect(row).mapper.columns}
    return {name: _encode(values[name]) for name in _exported(table.name)}


@cache
def _exported(name: str) -> tuple[str, ...]:
    """The columns of a table that are written, in order (once per table: an export asks millions of times)."""
    hidden = SECRETS.get(name, frozenset())
    return tuple(c.name for c in table(name).columns if c.name not in hidden)


def _encode(value: Any) -> Any:
    if value is None or type(value) in _AS_IS:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def site_dict(row: Row) -> dict[str, Any]:
    data = _columns(table("sites"), row)
    settings = data.get("settings") or {}
    data["settings"] = {k: v for k, v in settings.items() if k not in SETTINGS_SECRETS}
    return data


def story_dict(row: Row) -> dict[str, Any]:
    return _columns(table("stories"), row)


def author_dict(row: Row) -> dict[str, Any]:
    return _columns(table("authors"), row)


def mail_address_dict(row: Row) -> dict[str, Any]:
    return _columns(table("mail_addresses"), row)


def mail_address_author_dict(row: Row) -> dict[str, Any]:
    return _columns(table("mail_address_authors"), row)


def mail_subscription_dict(row: Row) -> dict[str, Any]:
    return _columns(table("mail_subscriptions"), row)


def comment_dict(row: Row) -> dict[str, Any]:
    return _columns(table("comments"), row)


def reaction_dict(row: Row) -> dict[str, Any]:
    return _columns(table("reactions"), row)


def report_dict(row: Row) -> dict[str, Any]:
    return _columns(table("reports"), row)


def moderation_action_dict(row: Row) -> dict[str, Any]:
    return _columns(table("moderation_actions"), row)


def staff_user_dict(row: Row) -> dict[str, Any]:
    return _columns(table("staff_users"), row)


def webhook_endpoint_dict(row: Row) -> dict[str, Any]:
    return _columns(table("webhook_endpoints"), row)


def imported_item_dict(row: Row) -> dict[str, Any]:
    return _columns(table("imported_items"), row)


def column_values(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """A serialised row back to values for an INSERT; an unknown column is refused by name."""
    unknown = set(data) - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"unknown field(s) for {table.name}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in data:
            continue
        value = data[column.name]
        if value is not None and isinstance(column.type, DateTime | UTCDateTime):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                # Refused here by name: the database layer would refuse it later without saying which line.
                raise ValueError(f"{column.name} {data[column.name]!r} is a time without a timezone")
        elif value is not None and isinstance(column.type, LargeBinary):
            value = bytes.fromhex(value)
        elif value is not None and isinstance(column.type, Enum) and value not in column.type.enums:
            # Refused here by name: the database's CHECK would refuse it later without saying which line.
            raise ValueError(f"{column.name} {value!r} is not one of {', '.join(column.type.enums)}")
        values[column.name] = value
    return values
