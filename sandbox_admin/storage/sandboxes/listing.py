"""Reading keyset pages of sandbox rows (the SQL side of ``SandboxStore.page`` / ``listing``).

A page after ``(k, id)`` is two index seeks (see :mod:`.query`): the rest of the rows
with key ``k``, then the rows beyond it. Rows come back as sqlite3 makes them, the
sort key last; turning them into records is the caller's choice.
"""

from __future__ import annotations

from typing import Any, Callable

from .query import Cursor, sort_key, where

#: Rows per fetch between two ``between()`` calls (see :func:`keyset_page`).
BATCH = 64


def read_rows(db: Any, model: Any, terms: list[Any], key: Any, descending: bool, limit: int,
              columns: Any, *, key_fixed: bool = False,
              between: Callable[[], None] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``columns`` (with the key last) in (key, id) order; ``key_fixed``: the terms
    pin the key to one value, so order by id alone (SQLite does not see that an
    expression is constant and would sort the whole tie group on every page)."""
    order = [model.id.desc() if descending else model.id.asc()]
    if not key_fixed:
        order.insert(0, key.desc() if descending else key.asc())
    query = model.select(*columns, key.alias("_k")).where(where(terms)).order_by(*order).limit(limit)
    cursor = db.execute(query)
    if between is None:
        return cursor.fetchall()
    rows: list[tuple[Any, ...]] = []
    while batch := cursor.fetchmany(BATCH):
        rows += batch
        between()
    return rows


def keyset_page(db: Any, model: Any, terms: list[Any], sort: str, descending: bool,
                after: Cursor | None, limit: int, columns: Any,
                between: Callable[[], None] | None = None,
                ) -> tuple[list[tuple[Any, ...]], Cursor | None]:
    """Up to ``limit`` rows after ``after`` and the cursor of the next page (None: no more).
    ``between()``, when given, is called after every BATCH rows read."""
    key = sort_key(model, sort)
    want = limit + 1  # one more than asked: tells whether there is a next page
    if after is None:
        rows = read_rows(db, model, terms, key, descending, want, columns, between=between)
    elif sort == "id":
        beyond = model.id < after.id if descending else model.id > after.id
        rows = read_rows(db, model, [*terms, beyond], key, descending, want, columns, between=between)
    else:
        same_key = [key == after.key, model.id < after.id if descending else model.id > after.id]
        rows = read_rows(db, model, [*terms, *same_key], key, descending, want, columns,
                         key_fixed=True, between=between)
        if len(rows) < want:
            beyond = key < after.key if descending else key > after.key
            rows += read_rows(db, model, [*terms, beyond], key, descending, want - len(rows),
                              columns, between=between)
    if len(rows) <= limit:
        return rows, None
    del rows[limit:]
    return rows, Cursor(sort, descending, rows[-1][-1], rows[-1][0])
