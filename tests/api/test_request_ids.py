"""Request ids: a trusted proxy's or a new one, answered in X-Request-ID and carried by every log line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from parlour.app import create_app
from parlour.infra.logs import HANDLER_NAME
from parlour.scoring.protocol import Scores
from parlour.settings import Settings
from tests.conftest import SiteInfo, post

HEX_ID = re.compile(r"[0-9a-f]{32}")
PROXY = ("127.0.0.1", 40000)
READER = ("198.51.100.7", 40000)


class LoggingScorer:
    """Logs from inside the scorer, which runs in a worker thread of the post handler."""

    name = "logging"

    def score(self, text: str) -> Scores:
        logging.getLogger("parlour.test").info("scoring %d characters", len(text))
        return Scores(model=self.name)


@contextmanager
def app_client(settings: Settings, peer: tuple[str, int], **options: Any) -> Iterator[tuple[TestClient, io.StringIO]]:
    """A client whose requests come from `peer`, and the app's log output."""
    app = create_app(
        settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"], **options}), scorer=LoggingScorer()
    )
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    output = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    with TestClient(app, base_url="https://comments.example", client=peer) as client:
        yield client, output


def test_every_response_carries_a_new_request_id(settings: Settings) -> None:
    with app_client(settings, READER) as (client, _logs):
        first, second = client.get("/healthz"), client.get("/nowhere")
    assert HEX_ID.fullmatch(first.headers["x-request-id"])
    assert HEX_ID.fullmatch(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_readers_request_id_is_not_believed(settings: Settings) -> None:
    with app_client(settings, READER) as (client, _logs):
        response = client.get("/healthz", headers={"X-Request-ID": "chosen-by-the-reader"})
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("given", "kept"),
    [("f1d2d2f924e986ac86fdf7b36c94bcdf", True), ("edge-7.abc_1", True), ("two words", False), ("x" * 129, False)],
)
def test_a_trusted_proxys_well_formed_request_id_is_kept(settings: Settings, given: str, kept: bool) -> None:
    with app_client(settings, PROXY) as (client, _logs):
        answered = client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"]
    assert (answered == given) is kept
    if not kept:
        assert HEX_ID.fullmatch(answered)


def test_json_log_lines_carry_the_request_id_even_from_worker_threads(settings: Settings, site: SiteInfo) -> None:
    with app_client(settings, READER, access_log=True) as (client, logs):
        response = client.post(
            "/api/v1/comments",
            json={"site": site.slug, "url": "https://news.example/a", "body": "Well said.", "author": {"name": "A"}},
        )
    request_id = response.headers["x-request-id"]
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    mine = [line for line in lines if line["request_id"] == request_id]
    scoring = next(line for line in mine if line["logger"] == "parlour.test")
    assert scoring["message"] == "scoring 10 characters"
    assert scoring["level"] == "info"
    access = next(line for line in mine if line["logger"] == "parlour.access")
    assert access["route"] == "/api/v1/comments"
    assert access["status"] == 201
    assert access["method"] == "POST"
    assert access["duration_ms"] >= 0


def test_text_log_lines_carry_the_request_id(settings: Settings, site: SiteInfo) -> None:
    with app_client(settings, READER, log_format="text") as (client, logs):
        response = client.post(
            "/api/v1/comments",
            json={"site": site.slug, "url": "https://news.example/a", "body": "Agreed.", "author": {"name": "A"}},
        )
    assert f"INFO parlour.test [{response.headers['x-request-id']}] scoring 7 characters" in logs.getvalue()


def test_no_access_log_by_default(client: TestClient, site: SiteInfo) -> None:
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output := io.StringIO())
    post(client)
    assert "parlour.access" not in output.getvalue()


def test_exceptions_and_extras_are_fields_of_the_json_line(settings: Settings) -> None:
    with app_client(settings, READER):
        pass
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output := io.StringIO())
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("parlour.test").exception("it failed", extra={"comment_id": 7})
    line = json.loads(output.getvalue())
    assert line["message"] == "it failed"
    assert line["comment_id"] == 7
    assert line["request_id"] == "-"
    assert "ValueError: broken" in line["exception"]
