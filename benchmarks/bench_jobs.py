"""The job runner's cost: dispatch overhead per job, and how fast cancel stops SQLite.

* ``N point queries as jobs``: N jobs (each one primary-key SELECT through Peewee) through
  :class:`JobRunner`, results delivered on the GUI thread, vs the same N queries run
  directly on one thread. The ratio is the price of "no SQL on the GUI thread".
* ``cancel of a running query``: from ``Job.cancel()`` on the GUI thread to the
  ``failed(Cancelled)`` signal there, vs a raw sqlite3 ``interrupt()`` from another
  thread until the query raises.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from .harness import Figure, best_of, scratch_dir  # noqa: E402

ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) "
    "SELECT sum(x) FROM c"
)


def _app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def run(quick: bool = False) -> list[Figure]:
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.storage import create_store, errors

    _app()
    n = 200 if quick else 1000
    with scratch_dir() as tmp:
        store = create_store(tmp / "jobs.db")
        S = store.models.Sandbox
        with store.transaction():
            S.insert_many([{"id": f"sb-{i:05d}", "status": "running"} for i in range(n)]).execute()
        store.db.close()
        runner = JobRunner()
        runner.set_store(store)
        ids = [f"sb-{i:05d}" for i in range(n)]

        def through_runner() -> None:
            got: list[str] = []
            for sid in ids:
                runner.submit(lambda ctx, s=sid: S.get_by_id(s).status, name="get",
                              on_result=got.append)
            assert runner.wait_idle(60_000) and len(got) == n

        def direct() -> None:
            with store.connection():
                got = [S.get_by_id(sid).status for sid in ids]
            assert len(got) == n

        repeat = 3 if quick else 5
        jobs_time = best_of(through_runner, repeat)
        direct_time = best_of(direct, repeat)

        def cancel_ours() -> float:
            started = threading.Event()
            job = runner.submit(lambda ctx: (started.set(), ctx.store.db.execute_sql(ENDLESS).fetchone()),
                                name="endless")
            started.wait(5)
            time.sleep(0.05)
            done: list[float] = []
            job.failed.connect(lambda e: done.append(time.perf_counter()))
            t0 = time.perf_counter()
            job.cancel()
            runner.wait_idle(10_000)
            assert done and isinstance(job.error, errors.Cancelled)
            return done[0] - t0

        def cancel_raw() -> float:
            con = sqlite3.connect(str(tmp / "jobs.db"), check_same_thread=False)
            stopped: list[float] = []

            def work() -> None:
                try:
                    con.execute(ENDLESS).fetchone()
                except sqlite3.OperationalError:
                    stopped.append(time.perf_counter())

            thread = threading.Thread(target=work)
            thread.start()
            time.sleep(0.05)
            t0 = time.perf_counter()
            con.interrupt()
            thread.join(10)
            con.close()
            return stopped[0] - t0

        tries = 3 if quick else 7
        ours_cancel = min(cancel_ours() for _ in range(tries))
        raw_cancel = min(cancel_raw() for _ in range(tries))
        runner.wait_idle()
        store.close()
    return [
        Figure(f"{n} point queries as jobs", jobs_time, direct_time,
               note=f"{(jobs_time - direct_time) / n * 1e6:.0f} µs dispatch per job; results on the GUI thread"),
        Figure("cancel of a running query", ours_cancel, raw_cancel,
               note="Job.cancel() to failed(Cancelled) on the GUI thread vs raw interrupt()"),
    ]
