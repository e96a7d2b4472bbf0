"""The CPU work on one imported comment, before any transaction: Markdown source, rendered HTML, clean author."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from parlour.db.tables import CommentStatus
from parlour.errors import InvalidInput
from parlour.sites.urls import normalise_website
from parlour.transfer import prose
from parlour.transfer.htmlmd import clean_text, html_to_markdown
from parlour.transfer.records import Malformed, Skipped, SourceComment

MAX_NAME = 64  # authors.display_name
MAX_EMAIL = 320
MAX_KEY = 200  # imported_items.source_id
# Longer than any comment a reader would write; the site's own limit applies to new comments only.
MAX_IMPORTED_CHARS = 100_000
ANONYMOUS = "Anonymous"


class Prepared(NamedTuple):
    """A comment ready to be placed and written; flat, so it pickles cheaply between the import's processes."""

    source_id: str
    thread_id: str
    parent_id: str | None
    created_at: datetime
    status: CommentStatus
    position: str
    note: str
    body: str
    html: str
    author_name: str
    author_email: str | None
    author_website: str | None
    # Who the author is across comments of the import: e-mail and name, or the source's account; None: nobody.
    author_key: str | None


def prepare(record: SourceComment) -> Prepared | Malformed | Skipped:
    """Convert the text to Markdown and render it as the live service does; tombstones keep no text."""
    if len(record.text) > MAX_IMPORTED_CHARS:
        # Well-formed, only too long to take: said as it is, not as "malformed".
        reason = f"too long: {len(record.text):,} characters, over the import limit of {MAX_IMPORTED_CHARS:,}"
        return Skipped(record.position, reason, record.source_id)
    if record.status == CommentStatus.DELETED:
        body = html = ""
    else:
        source = record.text if record.text_format == "markdown" else html_to_markdown(record.text)
        body = clean_text(source).strip()
        if not body:
            return Malformed(record.position, "nothing is left of the comment's text", record.source_id)
        html = prose.render(body)
    name, email, website, key = prepare_author(record)
    return Prepared(
        record.source_id,
        record.thread_id,
        record.parent_id,
        record.created_at,
        record.status,
        record.position,
        record.note,
        body,
        html,
        name,
        email,
        website,
        key,
    )


def prepare_author(record: SourceComment) -> tuple[str, str | None, str | None, str | None]:
    """The author's display name, e-mail, website and key (see Prepared.author_key)."""
    author = record.author
    name = " ".join(clean_text(author.name).split())[:MAX_NAME] or ANONYMOUS
    email = author.email.strip().lower() if author.email else None
    if email is not None and (len(email) > MAX_EMAIL or "@" not in email or any(c.isspace() for c in email)):
        email = None
    website = None
    if author.website:
        try:
            website = normalise_website(author.website)
        except InvalidInput:
            website = None
    key = author_key(email, name) if email else (f"user:{author.username}"[:MAX_KEY] if author.username else None)
    return name, email, website, key


def author_key(email: str, name: str) -> str:
    """An e-mail author's key: address and name, as the live service tells anonymous authors apart.

    An address proves nothing (see moderation/intake.identity_key): two people who gave the same one are two
    authors, and one person under two names is two, as they would be commenting live.
    """
    # No whitespace in the address: the last " <" parts the two, so no two pairs give the same key.
    key = f"{name} <{email}>"
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()  # imported_items.source_id holds 200
