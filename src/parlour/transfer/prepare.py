"""The CPU work on one imported comment, before any transaction: Markdown source, rendered HTML, clean author."""

from __future__ import annotations

from dataclasses import dataclass

from parlour.db.tables import CommentStatus
from parlour.errors import InvalidInput
from parlour.sites.urls import normalise_website
from parlour.transfer import prose
from parlour.transfer.htmlmd import clean_text, html_to_markdown
from parlour.transfer.records import Malformed, SourceComment

MAX_NAME = 64  # authors.display_name
MAX_EMAIL = 320
# Longer than any comment a reader would write; the site's own limit applies to new comments only.
MAX_IMPORTED_CHARS = 100_000
ANONYMOUS = "Anonymous"


@dataclass(frozen=True)
class PreparedAuthor:
    name: str
    email: str | None
    website: str | None
    # Who this author is across comments of the import: the e-mail, or the source's account name; None: nobody.
    key: str | None


@dataclass(frozen=True)
class Prepared:
    record: SourceComment
    body: str
    html: str
    author: PreparedAuthor


def prepare(record: SourceComment) -> Prepared | Malformed:
    """Convert the text to Markdown and render it as the live service does; tombstones keep no text."""
    if len(record.text) > MAX_IMPORTED_CHARS:
        return Malformed(record.position, f"the comment is longer than {MAX_IMPORTED_CHARS:,} characters")
    if record.status == CommentStatus.DELETED:
        body = html = ""
    else:
        source = record.text if record.text_format == "markdown" else html_to_markdown(record.text)
        body = clean_text(source).strip()
        if not body:
            return Malformed(record.position, "nothing is left of the comment's text")
        html = prose.render(body)
    return Prepared(record, body, html, prepare_author(record))


def prepare_author(record: SourceComment) -> PreparedAuthor:
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
    key = email or (f"user:{author.username}"[:200] if author.username else None)
    return PreparedAuthor(name, email, website, key)
