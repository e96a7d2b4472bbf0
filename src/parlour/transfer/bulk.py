"""Many rows through one statement in one executemany, without SQLAlchemy's per-row statement bookkeeping.

An import inserts a few rows per comment. Through `session.execute(insert(table), rows)` SQLAlchemy builds the
parameters of every row through its compiled statement (construct_params), which cost more than SQLite's own
work. Here the statement is compiled once per batch with named parameters, so each row's dict goes to the driver
as it is; only the columns with a bind processor (the same one SQLAlchemy would apply: UTC datetimes, JSON,
enums) are converted, and a value every row shares is converted once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement

_Processor = Callable[[Any], Any] | None


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys, in the session's transaction; the rows are filled in place with
    defaults and driver values, so they are not to be used again."""
    if not rows:
        return
    dialect = _named(session.connection().dialect)
    # The statement also names the columns with a default in Python that the rows leave out; SQLAlchemy fills
    # those in its execution context, which the driver's executemany skips: they are filled here.
    compiled = insert(table).compile(dialect=dialect, column_keys=list(rows[0]))
    defaults = {name: _default(table, name) for name in compiled.binds if name not in rows[0]}
    types = {name: table.c[name].type for name in compiled.binds}
    _execute_many(session, dialect, compiled.string, types, defaults, rows)


def execute_many(session: Session, statement: ClauseElement, rows: Sequence[dict[str, Any]]) -> None:
    """Run a statement once per row of bound values (an UPDATE by id, say), in one executemany; the rows are
    filled in place, as by insert_rows."""
    if not rows:
        return
    dialect = _named(session.connection().dialect)
    compiled: Any = statement.compile(dialect=dialect)
    types = {name: bind.type for name, bind in compiled.binds.items()}
    # Values written in the statement itself (the 1 of `version + 1`) are bound parameters too.
    literals = {name: bind.effective_value for name, bind in compiled.binds.items() if name not in rows[0]}
    _execute_many(session, dialect, compiled.string, types, literals, rows)


def _execute_many(
    session: Session,
    dialect: Dialect,
    sql: str,
    types: dict[str, Any],
    defaults: dict[str, Any],
    rows: Sequence[dict[str, Any]],
) -> None:
    processors: dict[str, _Processor] = {
        name: kind.dialect_impl(dialect).bind_processor(dialect) for name, kind in types.items()
    }
    fixed = {name: _process(processors[name], value) for name, value in defaults.items()}
    first = rows[0]
    # (column, processor, first row's value, processed): most rows share the first row's JSON list, say.
    converted = [
        (name, processor, first[name], processor(first[name]))
        for name, processor in processors.items()
        if processor is not None and name in first
    ]

    # Rows are filled in place, not copied: they are built for this insert alone, and a copy of each of a
    # million rows' dicts was a tenth of the Python time of an import's comments insert.
    for row in rows:
        if fixed:
            row.update(fixed)
        for name, processor, first_value, first_processed in converted:
            value = row[name]
            row[name] = first_processed if value is first_value else processor(value)
    session.connection().exec_driver_sql(sql, list(rows))


def _named(dialect: Dialect) -> Dialect:
    """The dialect, or a twin of it whose statements take named parameters: each row's dict as it is."""
    if dialect.paramstyle in ("named", "pyformat"):
        return dialect
    twin: Any = type(dialect)
    return cast(Dialect, twin(paramstyle="named"))


def _default(table: Table, name: str) -> Any:
    default: Any = table.c[name].default
    if default is None:
        raise ValueError(f"{table.name}.{name} has no value and no default")
    return default.arg(None) if default.is_callable else default.arg


def _process(processor: _Processor, value: Any) -> Any:
    return value if processor is None else processor(value)
