"""Property tests: random threads read back through every sort and page size, and the pure URL/markup functions.

The thread test builds a random thread through the API (replies to random earlier comments, reactions, deletions by
the author), keeps its own model of what readers should see, then pages through every sort with a small random
limit, following every cursor, and compares. Each example uses a fresh site and story, because the `database`
fixture only empties the database after the whole test.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from parlour.comments import markup, service
from parlour.db.engine import Database
from parlour.errors import InvalidInput
from parlour.sites.urls import normalise_story_url
from tests.conftest import ORIGIN, create_test_site

API = "/api/v1"
TOKEN_HEADER = "X-Parlour-Edit-Token"
SORTS = ("top", "newest", "oldest")
READERS = 6  # reader keys r0..r5: repeated reactions from one reader must count once
MAX_REQUESTS = 2000  # per read-through; a pagination loop that never ends fails instead of hanging

FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # no example database written into the working tree
)

# --- the model -------------------------------------------------------------------------------------------------


@dataclass
class Node:
    id: int
    parent_id: int | None
    token: str
    created_at: datetime
    deleted: bool = False
    readers: set[str] = field(default_factory=set)
    children: list[int] = field(default_factory=list)


@dataclass
class Model:
    nodes: dict[int, Node] = field(default_factory=dict)

    def alive(self) -> list[int]:
        return [i for i, n in self.nodes.items() if not n.deleted]

    def listed(self) -> set[int]:
        """Approved comments, and deleted ones that still hold a listed reply (decided from the leaves up)."""
        listed: set[int] = set()
        for comment_id in sorted(self.nodes, reverse=True):  # replies always have larger ids than their parents
            node = self.nodes[comment_id]
            if not node.deleted or any(child in listed for child in node.children):
                listed.add(comment_id)
        return listed

    def sort_key(self, comment_id: int, listed: set[int]) -> tuple[int, int, datetime, int]:
        node = self.nodes[comment_id]
        replies = sum(child in listed for child in node.children)
        return (len(node.readers), replies, node.created_at, comment_id)


Op = tuple[str, int]


@st.composite
def thread_ops(draw: st.DrawFn) -> list[Op]:
    """30-60 posts; after each, perhaps reactions and a deletion. Choices index into what exists at run time."""
    posts = draw(st.integers(30, 60))
    ops: list[Op] = []
    for _ in range(posts):
        top_level = draw(st.booleans()) and draw(st.booleans())
        ops.append(("post", -1 if top_level else draw(st.integers(0, 10_000))))
        extra = st.tuples(st.sampled_from(["react", "react", "react", "delete"]), st.integers(0, 10_000))
        ops.extend(draw(st.lists(extra, max_size=2)))
    return ops


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def build_thread(client: TestClient, db: Database, slug: str, url: str, ops: list[Op]) -> Model:
    model = Model()
    for kind, choice in ops:
        alive = model.alive()
        if kind == "post":
            parent = alive[choice % len(alive)] if alive and choice >= 0 else None
            payload = {"site": slug, "url": url, "parent_id": parent, "body": f"Comment {len(model.nodes)}"}
            response = client.post(f"{API}/comments", json=payload | {"author": {"name": "Reader"}})
            assert response.status_code == 201, response.text
            created = response.json()
            comment = created["comment"]
            # At the depth cap a reply is attached to an ancestor: the server's parent is the truth.
            node = Node(created["id"], comment["parent_id"], created["edit_token"], parse_time(comment["created_at"]))
            if parent is None:
                assert node.parent_id is None
            else:
                assert node.parent_id is not None
                model.nodes[node.parent_id].children.append(node.id)
            model.nodes[node.id] = node
        elif kind == "react" and alive:
            target = model.nodes[alive[choice % len(alive)]]
            reader = f"r{choice % READERS}"
            service.set_reaction(db=db, comment_id=target.id, reader_key=reader, on=True)
            target.readers.add(reader)
        elif kind == "delete" and alive:
            target = model.nodes[alive[choice % len(alive)]]
            response = client.delete(f"{API}/comments/{target.id}", headers={TOKEN_HEADER: target.token})
            assert response.status_code == 204, response.text
            target.deleted = True
    return model


# --- reading it back ---------------------------------------------------------------------------------------------


@dataclass
class Reading:
    """One read-through: the top-level sequence across pages, and every listed comment with its fetched replies."""

    top: list[dict[str, Any]] = field(default_factory=list)
    children: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    depth_first: list[dict[str, Any]] = field(default_factory=list)
    totals: set[int] = field(default_factory=set)
    requests: int = 0


def read_thread(client: TestClient, slug: str, url: str, sort: str, limit: int) -> Reading:
    reading = Reading()
    cursor: str | None = None
    while True:
        params = {"site": slug, "url": url, "sort": sort, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(f"{API}/threads", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        reading.requests += 1
        assert len(page["comments"]) <= limit
        assert page["sort"] == sort
        reading.top.extend(page["comments"])
        reading.totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert page["comments"], "an empty page must not carry a cursor"
        assert reading.requests < MAX_REQUESTS
    # Depth-first, so the reading order is the order a reader would see.
    stack = list(reversed(reading.top))
    while stack:
        comment = stack.pop()
        reading.depth_first.append(comment)
        replies = read_replies(client, comment, limit, reading)
        reading.children[comment["id"]] = replies
        stack.extend(reversed(replies))
    return reading


def read_replies(client: TestClient, comment: dict[str, Any], limit: int, reading: Reading) -> list[dict[str, Any]]:
    """The replies embedded in the comment, then the rest of the branch from more_replies, page by page."""
    replies = list(comment["replies"])
    more = comment["more_replies"]
    if more is None:
        return replies
    assert more["count"] >= 1
    cursor = more["cursor"]  # None: the branch starts from its first reply
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(f"{API}/comments/{comment['id']}/replies", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        reading.requests += 1
        assert page["parent_id"] == comment["id"]
        assert len(page["replies"]) <= limit
        replies.extend(page["replies"])
        cursor = page["next_cursor"]
        if cursor is None:
            return replies
        assert page["replies"], "an empty page must not carry a cursor"
        assert reading.requests < MAX_REQUESTS


def check_reading(model: Model, reading: Reading, sort: str) -> None:
    listed = model.listed()
    approved = sum(not n.deleted for n in model.nodes.values())
    where = f"sort={sort}"

    ids = [c["id"] for c in reading.depth_first]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"{where}: listed more than once: {duplicates}"
    assert set(ids) == listed, f"{where}: missing {sorted(listed - set(ids))}, unexpected {sorted(set(ids) - listed)}"
    assert reading.totals == {approved}, f"{where}: total {reading.totals}, expected {approved}"

    top_level = [i for i in listed if model.nodes[i].parent_id is None]
    if sort == "top":  # reaction_count, reply_count, created_at, id: all descending
        expected_top = sorted(top_level, key=lambda i: model.sort_key(i, listed), reverse=True)
    else:
        expected_top = sorted(top_level, key=lambda i: (model.nodes[i].created_at, i), reverse=sort == "newest")
    assert [c["id"] for c in reading.top] == expected_top, f"{where}: top-level order"

    seen: set[int] = set()
    depth_of: dict[int, int] = {}
    for comment in reading.depth_first:
        node = model.nodes[comment["id"]]
        context = f"{where}, comment {node.id}"
        assert comment["parent_id"] == node.parent_id, context
        if node.parent_id is None:
            assert comment["depth"] == 0, context
        else:
            # Depth-first reading: a reply never comes before its parent, and sits one level below it.
            assert node.parent_id in seen, f"{context}: read before its parent {node.parent_id}"
            assert comment["depth"] == depth_of[node.parent_id] + 1, context
            assert parse_time(comment["created_at"]) >= model.nodes[node.parent_id].created_at, context
        seen.add(node.id)
        depth_of[node.id] = comment["depth"]

        listed_children = [c for c in node.children if c in listed]
        replies = reading.children[node.id]
        assert [r["id"] for r in replies] == sorted(listed_children, key=lambda i: (model.nodes[i].created_at, i)), (
            f"{context}: replies must be every listed reply, oldest first"
        )
        assert all(r["parent_id"] == node.id for r in replies), context
        assert comment["reply_count"] == len(listed_children), context
        assert comment["reaction_count"] == len(node.readers), context
        assert parse_time(comment["created_at"]) == node.created_at, context
        more = comment["more_replies"]
        shown = len(comment["replies"])
        if more is None:
            assert shown == len(listed_children), f"{context}: replies hidden without more_replies"
        else:
            assert more["count"] == len(listed_children) - shown, context
        if node.deleted:
            assert (comment["status"], comment["author"], comment["html"]) == ("deleted", None, ""), context
        else:
            assert comment["status"] == "approved", context
            assert (comment["author"]["name"], comment["author"]["website"]) == ("Reader", None), context
            assert comment["html"] == f"<p>Comment {list(model.nodes).index(node.id)}</p>", context


def check_sort_order(reading: Reading, sort: str) -> None:
    """The sequence follows the sort on the values the API itself shows (independent of the model)."""

    def key(c: dict[str, Any]) -> tuple[Any, ...]:
        if sort == "top":
            return (c["reaction_count"], c["reply_count"], parse_time(c["created_at"]), c["id"])
        return (parse_time(c["created_at"]), c["id"])

    keys = [key(c) for c in reading.top]
    ordered = sorted(keys) if sort == "oldest" else sorted(keys, reverse=True)
    assert keys == ordered, f"sort={sort}: pages out of order"
    for parent_id, replies in reading.children.items():
        reply_keys = [(parse_time(r["created_at"]), r["id"]) for r in replies]
        assert reply_keys == sorted(reply_keys), f"replies of {parent_id} are not oldest first"


@FAST
@given(ops=thread_ops(), limits=st.tuples(*[st.integers(1, 7) for _ in SORTS]))
def test_random_threads_read_back_completely_in_every_sort(
    client: TestClient, db: Database, ops: list[Op], limits: tuple[int, ...]
) -> None:
    slug = f"p{uuid.uuid4().hex[:12]}"
    url = f"{ORIGIN}/property/{uuid.uuid4().hex}"
    create_test_site(db, slug=slug)
    model = build_thread(client, db, slug, url, ops)
    readings: dict[str, Reading] = {}
    for sort, limit in zip(SORTS, limits, strict=True):
        readings[sort] = reading = read_thread(client, slug, url, sort, limit)
        check_sort_order(reading, sort)
        check_reading(model, reading, sort)
    # The same comments, with the same replies in the same order, whatever the sort.
    branches = [{k: [r["id"] for r in v] for k, v in reading.children.items()} for reading in readings.values()]
    assert all(b == branches[0] for b in branches)


# --- pure functions ---------------------------------------------------------------------------------------------

PERCENT = st.sampled_from(["%2F", "%41", "%C3%A4", "%E2%82%AC", "%zz", "%", "%2", "%3F", "%23", "%20", "%2B", "%ff"])
URL_TEXT = st.lists(
    st.one_of(st.characters(codec="utf-8"), PERCENT, st.sampled_from(list("/.~-_!$&()*+,;=:@a0 "))), max_size=8
).map("".join)
TRACKING = st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "utm_", "fbclid", "FBCLID", "gclid"])
KEEP = st.sampled_from(["id", "page", "q", "utm", "xutm_source", "fbclid_x"]) | URL_TEXT


@st.composite
def story_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTTpS"]))
    host = draw(st.sampled_from(["news.example", "NEWS.Example", "bücher.example", "[::1]", "127.0.0.1", "a.example."]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":0443"]))
    segments = draw(st.lists(URL_TEXT, max_size=4))
    path = "/" + "/".join(segments) + draw(st.sampled_from(["", "/", "//"]))
    params = draw(st.lists(st.tuples(TRACKING | KEEP, URL_TEXT), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#", "#comments", "#a?b=c", "#utm_source=x"]))
    return f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "") + fragment


@FAST
@given(raw=story_urls() | st.text())
def test_story_url_normalisation_is_idempotent(raw: str) -> None:
    try:
        canonical = normalise_story_url(raw)
    except InvalidInput:
        return
    assert normalise_story_url(canonical) == canonical


@FAST
@given(raw=story_urls())
def test_story_urls_lose_tracking_parameters_fragments_and_trailing_slashes(raw: str) -> None:
    try:
        canonical = normalise_story_url(raw)
    except InvalidInput:
        return
    parts = urlsplit(canonical)
    assert "#" not in canonical
    assert parts.scheme in {"http", "https"}
    assert parts.path == "/" or not parts.path.endswith("/")
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        assert not key.lower().startswith("utm_") and key.lower() not in {"fbclid", "gclid"}, canonical


@pytest.mark.parametrize(
    "raw",
    [
        "https://news.example/a%2541",  # once canonicalised to .../a%41, which a second pass turned into .../aA
        "https://news.example/a%2%41",
        "https://news.example/o%27brien",  # once canonicalised with a raw quote, which the parser then refused
        "https://news.example/a%2Fb",
        "https://news.example/caf%C3%A9/",
        "https://news.example/%zz",
    ],
)
def test_known_story_url_idempotence_cases(raw: str) -> None:
    canonical = normalise_story_url(raw)
    assert normalise_story_url(canonical) == canonical


# The same policy as tests/api/test_security_payloads.py, restated so each file stands alone.
ALLOWED_TAGS = frozenset({"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"})
ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "rel", "title"}), "ol": frozenset({"start"})}  # title: known bug
SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")


def forbidden_nodes(html: str) -> list[str]:
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    problems = []
    for element in fragment.iter():
        if element is fragment:
            continue
        if not isinstance(element.tag, str) or element.tag not in ALLOWED_TAGS:
            problems.append(f"node {element.tag!r}")
            continue
        for name in element.attrib:
            if name not in ALLOWED_ATTRIBUTES.get(element.tag, frozenset()):
                problems.append(f"attribute {name} on <{element.tag}>")
        if element.tag == "a":
            if element.get("rel") != "nofollow ugc noopener":
                problems.append(f"rel={element.get('rel')!r}")
            href = "".join(c for c in element.get("href", "") if c.isprintable() and not c.isspace()).casefold()
            match = SCHEME.match(href)
            if match and match.group(1) not in {"http", "https", "mailto"}:
                problems.append(f"href={element.get('href')!r}")
    return problems


MARKDOWN_PIECES = st.sampled_from(
    [
        "<", ">", "[", "]", "(", ")", "!", "*", "_", "`", "&", "#", ";", ":", '"', "'", "\\", "\n", " ", "\t",
        "javascript:", "JaVa", "script", "alert(1)", "http://x.example", "www.a.example", "mailto:a@b.example",
        "&#106;", "&amp;", "&nbsp;", "&#0;", "<a href=", "<img src=x onerror=", "<svg", "<!--", "-->", "1. ",
        "- ", "> ", "```", "\x00", "\u00a0", "\u200b", "\u202e", "x@y.example", "https://a.example/c?d=e&f=g",
    ]
)  # fmt: skip
MARKDOWN_TEXT = st.text() | st.lists(MARKDOWN_PIECES | st.text(max_size=3), max_size=40).map("".join)


@FAST
@given(source=MARKDOWN_TEXT)
def test_rendering_is_safe_and_sanitising_it_again_changes_nothing(source: str) -> None:
    for text in (source, markup.clean_text(source)):
        html = markup.render(text)
        assert markup.sanitise(html) == html
        assert forbidden_nodes(html) == [], (text, html)
