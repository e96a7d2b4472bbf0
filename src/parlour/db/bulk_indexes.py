"""The comments table's secondary indexes, set aside during a bulk load and built once at the end.

Inserting a million imported comments with the six secondary indexes in place cost SQLite 89 s on the
benchmark machine, against 23 s for the rows alone and 13 s to build the six indexes afterwards: each new row
adds an entry at its own place in every index, and once the indexes outgrow the page cache each of those
pages is read back from the file. Built afterwards, an index is one sorted pass over the table.

While they are set aside, the queries that use them (thread pages, moderation queues) scan the table instead.
That is harmless while a new installation is being filled and costly on a site readers are using, so the
importer only sets them aside when asked to or when the table is empty (see transfer/importer.py). They are
built again when the load ends, whether it succeeded or failed; after a crash, by the next import or
`parlour db upgrade` (`restore`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Engine, Index, Table, inspect

from parlour.db.tables import Comment

# Unique constraints stay: they keep the data right, and the import looks rows up through them.
_SECONDARY: tuple[Index, ...] = tuple(sorted(cast(Table, Comment.__table__).indexes, key=lambda index: str(index.name)))


def missing(bind: Connection | Engine) -> list[Index]:
    """The secondary indexes of comments that are not in the database: set aside by a load that did not end."""
    present = {index["name"] for index in inspect(bind).get_indexes(Comment.__tablename__)}
    return [index for index in _SECONDARY if index.name not in present]


def set_aside(connection: Connection) -> list[Index]:
    """Drop the secondary indexes of comments that exist; returns every one that is now missing."""
    absent = set(missing(connection))
    for index in _SECONDARY:
        if index not in absent:
            index.drop(connection)
    return list(_SECONDARY)


def build(connection: Connection, index: Index) -> None:
    index.create(connection, checkfirst=True)


def restore(engine: Engine) -> list[str]:
    """Build every missing secondary index of comments, each in its own transaction; returns their names."""
    built = []
    for index in missing(engine):
        with engine.begin() as connection:
            build(connection, index)
        built.append(str(index.name))
    return built
