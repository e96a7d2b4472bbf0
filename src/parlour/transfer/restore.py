"""`parlour restore` of an export: one transaction into an empty database, keeping every id.

Ids are kept so that a restored site exports to the same bytes and every reference (parents, authors, the
audit log) stays true without remapping. That needs a database without those ids, hence an empty one: a
database holding any site, story, author or comment is refused before anything is read. Staff accounts may
exist already (the admin who runs the restore); the export's staff are matched to them by e-mail. One
transaction: a restore that fails half-way (a bad line, a clash) leaves the database as it was.

The file is untrusted input, like a request: anyone who could edit it on its way must not be able to plant what
the API would refuse. So each comment's HTML is rendered again from its Markdown source by the live service's
renderer (the file's `html` is ignored), and the site's name, slug, origins and settings go through the API's
own models.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.comments import markup
from parlour.db.engine import Database
from parlour.db.tables import CommentStatus
from parlour.errors import Conflict, InvalidInput
from parlour.sites.schemas import STORED, SiteCreate
from parlour.sites.service import API_KEY_PREFIX, hash_api_key
from parlour.sites.urls import normalise_origin
from parlour.transfer.export import FORMAT, SECTIONS, VERSION
from parlour.transfer.report import NoProgress, Progress
from parlour.transfer.serialise import column_values, table

HEADER_LIMIT = 64 * 1024  # an export's header line is far shorter; a backup's first "line" may be anything

WRITE_CHUNK = 2000
# Not an argon2 hash, so no password matches it: restored staff need a new password from an admin.
NO_PASSWORD = "!restored"  # noqa: S105 - a marker that matches no password, not a secret


@dataclass
class RestoreResult:
    site_slug: str = ""
    api_key: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    staff_without_password: list[str] = field(default_factory=list)
    webhooks_rekeyed: int = 0
    # The site's SSO shared secret is not exported: a new random one refuses every token until it is set again.
    sso_secret_reset: bool = False


def is_export(path: Path) -> bool:
    """Whether the file starts with a Parlour export's header line (any version): `parlour restore` takes both
    exports and `parlour backup` files, and tells them apart by this."""
    try:
        with path.open("rb") as file:
            first = file.readline(HEADER_LIMIT)
        data = orjson.loads(first)
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"line {number} is not JSON: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                raise InvalidInput(f"line {number} has no type")
            yield number, data


def restore_export(*, db: Database, path: Path, progress: Progress | None = None) -> RestoreResult:
    """Rebuild a site from its export; refused if the site exists. Returns the site's new API key."""
    progress = progress or NoProgress()
    result = RestoreResult()
    lines = _lines(path)
    _number, first = next(lines, (0, {}))
    if first.get("type") != "header" or first.get("format") != FORMAT:
        raise InvalidInput(f"{path.name} is not a Parlour export: its first line is not the export header.")
    if not isinstance(first.get("version"), int) or first["version"] > VERSION:
        raise InvalidInput(
            f"{path.name} is export format version {first.get('version')}; this Parlour reads {VERSION}."
        )
    try:
        with db.write() as session:
            _refuse_non_empty(session)
            _restore_lines(session, lines, result, progress)
            _reset_sequences(session)
    except IntegrityError as exc:
        # The database was empty, so the file itself does not hold together: a repeated id, a missing field,
        # or a row referring to one the file does not hold.
        raise InvalidInput(
            f"{path.name} does not hold together: {type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}. "
            "Nothing was restored."
        ) from exc
    return result


def _restore_lines(
    session: Session, lines: Iterator[tuple[int, dict[str, Any]]], result: RestoreResult, progress: Progress
) -> None:
    known = {s.type: s for s in SECTIONS}
    staff_ids: dict[int, int] = {}  # exported staff id -> id here, for staff who exist already
    pending: list[dict[str, Any]] = []
    pending_table = ""
    for number, data in lines:
        kind = data.pop("type")
        section = known.get(kind)
        if section is None:
            raise InvalidInput(f"line {number}: unknown type {kind!r}")
        if section.table != pending_table:
            _flush(session, pending_table, pending)
            pending, pending_table = [], section.table
        try:
            values = column_values(table(section.table), data)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"line {number}: {exc}") from exc
        if kind == "site":
            _new_site(session, values, result, number)
        elif kind == "comment":
            _render_comment(values, number)
        elif kind == "staff_user":
            existing = _staff_by_email(session, values)
            if existing is not None:
                staff_ids[values["id"]] = existing
                continue
            values["password_hash"] = NO_PASSWORD
            result.staff_without_password.append(values["email"])
        elif kind == "webhook_endpoint":
            # Secrets never leave in an export: each endpoint gets a new one, to be given to its receiver.
            values["secret"] = secrets.token_urlsafe(32)
            result.webhooks_rekeyed += 1
        for key in ("staff_user_id", "claimed_by"):
            if values.get(key) in staff_ids:
                values[key] = staff_ids[values[key]]
        pending.append(values)
        result.counts[kind] += 1
        if len(pending) >= WRITE_CHUNK:
            _flush(session, pending_table, pending)
            pending = []
            progress.update(done=sum(result.counts.values()), total=0, counts=dict(result.counts))
    _flush(session, pending_table, pending)
    if not result.site_slug:
        raise InvalidInput("The export holds no site.")
    progress.update(done=sum(result.counts.values()), total=0, counts=dict(result.counts))


# What makes a database not empty for a restore: content whose ids the export's rows could clash with.
CONTENT_TABLES = ("sites", "stories", "authors", "comments")


def _refuse_non_empty(session: Session) -> None:
    held = {name: int(session.scalar(select(func.count()).select_from(table(name))) or 0) for name in CONTENT_TABLES}
    if any(held.values()):
        found = ", ".join(f"{count:,} {name}" for name, count in held.items() if count)
        raise Conflict(
            f"The database is not empty (it holds {found}); restore rebuilds a site into an empty database. "
            "Create a new database, run `parlour db upgrade` on it, and restore there. Nothing was restored."
        )


def _new_site(session: Session, values: dict[str, Any], result: RestoreResult, number: int) -> None:
    settings = values.get("settings")
    settings = dict(settings) if isinstance(settings, dict) else settings
    if isinstance(settings, dict) and settings.get("sso_algorithm") == "HS256" and not settings.get("sso_secret"):
        # Fail closed: sign-in stays as configured, and no token verifies until an admin sets the real secret.
        settings["sso_secret"] = secrets.token_urlsafe(48)
        result.sso_secret_reset = True
    checked = _checked_site(values, settings, number)
    sites = table("sites").c
    if session.scalar(select(func.count()).where(sites.slug == checked.slug)):
        raise Conflict(
            f"A site with slug {checked.slug!r} exists already; restore rebuilds a site into an empty database."
        )
    result.site_slug = checked.slug
    result.api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    values["api_key_hash"] = hash_api_key(result.api_key)
    values["settings"] = checked.settings.model_dump(mode="json", context=STORED)


def _checked_site(values: dict[str, Any], settings: Any, number: int) -> SiteCreate:
    """The site line as `POST /api/v1/sites` would take it: what the API refuses is refused here, by name."""
    fields = {"slug": values.get("slug"), "name": values.get("name"), "allowed_origins": values.get("allowed_origins")}
    try:
        checked = SiteCreate.model_validate({**fields, "settings": {} if settings is None else settings})
        values["allowed_origins"] = sorted({normalise_origin(o) for o in checked.allowed_origins})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "site"
        raise InvalidInput(f"line {number}: the site's {where} is refused: {error['msg']}.") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"line {number}: the site's allowed_origins are refused: {exc.detail}") from exc
    return checked


def _render_comment(values: dict[str, Any], number: int) -> None:
    """HTML from the comment's Markdown, as the live service renders it; the file's own HTML is never stored."""
    body = values.get("body")
    if not isinstance(body, str):
        raise InvalidInput(f"line {number}: a comment's body must be text.")
    # A deleted comment keeps no HTML (its text only while the site's deleted_text_days keep it for moderators).
    values["html"] = "" if values.get("status") == CommentStatus.DELETED.value else markup.render(body)
    values["markup_version"] = markup.MARKUP_VERSION


def _staff_by_email(session: Session, values: dict[str, Any]) -> int | None:
    staff = table("staff_users").c
    found = session.scalar(select(staff.id).where(staff.email == values.get("email")))
    return None if found is None else int(found)


def _flush(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table(name)), rows)


def _reset_sequences(session: Session) -> None:
    """PostgreSQL hands out ids from sequences that explicit ids do not move: move them past the restored rows."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite takes the next id from the largest one in the table
    for name in {s.table for s in SECTIONS}:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - names from our own table list
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )
