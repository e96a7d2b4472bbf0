"""`parlour mail test ADDRESS` against a real SMTP server."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from parlour.cli import app
from tests.conftest import SECRET, in_thread
from tests.notifications.conftest import SENDER, Mailbox, SmtpServer

runner = CliRunner()


def invoke(args: list[str], env: dict[str, str]) -> Result:
    # The command calls asyncio.run: in a thread of its own, whatever loop this one holds.
    return in_thread(lambda: runner.invoke(app, args, env=env))


def env(smtp: SmtpServer, **extra: str) -> dict[str, str]:
    values = {
        "PARLOUR_SECRET_KEY": SECRET,
        "PARLOUR_SMTP_HOST": "127.0.0.1",
        "PARLOUR_SMTP_PORT": str(smtp.port),
        "PARLOUR_SMTP_TLS": "none",
        "PARLOUR_MAIL_FROM": SENDER,
        "PARLOUR_PUBLIC_BASE_URL": "https://comments.example",
    }
    return values | extra


def test_sends_one_message_at_once(smtp: SmtpServer, mailbox: Mailbox) -> None:
    result = invoke(["mail", "test", "ops@courier.example"], env(smtp))
    assert result.exit_code == 0, result.output
    assert "Sent a test e-mail to ops@courier.example" in result.output
    [message] = mailbox.messages
    assert (message["To"], message["Subject"]) == ("ops@courier.example", "Parlour test e-mail")
    assert mailbox.recipients == [["ops@courier.example"]]
    text = message.get_body(("plain",))
    assert text is not None and "https://comments.example" in text.get_content()
    assert message.get_body(("html",)) is not None


def test_reports_an_unreachable_server(smtp: SmtpServer, mailbox: Mailbox) -> None:
    smtp.stop()
    result = invoke(["mail", "test", "ops@courier.example"], env(smtp))
    assert result.exit_code == 1 and "Not sent" in result.output
    assert mailbox.messages == []


def test_refuses_bad_input_and_missing_settings(smtp: SmtpServer, mailbox: Mailbox) -> None:
    bad = invoke(["mail", "test", "ops@courier.example\r\nBcc: x@y.example"], env(smtp))
    assert bad.exit_code == 2 and "Not an e-mail address" in bad.output
    no_host = invoke(["mail", "test", "ops@courier.example"], env(smtp, PARLOUR_SMTP_HOST=""))
    assert no_host.exit_code == 2
    assert mailbox.messages == []
