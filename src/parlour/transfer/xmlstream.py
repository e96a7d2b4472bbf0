"""Streaming XML for the importers: defusedxml's parser, elements cleared as they end, exact line numbers.

A file may be gzipped, as Disqus sends its exports: it is read through gzip as it streams, never unpacked.
"""

from __future__ import annotations

import gzip
import io
import operator
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

    # Text must go somewhere, or expat hands every piece of it to the parser's Python default handler: a C
    # builtin that ignores it keeps this pass in C. Tags, likewise, in check_well_formed.
    data = staticmethod(len)


def check_well_formed(path: Path) -> None:
    """Parse the whole file once, keeping nothing; raise MalformedFile with the line and column if it is not XML."""
    parser = SafeTree.DefusedXMLParser(target=_Nothing())
    parser.parser.StartElementHandler = operator.is_  # (name, attributes) -> ignored, without a Python frame
    parser.parser.EndElementHandler = len
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

    def children(self) -> Iterator[Element]:
        """Each child of the document element, complete, as it ends; the root keeps none, so memory stays flat.

        What events() gives, without a Python call per element and event: the C TreeBuilder builds the tree
        straight from defusedxml's expat parser (its handlers that refuse entities stay in place), and only
        element starts and ends go through Python, to fix namespaced names and stamp line numbers.
        """
        defused = SafeTree.DefusedXMLParser(target=TreeBuilder())
        collector = _Children(defused.parser, self.record_tags)
        with open_xml(self.path) as (file, counting):
            self.file = counting
            while chunk := file.read(CHUNK):
                defused.parser.Parse(chunk, False)
                yield from collector.take()
            defused.parser.Parse(b"", True)
            yield from collector.take()

    def position(self) -> int:
        return self.file.consumed if self.file is not None else 0

    def size(self) -> int:
        return self.path.stat().st_size


class _Children:
    """pyexpat handlers feeding the C TreeBuilder, collecting the root's children as they end."""

    def __init__(self, parser: Any, record_tags: Container[str]) -> None:
        self.parser = parser
        self.record_tags = record_tags
        self.tree = TreeBuilder()
        self.depth = 0
        self.ended: list[Element] = []
        self.root: Element | None = None
        self.names: dict[str, str] = {}
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.tree.data
        # The check pass has already refused DOCTYPEs' entities and undefined references: nothing else that
        # reaches the default handler matters to the records.
        parser.DefaultHandlerExpand = None
        parser.CommentHandler = None
        parser.ProcessingInstructionHandler = None
        parser.ordered_attributes = False

    def name(self, raw: str) -> str:
        # expat gives "uri}local" (the separator is "}"); ElementTree's names are "{uri}local".
        fixed = self.names.get(raw)
        if fixed is None:
            fixed = self.names[raw] = "{" + raw if "}" in raw else raw
        return fixed

    def start(self, raw: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        tag = self.name(raw)
        if attributes:
            attributes = {self.name(key): value for key, value in attributes.items()}
        if tag in self.record_tags:
            attributes[LINE] = str(self.parser.CurrentLineNumber)
        element = self.tree.start(tag, attributes)
        if self.root is None:
            self.root = element

    def end(self, raw: str) -> None:
        self.depth -= 1
        element = self.tree.end(self.name(raw))
        if self.depth == 1:
            self.ended.append(element)

    def take(self) -> list[Element]:
        """The children ended since the last call, let go of by the root."""
        ended, self.ended = self.ended, []
        if self.root is not None:
            self.root.clear()  # one still open goes too: the builder holds it, and end() hands it over whole
        return ended


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


def children_by_name(element: Element) -> dict[str, Element]:
    """The first child of each local name: one pass over the children, for a record read field by field."""
    found: dict[str, Element] = {}
    for item in element:
        found.setdefault(item.tag.rpartition("}")[2], item)
    return found


def text_of(children: dict[str, Element], name: str) -> str | None:
    """What child_text gives, from children_by_name's map."""
    item = children.get(name)
    return None if item is None else (item.text or "")


def child(element: Element, name: str) -> Element | None:
    for item in element:
        if local(item.tag) == name:
            return item
    return None
