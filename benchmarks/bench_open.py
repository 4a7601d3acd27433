"""Opening a database and ``info`` vs raw sqlite3 doing the same counts."""

from __future__ import annotations

import shutil
import sqlite3

from sandbox_admin.storage import open_store

from .harness import GO_FIXTURE, Figure, best_of, scratch_dir


def run(quick: bool = False) -> list[Figure]:
    with scratch_dir() as tmp:
        db = tmp / "fixture.db"
        shutil.copyfile(GO_FIXTURE, db)

        def ours() -> None:
            with open_store(db, read_only=True) as store:
                store.info()

        def raw() -> None:
            con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'file_search_fts%'")]
            for name in names:
                con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            con.execute("SELECT version FROM migrations").fetchall()
            con.close()

        repeat = 5 if quick else 20
        return [
            Figure("open + info on the Go fixture", best_of(ours, repeat), best_of(raw, repeat),
                   note="header check, safe open, schema status, counts"),
        ]
