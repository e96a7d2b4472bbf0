"""What an import plans and writes: the source's records in order, every comment already prepared.

Reading the file and preparing comments (XML, HTML to Markdown, rendering) is about half of an import's CPU
time, and needs nothing from the database. With two processes, a second one does it and sends chunks of flat
records through a bounded queue while this one plans and writes: on two cores the two halves overlap. The queue
holds a batch and a half at most, so the reader never runs far ahead and memory stays flat however big the file;
and it never waits while this process writes a batch, nor this one while it reads the next.

The reading process starts before the importing one checks the file: its start (a second interpreter) and its
first chunks overlap the check. Nothing is written before the check has passed, and a file that fails it stops
the reader.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from parlour.transfer.prepare import Prepared, prepare
from parlour.transfer.records import Malformed, Reader, Skipped, SourceComment, SourceThread

Item = SourceThread | Prepared | Malformed | Skipped
# Records per message between the processes: enough that the queue's per-message cost is noise.
CHUNK = 1000
# Chunks the reading process may have waiting: a batch and a half of the importer's largest batches (20,000),
# so it reads on while this one writes a batch. With 12, each waited on the other about a third of the time
# (200,000 comments: 23-24 s, against 20 s).
AHEAD = 30
# How often a waiting consumer checks that the reading process is still alive.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Chunk:
    items: list[Item]
    position: int  # how far the reader had read after these, in the unit of reader.size()


@dataclass(frozen=True)
class _Failed:
    """The reading process's exception, raised again in the consumer."""

    error: BaseException


_Message = Chunk | _Failed | None  # None: the reader has given everything


@contextmanager
def read_prepared(reader: Reader, *, processes: int = 1) -> Iterator[Iterator[Chunk]]:
    """The reader's records in chunks, comments prepared: here, or with processes=2 in a second process that
    starts reading at once; leaving the block stops it."""
    if processes <= 1:
        # Nothing is gained by reading ahead in one process: each record is handed on as soon as it is read.
        yield _chunks(reader, size=1)
        return
    with _reading_process(reader) as chunks:
        yield chunks


def _chunks(reader: Reader, *, size: int) -> Iterator[Chunk]:
    items: list[Item] = []
    for record in reader.records():
        items.append(prepare(record) if isinstance(record, SourceComment) else record)
        if len(items) >= size:
            yield Chunk(items, reader.position())
            items = []
    yield Chunk(items, reader.position())


@contextmanager
def _reading_process(reader: Reader) -> Iterator[Iterator[Chunk]]:
    # spawn, not fork: the parent holds database connections and (in the CLI) a progress thread.
    context = multiprocessing.get_context("spawn")
    chunks: Queue[_Message] = context.Queue(maxsize=AHEAD)
    worker = context.Process(target=_send_chunks, args=(reader, chunks), name="parlour-import-reader", daemon=True)
    worker.start()
    try:
        yield _received(chunks, worker)
    finally:
        # Whether the reader has finished or the import stopped early (an error here or there, or a file that
        # failed its check), the reader stops with it.
        worker.terminate()
        worker.join()
        chunks.close()


def _received(chunks: Queue[_Message], worker: BaseProcess) -> Iterator[Chunk]:
    while True:
        message = _receive(chunks, worker)
        if message is None:
            return
        if isinstance(message, _Failed):
            raise message.error
        yield message


def _receive(chunks: Queue[_Message], worker: BaseProcess) -> _Message:
    while True:
        # Checked before waiting: a process that has ended had put everything it sent in the queue by then.
        ended = worker.exitcode is not None
        try:
            return chunks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if ended:
                raise RuntimeError(f"the import's reading process ended early (exit code {worker.exitcode})") from None


def _send_chunks(reader: Reader, chunks: Queue[_Message]) -> None:
    """The reading process: every chunk, then None; or the exception that stopped it."""
    try:
        for chunk in _chunks(reader, size=CHUNK):
            chunks.put(chunk)
    except BaseException as exc:  # every failure goes back to the consumer, which raises it
        chunks.put(_Failed(exc))
        return
    chunks.put(None)
