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
from pyexpat import ErrorString
from typing import Any, BinaryIO, NamedTuple, Protocol
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


# Every handler ElementTree's parser installs. Cleared, expat checks the markup without calling into Python at
# all (200,000-comment export: 2.8 s with C builtins as handlers, 1.1 s with none). defusedxml's own handlers,
# which refuse entity declarations and external references, are not among them and stay.
_TREE_HANDLERS = (
    "DefaultHandlerExpand",
    "StartElementHandler",
    "EndElementHandler",
    "CharacterDataHandler",
    "CommentHandler",
    "ProcessingInstructionHandler",
    "StartNamespaceDeclHandler",
    "EndNamespaceDeclHandler",
)


def check_well_formed(path: Path) -> None:
    """Parse the whole file once, keeping nothing; raise MalformedFile with the line and column if it is not XML."""
    parser = SafeTree.DefusedXMLParser(target=_Nothing())
    for handler in _TREE_HANDLERS:
        setattr(parser.parser, handler, None)
    try:
        with open_xml(path) as (file, _counting):
            while chunk := file.read(CHUNK):
                parser.feed(chunk)
        parser.close()
    except ParseError as exc:
        # expat counts columns from 0, and its message repeats the position: said once here, counted from 1.
        line, column = exc.position
        where = f"line {line}, column {column + 1}"
        raise MalformedFile(f"{path.name} is not well-formed XML at {where}: {ErrorString(exc.code)}") from exc
    except DefusedXmlException as exc:
        # Where expat stopped: the declaration (expat counts columns from 0).
        line, column = parser.parser.CurrentLineNumber, parser.parser.CurrentColumnNumber + 1
        what = f"the XML entity {exc.name!r}" if getattr(exc, "name", None) else "an XML entity or external reference"
        problem = f"declares {what} at line {line}, column {column}"
        raise MalformedFile(f"{path.name} {problem}: entities are refused, they can expand without limit") from exc
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

    def records(self) -> Iterator[FlatRecord]:
        """Each child of the document element, flattened, as it ends; nothing else is kept, so memory stays flat.

        No tree: defusedxml's expat parser (its handlers refusing entities stay in place) calls two small Python
        handlers per element and gathers text in C; building elements and reading them again cost half as much
        again (31 against 21 µs a comment, bench/README.md).
        """
        defused = SafeTree.DefusedXMLParser(target=TreeBuilder())
        flattener = _Flattener(defused.parser)
        with open_xml(self.path) as (file, counting):
            self.file = counting
            while chunk := file.read(CHUNK):
                defused.parser.Parse(chunk, False)
                yield from flattener.take()
            defused.parser.Parse(b"", True)
            yield from flattener.take()

    def position(self) -> int:
        return self.file.consumed if self.file is not None else 0

    def size(self) -> int:
        return self.path.stat().st_size


class FlatRecord(NamedTuple):
    """A child of the document element with the text of its fields, two levels deep, by local name.

    fields: "createdAt" -> its text, "author/name" -> the text of <name> in <author>, and "thread@{uri}id" -> an
    attribute of <thread>. The first element of a name counts, as ElementTree's find() would give it.
    """

    tag: str  # ElementTree's form, "{uri}local"
    attributes: dict[str, str]
    line: int  # where it starts in the file
    fields: dict[str, str]


class _Flattener:
    """pyexpat handlers that flatten the root's children into FlatRecords as they end."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.depth = 0
        self.text: list[str] = []
        self.names: dict[str, str] = {}  # expat's "uri}local" -> "{uri}local"
        self.locals: dict[str, str] = {}  # expat's "uri}local" -> "local"
        self.ended: list[FlatRecord] = []
        self.tag = ""
        self.attributes: dict[str, str] = {}
        self.line = 0
        self.fields: dict[str, str] = {}
        self.outer = ""  # the local name of the field being read at depth 3
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        # Text goes straight into a list, in C; it is joined once per field.
        parser.CharacterDataHandler = self.text.append
        # The check pass has already refused DOCTYPEs' entities and undefined references: nothing else that
        # reaches the default handler matters to the records.
        parser.DefaultHandlerExpand = None
        parser.CommentHandler = None
        parser.ProcessingInstructionHandler = None
        parser.ordered_attributes = False

    def name(self, raw: str) -> str:
        # expat gives "uri}local" (the separator is "}"); ElementTree's names are "{uri}local".
        fixed = self.names[raw] = "{" + raw if "}" in raw else raw
        return fixed

    def local(self, raw: str) -> str:
        found = self.locals[raw] = raw.rpartition("}")[2]
        return found

    def start(self, raw: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        if depth == 3 or depth == 4:
            name = self.locals.get(raw) or self.local(raw)
            if depth == 3:
                key = self.outer = name
            else:
                key = f"{self.outer}/{name}"
            if attributes:
                for attribute, value in attributes.items():
                    self.fields.setdefault(f"{key}@{self.names.get(attribute) or self.name(attribute)}", value)
            self.text.clear()
        elif depth == 2:
            self.tag = self.names.get(raw) or self.name(raw)
            self.attributes = {self.names.get(k) or self.name(k): v for k, v in attributes.items()}
            self.line = self.parser.CurrentLineNumber
            self.fields = {}
            self.text.clear()

    def end(self, raw: str) -> None:
        depth = self.depth
        self.depth -= 1
        if depth == 3 or depth == 4:
            name = self.locals[raw]
            key = name if depth == 3 else f"{self.outer}/{name}"
            self.fields.setdefault(key, "".join(self.text))
            self.text.clear()
        elif depth == 2:
            self.ended.append(FlatRecord(self.tag, self.attributes, self.line, self.fields))

    def take(self) -> list[FlatRecord]:
        """The records ended since the last call."""
        ended, self.ended = self.ended, []
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
