"""`parlour restore` of an export: one transaction into an empty database, keeping every id.

Ids are kept so that a restored site exports to the same bytes and every reference (parents, authors, the
audit log) stays true without remapping. That needs a database without those ids, hence an empty one: a
database holding any site, story, author or comment is refused before anything is read. Staff accounts may
exist already (the admin who runs the restore); the export's staff are matched to them by e-mail. One
transaction: a restore that fails half-way (a bad line, a clash) leaves the database as it was.

The file is untrusted input, like a request: anyone who could edit it on its way must not be able to plant what
the API would refuse. So each comment's HTML is rendered again from its Markdown source by the live service's
renderer (the file's `html` is ignored), the site's name, slug, origins and settings go through the API's own
models, and every other line through the API's validators (restore_checks).
"""

from __future__ import annotations

import os
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, UniqueConstraint, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parlour.comments import markup
from parlour.db.engine import Database
from parlour.db.tables import CommentStatus
from parlour.errors import Conflict, InvalidInput
from parlour.sites.schemas import STORED, SiteCreate
from parlour.sites.service import API_KEY_PREFIX, hash_api_key
from parlour.sites.urls import normalise_origin
from parlour.transfer.export import END, FORMAT, SECTIONS, VERSION
from parlour.transfer.recount import recount
from parlour.transfer.report import NoProgress, Progress
from parlour.transfer.restore_checks import LineChecks
from parlour.transfer.serialise import SECRETS, column_values, table
from parlour.webhooks.addresses import Resolver, resolve

HEADER_LIMIT = 64 * 1024  # an export's header line is far shorter; a backup's first "line" may be anything
END_LIMIT = 64 * 1024  # the end line is far shorter too
ENDED_SINCE = 2  # the first export version that ends with an end line

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
    # What the admin should know though the restore succeeded (an old export's completeness, counters fixed).
    warnings: list[str] = field(default_factory=list)


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


def restore_export(
    *, db: Database, path: Path, progress: Progress | None = None, resolver: Resolver | None = None
) -> RestoreResult:
    """Rebuild a site from its export; refused if the site exists. Returns the site's new API key.

    resolver: looks webhook hosts up, as the API does when an endpoint is created (tests give their own).
    """
    progress = progress or NoProgress()
    result = RestoreResult()
    checks = LineChecks(resolver=resolver or resolve, warnings=result.warnings)
    lines = _lines(path)
    _number, first = next(lines, (0, {}))
    if first.get("type") != "header" or first.get("format") != FORMAT:
        raise InvalidInput(f"{path.name} is not a Parlour export: its first line is not the export header.")
    version = first.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise InvalidInput(f"{path.name} is export format version {version}; this Parlour reads 1 to {VERSION}.")
    expected: dict[str, Any] | None = None
    if version >= ENDED_SINCE:
        expected = _end_line(path)  # before anything is written: a file cut short is refused at once
    else:
        result.warnings.append(
            f"{path.name} is a version {version} export, which has no end line: whether it is complete cannot be "
            "told. Compare the counts above with the site it came from; the stories' and comments' counters were "
            "computed again from the rows restored."
        )
    try:
        with db.write() as session:
            _refuse_non_empty(session)
            _restore_lines(session, lines, result, progress, expected, checks)
            sites = table("sites").c
            site_id = session.execute(select(sites.id).where(sites.slug == result.site_slug)).scalar_one()
            wrong = recount(session, int(site_id))
            if wrong and version >= ENDED_SINCE:
                result.warnings.append(
                    f"{wrong:,} counter(s) in the file (comments on a story, replies, reactions or open reports "
                    "of a comment) did not agree with its rows and were computed again."
                )
            _reset_sequences(session)
    except IntegrityError as exc:
        # The database was empty, so the file itself does not hold together: a repeated id, a missing field,
        # or a row referring to one the file does not hold. The database says which constraint, not which line:
        # a second reading of the file (only now, so a good restore keeps no ids in memory) finds it.
        if expected is not None:
            # Lines lost in the middle break references first; what is missing is the better thing to say.
            read = Counter(data["type"] for _n, data in _lines(path) if data["type"] not in {"header", END})
            _check_end(0, expected, read)
        found = first_break(path) or "a row breaks one of the database's constraints"
        raise InvalidInput(f"{path.name} does not hold together: {found}. Nothing was restored.") from exc
    return result


def _end_line(path: Path) -> dict[str, Any]:
    """The file's last line, which must be the end line: a file without it was cut short."""
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - END_LIMIT))
        tail = file.read().rstrip()
    try:
        data = orjson.loads(tail.rpartition(b"\n")[2])
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("type") != END:
        raise InvalidInput(
            f"{path.name} does not end with the export's end line: it is incomplete (cut short while it was "
            "written or copied?). Export the site again. Nothing was restored."
        )
    return data


def _check_end(number: int, end: dict[str, Any], read: Counter[str]) -> None:
    """The end line's counts against the lines read; what is missing (or extra) is named by type."""
    counts = end.get("counts")
    if not isinstance(counts, dict) or not isinstance(end.get("lines"), int):
        raise InvalidInput(f"line {number}: the end line has no lines and counts.")
    differ = [
        f"{counts.get(kind, 0):,} {kind} line(s) but the file holds {read[kind]:,}"
        for kind in sorted(set(counts) | set(read))
        if counts.get(kind, 0) != read[kind]
    ]
    if end["lines"] != sum(read.values()):
        differ.append(f"{end['lines']:,} lines in all but the file holds {sum(read.values()):,}")
    if differ:
        raise InvalidInput(
            f"{f'line {number}: ' if number else ''}the end line counts {'; '.join(differ)}. The file is "
            "incomplete or was edited; export the site again. Nothing was restored."
        )


def first_break(path: Path) -> str | None:
    """The first line whose row the database would refuse for want of another row, or as a repeat; None if none."""
    known = {s.type: s for s in SECTIONS}
    seen: dict[str, set[tuple[Any, ...]]] = defaultdict(set)  # per table and key ("id" or a unique set), values
    for number, data in _lines(path):
        section = known.get(data["type"])
        if section is None:
            continue  # the header, the end line: checked elsewhere
        t = table(section.table)
        what = f"{section.type} {data['id']}" if "id" in data else section.type
        for column in t.columns:
            value = data.get(column.name)
            if value is None:
                filled_here = column.primary_key or column.name in SECRETS.get(t.name, ())  # new secrets
                if not column.nullable and column.default is None and not filled_here:
                    return f"line {number}: {what} has no {column.name}"
                continue
            for key in column.foreign_keys:
                target = key.column.table.name
                if (value,) not in seen[f"{target}.{key.column.name}"]:
                    return f"line {number}: {what} refers to {_singular(target)} {value}, which no line before it holds"
        for columns in _keys(t):
            values = tuple(data.get(c) for c in columns)
            if None in values:
                continue  # NULLs never clash
            if values in seen[f"{t.name}.{','.join(columns)}"]:
                repeated = ", ".join(f"{c} {v!r}" for c, v in zip(columns, values, strict=True))
                return f"line {number}: {what} repeats the {repeated} of an earlier {section.type}"
            seen[f"{t.name}.{','.join(columns)}"].add(values)
    return None


def _keys(t: Table) -> list[tuple[str, ...]]:
    """The column sets a table holds unique: its primary key, unique constraints and unique columns."""
    keys = [tuple(c.name for c in t.primary_key.columns)]
    keys += [tuple(c.name for c in u.columns) for u in t.constraints if isinstance(u, UniqueConstraint)]
    keys += [(c.name,) for c in t.columns if c.unique]
    return list(dict.fromkeys(keys))  # a unique column is also among the constraints


def _singular(table_name: str) -> str:
    return {"stories": "story", "staff_users": "staff_user"}.get(table_name, table_name.removesuffix("s"))


def _restore_lines(
    session: Session,
    lines: Iterator[tuple[int, dict[str, Any]]],
    result: RestoreResult,
    progress: Progress,
    expected: dict[str, Any] | None,
    checks: LineChecks,
) -> None:
    known = {s.type: s for s in SECTIONS}
    staff_ids: dict[int, int] = {}  # exported staff id -> id here, for staff who exist already
    pending: list[dict[str, Any]] = []
    pending_table = ""
    read: Counter[str] = Counter()  # lines of each type, for the end line
    ended = False
    for number, data in lines:
        kind = data.pop("type")
        if ended:
            raise InvalidInput(f"line {number} comes after the end line.")
        if kind == END and expected is not None:
            _check_end(number, data, read)
            ended = True
            continue
        read[kind] += 1
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
            _new_site(session, values, result, number, checks)
        checks.check(kind, values, number)
        if kind == "comment":
            _render_comment(values)
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
    checks.finish()
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


def _new_site(session: Session, values: dict[str, Any], result: RestoreResult, number: int, checks: LineChecks) -> None:
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
    checks.restored_site(number, values.get("id"), checked.slug, checked.settings, values["allowed_origins"])


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


def _render_comment(values: dict[str, Any]) -> None:
    """HTML from the comment's Markdown (checked already), as the live service renders it; never the file's HTML."""
    body = values["body"]
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
    for name in sorted({s.table for s in SECTIONS if "id" in table(s.table).c}):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - names from our own table list
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )
