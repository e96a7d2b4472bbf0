"""Hostile input through every importer: imported HTML and Markdown are untrusted (security test plan, import).

Every XSS payload line, every DOMPurify fixture, every Markdown vector and every naughty string goes in as a
comment's text, and the hostile names and websites as its author, through the Disqus, WordPress and Isso
readers. What is stored must render only the allowed tags and attributes (parsed back as a browser would, with
html5lib: no script, no event handler, no javascript: link), be exactly what the live renderer makes of the
stored Markdown, and keep only clean http(s) websites. A payload may be skipped (nothing left of it), never crash
the import or leave its markup behind.
"""

from __future__ import annotations

import html as html_entities
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nh3
import pytest
from sqlalchemy import select

from parlour.comments import markup
from parlour.db.engine import Database
from parlour.db.tables import Author, Comment, ImportedItem, Story
from parlour.transfer.disqus import DisqusReader
from parlour.transfer.htmlmd import DROPPED
from parlour.transfer.importer import import_comments
from parlour.transfer.isso import IssoReader, isso_html
from parlour.transfer.records import Reader
from parlour.transfer.report import ImportReport
from parlour.transfer.wordpress import WordPressReader
from tests.api.test_security_payloads import (
    BAD_WEBSITES,
    HOSTILE_NAMES,
    MARKDOWN_VECTORS,
    blns,
    html_violations,
    report,
    website_errors,
    xss_payloads,
)
from tests.conftest import ORIGIN, SiteInfo
from tests.transfer.checks import assert_consistent
from tests.transfer.conftest import IssoData
from tests.transfer.factories import Post, Thread, WpComment, WpPost, disqus_file, wxr_file


@dataclass(frozen=True)
class Payload:
    label: str
    text: str
    name: str
    website: str


def payloads() -> list[Payload]:
    texts = xss_payloads()
    texts += [(f"markdown#{i}", v) for i, v in enumerate(MARKDOWN_VECTORS, 1)]
    texts += [(f"blns#{i}", s) for i, s in enumerate(blns(), 1)]
    names = HOSTILE_NAMES + [text for _label, text in texts[:50]]
    websites = [*BAD_WEBSITES, "https://ok.example/a"]
    return [
        Payload(label, text, names[i % len(names)], websites[i % len(websites)])
        for i, (label, text) in enumerate(texts)
    ]


PAYLOADS = payloads()
TITLES = [p.text for p in PAYLOADS[:40]]


_TAG_RESIDUE = re.compile(r"<[^>]*>?")


def visible_text(text: str) -> str:
    """The words a browser shows of an HTML fragment: scripts, styles and other hidden content dropped, and
    what is left of tags inside SVG, MathML or templates (mXSS vectors, which the importer drops whole) too."""
    shown = html_entities.unescape(nh3.clean(text, tags=set(), clean_content_tags=DROPPED))
    return "".join(c for c in _TAG_RESIDUE.sub("", shown) if c.isalnum())


def check(db: Database, reader: Reader, *, expected_threads: int, shown: Callable[[str], str] = str) -> None:
    """Import every payload; shown: what the source itself made of a comment's text, for the skip check."""
    result: ImportReport = import_comments(db=db, reader=reader, site_slug="courier")
    skipped = sum(result.skipped.values())
    assert result.created["comments"] + skipped == len(PAYLOADS), result.skipped
    # Skipping is allowed only for a payload with nothing left to show; anything else is a regression.
    assert set(result.skipped) <= {"malformed: nothing is left of the comment's text"}, result.skipped
    failures: list[str] = []
    with db.read() as session:
        rows = session.execute(
            select(ImportedItem.source_id, Comment.body, Comment.html, Author.display_name, Author.website)
            .join(Comment, Comment.id == ImportedItem.target_id)
            .join(Author, Author.id == Comment.author_id)
            .where(ImportedItem.kind == "comment")
        ).all()
        titles = list(session.scalars(select(Story.title)))
    labels = {str(i): p.label for i, p in enumerate(PAYLOADS)}
    imported = {source_id for source_id, *_ in rows}
    for source_id, payload in ((str(i), p) for i, p in enumerate(PAYLOADS)):
        if source_id not in imported and visible_text(shown(payload.text)):
            failures.append(f"{payload.label}: skipped, but a browser shows {visible_text(shown(payload.text))[:60]!r}")
    for source_id, body, html, name, website in rows:
        label = labels[source_id]
        failures += [f"{label}: {problem}" for problem in html_violations(html)]
        if markup.render(body) != html:
            failures.append(f"{label}: stored HTML is not the rendering of the stored Markdown")
        if website is not None:
            failures += [f"{label}: {problem}" for problem in website_errors(website)]
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            failures.append(f"{label}: control character kept in the name {name!r}")
    for title in titles:
        if title is not None and any(ord(c) < 32 and c not in "\t\n" for c in title):
            failures.append(f"story title keeps a control character: {title!r}")
    assert len(titles) == expected_threads
    assert not failures, report(failures, "unsafe imports")
    assert_consistent(db)


def test_every_payload_through_the_disqus_importer(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    threads = [Thread(f"t{i}", f"{ORIGIN}/news/{i}", title) for i, title in enumerate(TITLES)]
    posts = [
        Post(str(i), f"t{i % len(TITLES)}", p.text, name=p.name, website=p.website, email=f"r{i % 7}@mail.example")
        for i, p in enumerate(PAYLOADS)
    ]
    check(db, DisqusReader(disqus_file(tmp_path / "disqus.xml", threads, posts)), expected_threads=len(TITLES))


def test_every_payload_through_the_wordpress_importer(db: Database, site: SiteInfo, tmp_path: Path) -> None:
    posts = [WpPost(f"{1000 + i}", f"{ORIGIN}/{i}/", title) for i, title in enumerate(TITLES)]
    for i, p in enumerate(PAYLOADS):
        posts[i % len(posts)].comments.append(WpComment(str(i), p.text, author=p.name, url=p.website))
    check(db, WordPressReader(wxr_file(tmp_path / "wp.xml", posts)), expected_threads=len(TITLES))


def test_every_payload_through_the_isso_importer(
    db: Database, site: SiteInfo, isso_database: IssoData, tmp_path: Path
) -> None:
    # Isso's own schema, from the real Isso run; its rows replaced by the payloads, as a hostile database holds.
    path = Path(shutil.copy(isso_database.path, tmp_path / "hostile.db"))
    with sqlite3.connect(path) as isso:
        isso.execute("DELETE FROM comments")
        isso.execute("DELETE FROM threads")
        isso.executemany(
            "INSERT INTO threads (id, uri, title) VALUES (?, ?, ?)",
            [(i + 1, f"/news/{i}", title) for i, title in enumerate(TITLES)],
        )
        isso.executemany(
            "INSERT INTO comments (tid, id, parent, created, modified, mode, remote_addr, text, author, email, "
            "website, likes, dislikes, voters, notification) VALUES (?, ?, NULL, ?, NULL, 1, '', ?, ?, ?, ?, 0, 0, "
            "?, 0)",
            [
                (i % len(TITLES) + 1, i, 1600000000.0 + i, p.text, p.name, None, p.website, b"")
                for i, p in enumerate(PAYLOADS)
            ],
        )
    # Isso showed its Markdown rendered and cut to its tags: "[<img src=x>](https://x.example)" was an empty link.
    check(db, IssoReader(path, origin=ORIGIN), expected_threads=len(TITLES), shown=isso_html)


@pytest.mark.parametrize("href", ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x"])
def test_a_hostile_link_keeps_its_text_and_loses_its_target(
    db: Database, site: SiteInfo, tmp_path: Path, href: str
) -> None:
    message = f'<p>see <a href="{href}" onclick="alert(1)">this</a> <img src=x onerror="alert(1)" alt="pic"></p>'
    export = disqus_file(tmp_path / "d.xml", [Thread("t", f"{ORIGIN}/a")], [Post("1", "t", message)])
    import_comments(db=db, reader=DisqusReader(export), site_slug="courier")
    with db.read() as session:
        html = session.scalar(select(Comment.html))
    assert html == "<p>see this pic</p>"
