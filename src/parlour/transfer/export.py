"""`parlour export`: one site as JSON Lines (README, "Moving in and out"), streamed, in the order restore inserts.

A header line first, an end line last (it counts the lines between, per type), a row a line in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson
from sqlalchemy import Select, func, select, union
from sqlalchemy.orm import Session

from parlour.db.engine import Database
from parlour.sites.service import get_site
from parlour.transfer import serialise
from parlour.transfer.report import NoProgress, Progress
from parlour.transfer.serialise import table

FORMAT = "parlour-export"
# 2: the file ends with an end line that counts its lines, so a file cut short is refused (1 had none).
VERSION = 2
END = "end"
READ_CHUNK = 2000


@dataclass(frozen=True)
class Section:
    """One kind of line: its type name, the table, and how a row becomes a dict."""

    type: str
    table: str
    serialise: Callable[[Any], dict[str, Any]]


# The order rows are written and restored in: everything a row refers to comes before it.
SECTIONS = (
    Section("site", "sites", serialise.site_dict),
    Section("staff_user", "staff_users", serialise.staff_user_dict),
    Section("story", "stories", serialise.story_dict),
    Section("author", "authors", serialise.author_dict),
    # Readers' e-mail: confirmed addresses, whose comments each hears about, and choices (an unsubscribe is an
    # `all` row turned off). Ids kept, so the signed links in mail already sent still name the right address.
    Section("mail_address", "mail_addresses", serialise.mail_address_dict),
    Section("mail_address_author", "mail_address_authors", serialise.mail_address_author_dict),
    Section("mail_subscription", "mail_subscriptions", serialise.mail_subscription_dict),
    Section("comment", "comments", serialise.comment_dict),
    Section("reaction", "reactions", serialise.reaction_dict),
    Section("report", "reports", serialise.report_dict),
    Section("moderation_action", "moderation_actions", serialise.moderation_action_dict),
    Section("webhook_endpoint", "webhook_endpoints", serialise.webhook_endpoint_dict),
    Section("imported_item", "imported_items", serialise.imported_item_dict),
)


def header() -> dict[str, Any]:
    # No export time: an export restored and exported again must be the same bytes.
    return {"type": "header", "format": FORMAT, "version": VERSION}


def _query(section: Section, site_id: int) -> Select[Any]:
    t = table(section.table)
    if section.table == "sites":
        query = select(t).where(t.c.id == site_id)
    elif section.table in {"reactions", "reports"}:
        comments = table("comments").c
        query = select(t).where(t.c.comment_id.in_(select(comments.id).where(comments.site_id == site_id)))
    elif section.table in {"mail_address_authors", "mail_subscriptions"}:
        addresses = table("mail_addresses").c
        query = select(t).where(t.c.address_id.in_(select(addresses.id).where(addresses.site_id == site_id)))
    elif section.table == "staff_users":
        # Staff are not per site: only those the site's audit log and claims name, without their passwords.
        actions, comments = table("moderation_actions").c, table("comments").c
        named = union(
            select(actions.staff_user_id).where(actions.site_id == site_id),
            select(comments.claimed_by).where(comments.site_id == site_id),
        ).subquery()
        query = select(t).where(t.c.id.in_(select(named.c[0])))
    else:
        # Staff members' own addresses (for the digest) have no site: they are not the site's.
        query = select(t).where(t.c.site_id == site_id)
    return query.order_by(*t.primary_key.columns)


def _rows(session: Session, site_id: int) -> Iterator[tuple[Section, Any]]:
    for section in SECTIONS:
        result = session.execute(_query(section, site_id).execution_options(yield_per=READ_CHUNK))
        for row in result:
            yield section, row._mapping


def count_rows(*, db: Database, site_slug: str) -> int:
    with db.read() as session:
        site_id = get_site(session=session, slug=site_slug).id
        return sum(
            int(session.scalar(select(func.count()).select_from(_query(s, site_id).subquery())) or 0) for s in SECTIONS
        )


def end_line(counts: Mapping[str, int]) -> dict[str, Any]:
    """The last line: how many lines come between it and the header, and of which type, every type named."""
    return {"type": END, "lines": sum(counts.values()), "counts": {s.type: counts.get(s.type, 0) for s in SECTIONS}}


def snapshot(session: Session) -> None:
    """Make the session's transaction one snapshot, before its first statement.

    SQLite's read transaction is one already. PostgreSQL's default, READ COMMITTED, gives every statement its own,
    so comments posted while an export reads would be written without their authors, and restore would refuse it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def export_site(*, db: Database, site_slug: str, out: IO[bytes], progress: Progress | None = None) -> int:
    """Write the site as JSON Lines; returns the number of lines between the header and the end line."""
    progress = progress or NoProgress()
    total = count_rows(db=db, site_slug=site_slug)
    counts: Counter[str] = Counter()
    written = 0
    out.write(orjson.dumps(header()) + b"\n")
    # One read transaction: a consistent snapshot of the site while readers go on posting.
    with db.read() as session:
        snapshot(session)
        site_id = get_site(session=session, slug=site_slug).id
        for section, row in _rows(session, site_id):
            out.write(orjson.dumps({"type": section.type, **section.serialise(row)}) + b"\n")
            counts[section.type] += 1
            written += 1
            if written % READ_CHUNK == 0:
                progress.update(done=written, total=total, counts={"lines": written})
    # Written last: a file cut short (a full disk, a copy interrupted) has no end line, and restore refuses it.
    out.write(orjson.dumps(end_line(counts)) + b"\n")
    progress.update(done=written, total=max(total, written), counts={"lines": written})
    return written
