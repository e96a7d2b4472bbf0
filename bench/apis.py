"""The HTTP API of each system, as its own embed or documentation uses it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from corpus import ORIGIN, story_url

# Both servers get what a browser on the news site would send.
JSON_HEADERS = {"Content-Type": "application/json", "Origin": ORIGIN}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None

    def json_body(self) -> Any:
        return None if self.body is None else json.loads(self.body)


class Api(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def seed_connections(self) -> int: ...

    def new_comment(
        self, path: str, *, body: str, author: str, parent: int | None, retry_key: str | None = None
    ) -> Request: ...

    def comment_id(self, answer: Any) -> int: ...

    def thread_read(self, path: str) -> Request: ...

    def counts(self, paths: list[str]) -> Request: ...


@dataclass(frozen=True)
class IssoApi:
    """Isso 0.14.0: isso/views/comments.py and the embed in isso/js/app (api.js, default_config.js)."""

    name: str = "isso"
    # Isso returns `SELECT MAX(id)` after its INSERT, under a lock that gunicorn's worker processes
    # do not share: concurrent posts can be answered with another comment's id. Seeding replies
    # needs the right parent ids, so Isso is seeded over one connection.
    seed_connections: int = 1

    def new_comment(
        self, path: str, *, body: str, author: str, parent: int | None, retry_key: str | None = None
    ) -> Request:
        # Isso has no idempotency keys, so `retry_key` is unused. `title` spares Isso fetching the
        # story page for its <title> when a thread is new; it is ignored once the thread exists.
        # Isso itself attaches every reply to the top-level comment of its branch.
        payload = {"text": body, "author": author, "parent": parent, "title": f"Story {path}"}
        return Request("POST", "/new?" + urlencode({"uri": path}, quote_via=quote), JSON_HEADERS, json.dumps(payload))

    def comment_id(self, answer: Any) -> int:
        return int(answer["id"])

    def thread_read(self, path: str) -> Request:
        # What embed.js asks for by default: api.fetch() with max-comments-top "inf" (no `limit`),
        # max-comments-nested 5, sorting "oldest", parent null (dropped by qs()) and offset 0.
        query = "uri=" + quote(path, safe="") + "&sort=oldest&offset=0&nested_limit=5"
        return Request("GET", "/?" + query, {"Origin": ORIGIN})

    def counts(self, paths: list[str]) -> Request:
        # count.js: POST /count with a JSON list of thread URIs.
        return Request("POST", "/count", JSON_HEADERS, json.dumps(paths))


@dataclass(frozen=True)
class ParlourApi:
    site: str = "bench"
    name: str = "parlour"
    seed_connections: int = 4
    page_size: int = 20

    def new_comment(
        self, path: str, *, body: str, author: str, parent: int | None, retry_key: str | None = None
    ) -> Request:
        payload = {
            "site": self.site,
            "url": story_url(path),
            "parent_id": parent,
            "body": body,
            "author": {"name": author},
        }
        # With a key, a retried POST returns the first result instead of creating a second comment.
        headers = JSON_HEADERS if retry_key is None else {**JSON_HEADERS, "Idempotency-Key": retry_key}
        return Request("POST", "/api/v1/comments", headers, json.dumps(payload))

    def comment_id(self, answer: Any) -> int:
        return int(answer["id"])

    def thread_read(self, path: str) -> Request:
        query = urlencode({"site": self.site, "url": story_url(path), "sort": "oldest", "limit": self.page_size})
        return Request("GET", "/api/v1/threads?" + query, {"Origin": ORIGIN})

    def counts(self, paths: list[str]) -> Request:
        query = urlencode([("site", self.site), *[("url", story_url(p)) for p in paths]])
        return Request("GET", "/api/v1/counts?" + query, {"Origin": ORIGIN})
