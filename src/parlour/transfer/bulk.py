"""Many rows into one table in one executemany, without SQLAlchemy's per-row statement bookkeeping.

An import inserts a few rows per comment. Through `session.execute(insert(table), rows)` SQLAlchemy builds the
parameters of every row through its compiled statement (construct_params), which cost more than SQLite's own
work. Here the statement is compiled once per batch, each column's bind processor (the same one SQLAlchemy
would apply: UTC datetimes, JSON, enums) is applied once per value, or once per batch for a value every row
shares, and the driver gets plain tuples or dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

_Processor = Callable[[Any], Any] | None


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys, in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    # The statement also names the columns with a default in Python that the rows leave out; SQLAlchemy fills
    # those in its execution context, which the driver's executemany skips: they are filled here.
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    defaults = {name: _default(table, name) for name in names if name not in rows[0]}
    processors = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names}
    first = rows[0]
    shared = [_process(processors[name], first[name] if name in first else defaults[name]) for name in names]
    varying = [(index, name, processors[name], first[name]) for index, name in enumerate(names) if name in first]

    def values(row: dict[str, Any]) -> list[Any]:
        processed = shared.copy()
        for index, name, processor, first_value in varying:
            value = row[name]
            if value is not first_value:
                processed[index] = value if processor is None else processor(value)
        return processed

    if compiled.positional:
        parameters: list[Any] = [tuple(values(row)) for row in rows]
    else:
        parameters = [dict(zip(names, values(row), strict=True)) for row in rows]
    connection.exec_driver_sql(compiled.string, parameters)


def _default(table: Table, name: str) -> Any:
    default: Any = table.c[name].default
    if default is None:
        raise ValueError(f"{table.name}.{name} has no value and no default")
    return default.arg(None) if default.is_callable else default.arg


def _process(processor: _Processor, value: Any) -> Any:
    return value if processor is None else processor(value)
