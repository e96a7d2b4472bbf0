"""What an import plans and writes: the source's records in order, every comment already prepared.

Reading the file and preparing comments (XML, HTML to Markdown, rendering) is about half of an import's CPU
time, and needs nothing from the database. With two processes, a second one does it and sends chunks of flat
records through a bounded queue while this one plans and writes: on two cores the two halves overlap. The queue
holds a few chunks at most, so the reader never runs far ahead and memory stays flat however big the file.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from parlour.transfer.prepare import Prepared, prepare
from parlour.transfer.records import Malformed, Reader, Skipped, SourceComment, SourceThread

Item = SourceThread | Prepared | Malformed | Skipped
# Records per message between the processes: enough that the queue's per-message cost is noise.
CHUNK = 1000
# Chunks the reading process may have waiting: enough to keep it busy while this one writes a batch.
AHEAD = 12
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


def read_prepared(reader: Reader, *, processes: int = 1) -> Iterator[Chunk]:
    """The reader's records in chunks, comments prepared: here, or with processes=2 in a second process."""
    if processes <= 1:
        # Nothing is gained by reading ahead in one process: each record is handed on as soon as it is read.
        return _chunks(reader, size=1)
    return _from_process(reader)


def _chunks(reader: Reader, *, size: int) -> Iterator[Chunk]:
    items: list[Item] = []
    for record in reader.records():
        items.append(prepare(record) if isinstance(record, SourceComment) else record)
        if len(items) >= size:
            yield Chunk(items, reader.position())
            items = []
    yield Chunk(items, reader.position())


def _from_process(reader: Reader) -> Iterator[Chunk]:
    # spawn, not fork: the parent holds database connections and (in the CLI) a progress thread.
    context = multiprocessing.get_context("spawn")
    chunks: Queue[_Message] = context.Queue(maxsize=AHEAD)
    worker = context.Process(target=_send_chunks, args=(reader, chunks), name="parlour-import-reader", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            message = _receive(chunks, worker)
            if message is None:
                finished = True
                return
            if isinstance(message, _Failed):
                raise message.error
            yield message
    finally:
        # The import stopped early (an error here or there, or its consumer let go): the reader stops too.
        if not finished:
            worker.terminate()
        worker.join()
        chunks.close()


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
