"""A letter (plain facts and our own links) becomes a MIME e-mail: a text part and an HTML part, RFC 8058 headers."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

HTML_STYLE = "font-family:system-ui,-apple-system,sans-serif;font-size:16px;line-height:1.5;color:#111;max-width:40em"
QUOTE_STYLE = "margin:0.5em 0;padding:0.25em 0 0.25em 0.75em;border-left:3px solid #bbb;color:#333"
FOOT_STYLE = "font-size:13px;color:#555;border-top:1px solid #ddd;padding-top:0.75em;margin-top:2em"


@dataclass(frozen=True)
class Quote:
    label: str
    text: str  # already plain and defanged (plaintext.quoted_comment)


@dataclass(frozen=True)
class Section:
    lead: str
    quotes: tuple[Quote, ...] = ()
    link: tuple[str, str] | None = None  # (label, URL on the public base URL)


@dataclass(frozen=True)
class Letter:
    subject: str
    greeting: str
    sections: list[Section]
    why: str  # why the recipient gets this
    unsubscribe: tuple[str, str]  # (label, one-click URL for this recipient and category)
    manage: tuple[str, str] | None = None
    extra_links: list[tuple[str, str]] = field(default_factory=list)


def to_email(letter: Letter, *, sender_name: str, sender: str, to: str, message_id: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((_one_line(sender_name), sender))
    message["To"] = to
    message["Subject"] = _one_line(letter.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    # RFC 8058: a mail client may unsubscribe with one POST to this URL, without opening a page.
    message["List-Unsubscribe"] = f"<{letter.unsubscribe[1]}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    message.set_content(text_body(letter))
    message.add_alternative(html_body(letter), subtype="html")
    return message


def message_id(*, row_id: int, sender: str) -> str:
    """Stable across retries, so a receiving server can drop a duplicate if a retry follows a lost answer."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "parlour.invalid"
    return f"<parlour.{row_id}@{domain}>"


def text_body(letter: Letter) -> str:
    lines = [letter.greeting, ""]
    for section in letter.sections:
        lines.append(section.lead)
        for quote in section.quotes:
            lines += ["", quote.label] + [f"> {line}" if line else ">" for line in quote.text.splitlines()]
        if section.link:
            lines += ["", f"{section.link[0]}: {section.link[1]}"]
        lines.append("")
    lines += ["-- ", letter.why]
    for label, url in [*letter.extra_links, letter.unsubscribe, *([letter.manage] if letter.manage else [])]:
        lines.append(f"{label}: {url}")
    return "\n".join(lines) + "\n"


def html_body(letter: Letter) -> str:
    e = html.escape
    parts = [f'<!doctype html><html><body style="{HTML_STYLE}">', f"<p>{e(letter.greeting)}</p>"]
    for section in letter.sections:
        parts.append(f"<p>{e(section.lead)}</p>")
        for quote in section.quotes:
            text = "<br>".join(e(line) for line in quote.text.splitlines())
            parts.append(
                f'<p style="margin-bottom:0">{e(quote.label)}</p><blockquote style="{QUOTE_STYLE}">{text}</blockquote>'
            )
        if section.link:
            parts.append(f'<p><a href="{e(section.link[1])}">{e(section.link[0])}</a></p>')
    links = [*letter.extra_links, letter.unsubscribe, *([letter.manage] if letter.manage else [])]
    anchors = " · ".join(f'<a href="{e(url)}">{e(label)}</a>' for label, url in links)
    parts.append(f'<p style="{FOOT_STYLE}">{e(letter.why)}<br>{anchors}</p></body></html>')
    return "\n".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
