"""Writing rows whose triggers feed the FTS5 index, on connections opened defensively.

Connections run with ``trusted_schema=OFF`` (untrusted files must not get to run
functions or virtual tables from their schema). The Go schema's triggers
``file_metadata_ai/_ad/_au`` write into the FTS5 table ``file_search_fts``, and SQLite
refuses a virtual table inside a trigger when the schema is not trusted ("unsafe use
of virtual table"). So every INSERT, UPDATE or DELETE on ``file_metadata`` - including
one cascaded from deleting a sandbox - fails on such a connection.

:func:`trusted_schema` is the narrow way through: it first checks that every trigger in
the database is one our migrations create, with the same text (whitespace aside), and
only then turns ``trusted_schema`` on for this connection, for the duration of the
block. A database carrying any other trigger is refused with a clear error.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

from . import errors

if TYPE_CHECKING:
    import peewee

    from .store import Store

_TRIGGER_NAME = re.compile(r"CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"'`\[]?(\w+)", re.IGNORECASE)


def normalise_sql(sql: str) -> str:
    """Whitespace-insensitive form of a statement, for comparing schema text."""
    text = re.sub(r"\s+", " ", sql).strip()
    return re.sub(r"\s*([(),;=])\s*", r"\1", text)


@lru_cache(maxsize=1)
def known_triggers() -> dict[str, str]:
    """Trigger name -> normalised SQL, from every migration's up steps."""
    from .migrations import MIGRATIONS

    found: dict[str, str] = {}
    for migration in MIGRATIONS:
        for step in migration.up:
            if isinstance(step, str):
                match = _TRIGGER_NAME.search(step)
                if match:
                    found[match.group(1)] = normalise_sql(step)
    return found


def foreign_triggers(db: "peewee.Database") -> list[str]:
    """Triggers in the database that our migrations do not define as they are."""
    known = known_triggers()
    rows = db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    return sorted(name for name, sql in rows if known.get(name) != normalise_sql(sql or ""))


def foreign_views(db: "peewee.Database") -> list[str]:
    """Views (our migrations create none; the Go schema has none)."""
    rows = db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall()
    return sorted(str(r[0]) for r in rows)


def refuse_foreign_triggers(db: "peewee.Database", name: str) -> None:
    """Every write transaction starts here: a trigger we did not create could turn our
    write against the data (delete chunks when an audit row is added, rewrite every
    sandbox when a rollup row is), so no write runs while one is present."""
    strangers = foreign_triggers(db)
    if strangers:
        raise errors.ForeignTriggers(
            f"{name} has triggers this program did not create or that were changed "
            f"({', '.join(strangers)}); refusing to write, which would run them. Nothing was "
            "changed. Inspect them (sandbox-admin check lists them) and drop them, or restore "
            "a backup.", triggers=strangers)


def unknown_triggers(store: "Store") -> list[str]:
    """Triggers in the database that our migrations do not define as they are."""
    return foreign_triggers(store.db)


@contextmanager
def trusted_schema(store: "Store") -> Iterator[None]:
    """Let the known Go triggers (FTS5 upkeep) run for the statements in this block.

    Use inside ``store.transaction()``: the check and the writes then see one schema.
    """
    strangers = unknown_triggers(store)
    if strangers:
        raise errors.StorageError(
            f"{store.path.name} has triggers this program does not know or that were changed "
            f"({', '.join(sorted(strangers))}); refusing to write file rows, which would run "
            "them. Inspect the schema (sandbox-admin check) or restore a backup."
        )
    store.db.execute_sql("PRAGMA trusted_schema = ON")
    try:
        yield
    finally:
        store.db.execute_sql("PRAGMA trusted_schema = OFF")
