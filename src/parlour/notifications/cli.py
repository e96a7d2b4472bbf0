"""`parlour mail test ADDRESS`: send one message with the configured SMTP settings, and say what went wrong."""

from __future__ import annotations

import asyncio
import html
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Annotated

import typer
from rich.console import Console

from parlour.cli_support import errors, settings_or_exit
from parlour.clock import utcnow
from parlour.notifications.smtp import send
from parlour.settings import Settings

mail_app = typer.Typer(help="E-mail notifications.", no_args_is_help=True)
console = Console()


def sample_message(settings: Settings, to: str) -> EmailMessage:
    """A message that proves the SMTP settings work, and says which Parlour sent it."""
    assert settings.mail_from is not None
    message = EmailMessage()
    message["From"] = formataddr(("Parlour", settings.mail_from))
    message["To"] = to
    message["Subject"] = "Parlour test e-mail"
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_tls})"
    text = (
        f"This test e-mail was sent by the Parlour at {settings.public_base_url} through {where}.\n"
        "Notifications to readers and moderators will be sent the same way.\n"
    )
    message.set_content(text)
    message.add_alternative(
        "<!doctype html><html><body><p>" + "</p><p>".join(html.escape(line) for line in text.splitlines()) + "</p>"
        "</body></html>",
        subtype="html",
    )
    return message


@mail_app.command("test")
def mail_test(address: Annotated[str, typer.Argument(help="Where to send the test e-mail.")]) -> None:
    """Send a test e-mail with the SMTP settings (PARLOUR_SMTP_*), at once, not through the outbox."""
    settings = settings_or_exit()
    if not settings.smtp_host:
        errors.print("[red]No SMTP server:[/red] set PARLOUR_SMTP_HOST and PARLOUR_MAIL_FROM first.")
        raise typer.Exit(2)
    if "@" not in address or any(c in address for c in "\r\n<>,; ") or len(address) > 320:
        errors.print(f"[red]Not an e-mail address:[/red] {address!r}")
        raise typer.Exit(2)
    result = asyncio.run(send(sample_message(settings, address), settings))
    if not result.ok:
        errors.print(f"[red]Not sent:[/red] {result.error}")
        raise typer.Exit(1)
    console.print(f"Sent a test e-mail to {address} through {settings.smtp_host}:{settings.smtp_port}.")
