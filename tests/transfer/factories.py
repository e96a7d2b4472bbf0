"""Disqus and WordPress export files, written in their documented formats, for the import tests and the bench.

Disqus: https://help.disqus.com/en/articles/1717164-comments-export (root <disqus>, <category>, <thread dsq:id>,
<post dsq:id> with <message> as CDATA HTML, <createdAt>, <isDeleted>, <isSpam>, <author>, <thread dsq:id>,
optional <parent dsq:id>). WordPress: WXR 1.2 as written by wp-admin's Tools > Export (RSS 2.0, <item> per post
with <wp:comment> children). Text goes through xml.sax.saxutils, so any payload is carried exactly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr as _quoteattr

DISQUS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://disqus.com/api/schemas/1.0/disqus.xsd '
    'http://disqus.com/api/schemas/1.0/disqus-internals.xsd">\n'
    '  <category dsq:id="1">\n    <forum>courier</forum>\n    <title>General</title>\n'
    "    <isDefault>true</isDefault>\n  </category>\n"
)
WXR_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n'
    "<channel>\n  <title>The Courier</title>\n  <link>https://news.example</link>\n"
    "  <wp:wxr_version>1.2</wp:wxr_version>\n  <wp:base_site_url>https://news.example</wp:base_site_url>\n"
)


# XML 1.0 cannot carry these characters at all, so no real export holds them: the writers leave them out.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    return _escape(_NOT_XML.sub("", text))


def quoteattr(text: str) -> str:
    return _quoteattr(_NOT_XML.sub("", text))


def cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections, as exporters do.
    return "<![CDATA[" + _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Thread:
    id: str
    link: str
    title: str = "An article"
    closed: bool = False
    created: datetime = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class Post:
    id: str
    thread: str
    message: str
    created: datetime = datetime(2020, 1, 2, 12, 0, tzinfo=UTC)
    parent: str | None = None
    name: str = "Reader"
    email: str | None = None
    username: str | None = None
    website: str | None = None
    deleted: bool = False
    spam: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def disqus_thread(thread: Thread) -> str:
    return (
        f"  <thread dsq:id={quoteattr(thread.id)}>\n    <id />\n    <forum>courier</forum>\n"
        f'    <category dsq:id="1" />\n    <link>{escape(thread.link)}</link>\n'
        f"    <title>{escape(thread.title)}</title>\n    <message />\n"
        f"    <createdAt>{_time(thread.created)}</createdAt>\n"
        "    <author>\n      <name>Editor</name>\n      <isAnonymous>false</isAnonymous>\n"
        "      <username>editor</username>\n    </author>\n"
        f"    <isClosed>{str(thread.closed).lower()}</isClosed>\n    <isDeleted>false</isDeleted>\n  </thread>\n"
    )


def disqus_post(post: Post) -> str:
    email = f"      <email>{escape(post.email)}</email>\n" if post.email else ""
    username = f"      <username>{escape(post.username)}</username>\n" if post.username else ""
    username += f"      <link>{escape(post.website)}</link>\n" if post.website else ""
    parent = f"    <parent dsq:id={quoteattr(post.parent)} />\n" if post.parent else ""
    extra = "".join(f"    <{k}>{escape(v)}</{k}>\n" for k, v in post.extra.items())
    return (
        f"  <post dsq:id={quoteattr(post.id)}>\n    <id />\n    <message>{cdata(post.message)}</message>\n"
        f"    <createdAt>{_time(post.created)}</createdAt>\n"
        f"    <isDeleted>{str(post.deleted).lower()}</isDeleted>\n    <isSpam>{str(post.spam).lower()}</isSpam>\n"
        f"    <author>\n{email}      <name>{escape(post.name)}</name>\n"
        f"      <isAnonymous>{str(post.username is None).lower()}</isAnonymous>\n{username}    </author>\n"
        f"    <ipAddress>127.0.0.1</ipAddress>\n    <thread dsq:id={quoteattr(post.thread)} />\n{parent}{extra}"
        "  </post>\n"
    )


def write_disqus(out: IO[str], threads: Iterable[Thread], posts: Iterable[Post]) -> None:
    out.write(DISQUS_HEAD)
    for thread in threads:
        out.write(disqus_thread(thread))
    for post in posts:
        out.write(disqus_post(post))
    out.write("</disqus>\n")


def disqus_file(path: Path, threads: Iterable[Thread], posts: Iterable[Post]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        write_disqus(out, threads, posts)
    return path


@dataclass
class WpComment:
    id: str
    content: str
    parent: str = "0"
    approved: str = "1"
    author: str = "Reader"
    email: str = ""
    url: str = ""
    kind: str = "comment"
    date_gmt: str = "2020-01-02 12:00:00"


@dataclass
class WpPost:
    id: str
    link: str
    title: str = "An article"
    comments: list[WpComment] = field(default_factory=list)
    comment_status: str = "open"


def wxr_item(post: WpPost) -> str:
    parts = [
        f"  <item>\n    <title>{escape(post.title)}</title>\n    <link>{escape(post.link)}</link>\n"
        "    <pubDate>Wed, 01 Jan 2020 10:00:00 +0000</pubDate>\n    <dc:creator>" + cdata("admin") + "</dc:creator>\n"
        f'    <guid isPermaLink="false">https://news.example/?p={escape(post.id)}</guid>\n'
        "    <content:encoded>" + cdata("<p>The article.</p>") + "</content:encoded>\n"
        f"    <wp:post_id>{escape(post.id)}</wp:post_id>\n"
        "    <wp:post_date_gmt>2020-01-01 10:00:00</wp:post_date_gmt>\n"
        f"    <wp:comment_status>{post.comment_status}</wp:comment_status>\n"
        "    <wp:status>publish</wp:status>\n    <wp:post_type>post</wp:post_type>\n"
    ]
    for c in post.comments:
        parts.append(
            f"    <wp:comment>\n      <wp:comment_id>{escape(c.id)}</wp:comment_id>\n"
            f"      <wp:comment_author>{cdata(c.author)}</wp:comment_author>\n"
            f"      <wp:comment_author_email>{escape(c.email)}</wp:comment_author_email>\n"
            f"      <wp:comment_author_url>{escape(c.url)}</wp:comment_author_url>\n"
            "      <wp:comment_author_IP>127.0.0.1</wp:comment_author_IP>\n"
            f"      <wp:comment_date>{c.date_gmt}</wp:comment_date>\n"
            f"      <wp:comment_date_gmt>{c.date_gmt}</wp:comment_date_gmt>\n"
            f"      <wp:comment_content>{cdata(c.content)}</wp:comment_content>\n"
            f"      <wp:comment_approved>{escape(c.approved)}</wp:comment_approved>\n"
            f"      <wp:comment_type>{escape(c.kind)}</wp:comment_type>\n"
            f"      <wp:comment_parent>{escape(c.parent)}</wp:comment_parent>\n"
            "      <wp:comment_user_id>0</wp:comment_user_id>\n    </wp:comment>\n"
        )
    parts.append("  </item>\n")
    return "".join(parts)


def wxr_file(path: Path, posts: Iterable[WpPost]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(WXR_HEAD)
        for post in posts:
            out.write(wxr_item(post))
        out.write("</channel>\n</rss>\n")
    return path


WORDS = [
    "the",
    "river",
    "town",
    "council",
    "said",
    "on",
    "tuesday",
    "that",
    "flooding",
    "would",
    "continue",
    "and",
    "residents",
    "should",
    "prepare",
    "for",
    "worse",
    "while",
    "the",
    "mayor",
    "promised",
    "help",
    "from",
    "the",
    "region",
    "within",
    "days",
    "of",
    "the",
    "storm",
]


def generated_posts(
    count: int, *, threads: int, origin: str, seed: int = 8, reply_share: float = 0.4
) -> tuple[list[Thread], Iterator[Post]]:
    """A big export: `count` posts over `threads` articles, 40% replies to earlier posts, in time order."""
    rng = random.Random(seed)
    thread_list = [Thread(str(10_000 + t), f"{origin}/news/{t}", f"Article {t}") for t in range(threads)]
    start = datetime(2019, 1, 1, tzinfo=UTC)

    def posts() -> Iterator[Post]:
        recent: dict[int, list[int]] = {}
        for i in range(count):
            t = min(threads - 1, int(threads * rng.random() ** 2))
            candidates = recent.setdefault(t, [])
            parent = rng.choice(candidates) if candidates and rng.random() < reply_share else None
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
            yield Post(
                id=str(i + 1),
                thread=thread_list[t].id,
                message=f"<p>{words}</p>" if i % 7 else f"<p>{words}</p><p><b>Yes</b> and <i>no</i>.</p>",
                created=start + timedelta(seconds=i * 30),
                parent=None if parent is None else str(parent),
                name=f"Reader {i % 5000}",
                email=f"reader{i % 5000}@mail.example" if i % 3 == 0 else None,
            )
            candidates.append(i + 1)
            if len(candidates) > 50:
                candidates.pop(0)

    return thread_list, posts()
