"""Streaming XML for the importers: defusedxml's parser, elements cleared as they end, exact line numbers.

A file may be gzipped, as Disqus sends its exports: it is read through gzip as it streams, never unpacked.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Container, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeTree

from parlour.transfer.records import MalformedFile

CHUNK = 1 << 20
LINE = "{urn:parlour}line"  # set on record elements: where they start in the file
GZIP_MAGIC = b"\x1f\x8b"


class _CountingFile(io.RawIOBase):
    """A read-only file that remembers how many bytes were read, for the progress bar."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.consumed += len(data)
        return data


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@contextmanager
def open_xml(path: Path) -> Iterator[tuple[_Readable, _CountingFile]]:
    """The file's XML bytes, unzipped if gzipped, and the counter of bytes read from the file itself."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        counting = _CountingFile(raw)
        if not gzipped:
            yield counting, counting
            return
        with gzip.GzipFile(fileobj=counting, mode="rb") as unzipped:
            yield unzipped, counting


class _LineBuilder(TreeBuilder):
    """Builds the tree, and stamps each element named in `tags` with the line it starts on."""

    def __init__(self, tags: Container[str]) -> None:
        super().__init__()
        self.tags = tags
        self.expat: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        if tag in self.tags:
            attrs = {**attrs, LINE: str(self.expat.CurrentLineNumber)}
        return super().start(tag, attrs)


class _Nothing:
    """A parser target that builds nothing: the first pass only proves the file well-formed."""


def check_well_formed(path: Path) -> None:
    """Parse the whole file once, keeping nothing; raise MalformedFile with the line and column if it is not XML."""
    parser = SafeTree.DefusedXMLParser(target=_Nothing())
    try:
        with open_xml(path) as (file, _counting):
            while chunk := file.read(CHUNK):
                parser.feed(chunk)
        parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise MalformedFile(f"{path.name} is not well-formed XML at line {line}, column {column}: {exc}") from exc
    except DefusedXmlException as exc:
        raise MalformedFile(f"{path.name} declares XML entities, which are refused: {exc}") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise MalformedFile(f"{path.name} is a damaged gzip file: {exc}") from exc


def root_tag(path: Path) -> str:
    """The tag of the document element, read from the start of the file."""
    with open_xml(path) as (file, _counting):
        for _event, element in SafeTree.iterparse(file, events=("start",)):
            return str(element.tag)
    raise MalformedFile(f"{path.name} holds no XML element")


class XmlStream:
    """(event, element) pairs of a file; the caller clears what it has read so memory stays flat."""

    def __init__(self, path: Path, record_tags: Container[str]) -> None:
        self.path = path
        self.record_tags = record_tags
        self.file: _CountingFile | None = None

    def events(self) -> Iterator[tuple[str, Element]]:
        builder = _LineBuilder(self.record_tags)
        parser = SafeTree.DefusedXMLParser(target=builder)
        builder.expat = parser.parser
        with open_xml(self.path) as (file, counting):
            self.file = counting
            yield from SafeTree.iterparse(file, events=("start", "end"), parser=parser)

    def position(self) -> int:
        return self.file.consumed if self.file is not None else 0

    def size(self) -> int:
        return self.path.stat().st_size


def line_of(element: Element) -> str:
    return f"line {element.get(LINE, '?')}"


def local(tag: str) -> str:
    """A tag without its namespace: '{http://disqus.com}post' -> 'post'."""
    return tag.rpartition("}")[2]


def child_text(element: Element, name: str) -> str | None:
    """The text of the first child with this local name, whatever its namespace."""
    for child in element:
        if local(child.tag) == name:
            return child.text or ""
    return None


def child(element: Element, name: str) -> Element | None:
    for item in element:
        if local(item.tag) == name:
            return item
    return None
