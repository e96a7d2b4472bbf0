"""The deterministic comment corpus that both servers receive: same bodies, authors and reply tree."""

from __future__ import annotations

import random
from dataclasses import dataclass

ORIGIN = "http://bench.test"
TOP_LEVEL_SHARE = 0.6
MAX_DEPTH = 3
BODY_MIN_CHARS = 200
BODY_MAX_CHARS = 600
AUTHORS = 500

# A small newsroom vocabulary: plain words keep the Markdown renderers on their common path.
VOCABULARY = """
the a of and to in is that for it was on with as he she they be at by this had not are but from
or have an were which one all their there been if more when will would who so no out up into
council budget report minister policy school hospital election vote voters local national city
road traffic bridge housing rent prices energy water climate weather storm flood police court
judge trial evidence witness story article reporter editor newspaper readers comment opinion
agree disagree think believe seems clearly perhaps maybe actually really simply never always
often sometimes today yesterday tomorrow week month year decade plan proposal funding money tax
taxes spending cuts jobs workers wages business market shop street park library museum train bus
station airport delay strike union teachers nurses doctors patients parents children students
university research study data numbers figures percent increase decrease growth decline rate
"""
WORDS = VOCABULARY.split()


@dataclass(frozen=True)
class CorpusComment:
    """One comment; `parent` is the index of an earlier comment in the same thread, or None."""

    index: int
    parent: int | None
    depth: int
    author: str
    body: str


def story_path(size: int) -> str:
    return f"/t/{size}"


def story_url(path: str) -> str:
    return ORIGIN + path


def make_body(rng: random.Random) -> str:
    """Sentences of pseudo-random words, 200-600 characters, sometimes in two paragraphs."""
    # One character of head-room for the paragraph break, which replaces a space with two newlines.
    target = rng.randint(BODY_MIN_CHARS, BODY_MAX_CHARS - 1)
    sentences: list[str] = []
    length = -1  # the joined length: one space fewer than sentences
    while True:
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 14))]
        sentence = " ".join(words).capitalize() + rng.choice(".!?.")
        if length + 1 + len(sentence) > target and length >= BODY_MIN_CHARS:
            break
        sentences.append(sentence)
        length += 1 + len(sentence)
    if len(sentences) > 3 and rng.random() < 0.3:
        cut = len(sentences) // 2
        return " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])
    return " ".join(sentences)


def make_thread(size: int, seed: str = "") -> list[CorpusComment]:
    """A thread of `size` comments: 60% top-level, the rest replies to earlier comments of depth < 3.

    Seeded by the size too, so each thread is identical on every run and for every server.
    """
    rng = random.Random(f"parlour-bench-{seed}-{size}")
    comments: list[CorpusComment] = []
    # Indices of earlier comments that may still take a reply (depth < MAX_DEPTH).
    open_parents: list[int] = []
    for index in range(size):
        parent: int | None = None
        depth = 0
        if open_parents and rng.random() >= TOP_LEVEL_SHARE:
            parent = rng.choice(open_parents)
            depth = comments[parent].depth + 1
        comment = CorpusComment(
            index=index,
            parent=parent,
            depth=depth,
            author=f"Reader {rng.randrange(AUTHORS)}",
            body=make_body(rng),
        )
        comments.append(comment)
        if depth < MAX_DEPTH:
            open_parents.append(index)
    return comments


def sample_bodies(count: int, seed: str = "") -> list[str]:
    """Bodies for the posting figure, independent of the seeded threads."""
    rng = random.Random(f"parlour-bench-posts-{seed}")
    return [make_body(rng) for _ in range(count)]
