"""folded(column): a text column with case and accents folded as folding.fold_for_search folds the search words.

SQLite's LIKE folds ASCII letters only and PostgreSQL's lower() depends on the collation, so neither finds
"naïve" for "NAIVE". On SQLite each connection gets the Python function (registered in db/engine.py); on
PostgreSQL the same one-for-one table is applied with translate(), so both databases find the same comments.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from parlour.moderation.folding import SEARCH_TABLE

SQLITE_FUNCTION = "parlour_fold"
_FROM = "".join(chr(code) for code, to in SEARCH_TABLE.items() if to is not None)
_TO = "".join(chr(to) for to in SEARCH_TABLE.values() if to is not None)
_DELETED = "".join(chr(code) for code, to in SEARCH_TABLE.items() if to is None)  # past the end of _TO: removed


class folded(FunctionElement[str]):  # noqa: N801  # reads as a SQL function, like func.lower
    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded, "sqlite")
def _sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


@compiles(folded)
def _translate(element: folded, compiler: Any, **kw: Any) -> str:
    table_from = compiler.process(literal(_FROM + _DELETED), **kw)
    table_to = compiler.process(literal(_TO), **kw)
    return f"translate({compiler.process(element.clauses, **kw)}, {table_from}, {table_to})"
