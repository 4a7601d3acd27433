"""The job runner: real threads, a real SQLite file, real interrupts."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from sandbox_admin.gui.jobs import NO_DATABASE, JobContext, JobRunner
from sandbox_admin.storage import errors

# A query that runs for minutes unless interrupted.
ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) "
    "SELECT sum(x) FROM c"
)


@pytest.fixture
def runner(qtbot, fresh_store):
    r = JobRunner()
    r.set_store(fresh_store)
    yield r
    r.cancel_all()
    assert r.wait_idle(10000)


def _wait(qtbot, job, timeout=10000):
    if job.state == "done":
        return
    with qtbot.waitSignal(job.finished, timeout=timeout):
        pass


def test_result_arrives_on_gui_thread(qtbot, runner, fresh_store):
    seen: dict = {}

    def work(ctx: JobContext) -> int:
        seen["worker"] = threading.current_thread()
        assert ctx.store is fresh_store
        return ctx.store.models.Sandbox.select().count()

    def on_result(value: int) -> None:
        seen["result"] = value
        seen["callback"] = threading.current_thread()

    job = runner.submit(work, name="count", on_result=on_result)
    with qtbot.waitSignal(job.finished, timeout=5000):
        pass
    assert seen["result"] == 0
    assert seen["worker"] is not threading.main_thread()
    assert seen["callback"] is threading.main_thread()
    assert job.state == "done" and job.result == 0 and job.error is None
    assert runner.is_idle() and runner.running_count == 0


def test_worker_connection_goes_back_to_pool(qtbot, runner, fresh_store):
    before = set(fresh_store.db._in_use)  # the fixture's own (main-thread) connection
    jobs = [runner.submit(lambda ctx: ctx.store.db.data_version(), name=f"v{i}") for i in range(20)]
    assert runner.wait_idle()
    assert all(j.error is None for j in jobs)
    assert set(fresh_store.db._in_use) == before  # every worker returned its connection
    assert len(fresh_store.db._connections) >= 1


@pytest.mark.parametrize(
    "raise_, expected, text",
    [
        (sqlite3.OperationalError("database is locked"), errors.DatabaseLocked, "locked by another"),
        (ValueError("boom"), errors.StorageError, "Unexpected error"),
        (errors.NotFound("no sandbox x"), errors.NotFound, "no sandbox x"),
    ],
)
def test_errors_arrive_translated(qtbot, runner, raise_, expected, text):
    got: list = []

    def work(ctx):
        raise raise_

    job = runner.submit(work, name="fails", on_error=got.append)
    _wait(qtbot, job)
    assert len(got) == 1 and type(got[0]) is expected
    assert text in str(got[0])
    assert isinstance(job.error, errors.StorageError)
    if isinstance(raise_, ValueError):
        assert "ValueError: boom" in got[0].detail  # the traceback is behind "Details…"


def test_progress_reaches_gui_thread_throttled(qtbot, runner):
    seen: list = []

    def work(ctx):
        for i in range(1, 100001):
            ctx.report(i, 100000, "rows")
        return "ok"

    job = runner.submit(work, name="progress",
                        on_progress=lambda d, t, m: seen.append((d, t, m, threading.current_thread())))
    _wait(qtbot, job)
    assert seen[-1][:3] == (100000, 100000, "rows")  # the last report always arrives
    assert len(seen) < 1000  # but not 100,000 queued signals
    assert all(s[3] is threading.main_thread() for s in seen)


def test_cancel_interrupts_a_long_sqlite_query(qtbot, runner):
    started = threading.Event()

    def work(ctx):
        started.set()
        return ctx.store.db.execute_sql(ENDLESS).fetchone()

    job = runner.submit(work, name="endless")
    assert started.wait(5)
    time.sleep(0.2)  # let the statement get going
    t0 = time.monotonic()
    job.cancel()
    _wait(qtbot, job, timeout=5000)
    assert time.monotonic() - t0 < 2.0  # stopped by sqlite3_interrupt, not by finishing
    assert isinstance(job.error, errors.Cancelled)
    assert "cancelled" in str(job.error).lower()
    # the worker's connection is usable for the next job
    after = runner.submit(lambda ctx: ctx.store.db.execute_sql("SELECT 41 + 1").fetchone()[0],
                          name="after")
    _wait(qtbot, after)
    assert after.result == 42


def test_cancel_between_statements_via_check_cancelled(qtbot, runner):
    steps: list[int] = []

    def work(ctx):
        for i in range(1000):
            ctx.check_cancelled()
            steps.append(i)
            time.sleep(0.01)
        return "finished"

    job = runner.submit(work, name="loop")
    qtbot.waitUntil(lambda: len(steps) > 3, timeout=5000)
    job.cancel()
    _wait(qtbot, job)
    assert isinstance(job.error, errors.Cancelled) and len(steps) < 1000


def test_cancel_pending_job_never_runs(qtbot, runner):
    gate = threading.Event()
    ran: list[str] = []
    blocker = runner.submit(lambda ctx: gate.wait(5), name="blocker", exclusive=True)
    queued = runner.submit(lambda ctx: ran.append("queued"), name="queued")
    queued.cancel()
    _wait(qtbot, queued)
    assert isinstance(queued.error, errors.Cancelled)
    gate.set()
    _wait(qtbot, blocker)
    assert runner.wait_idle()
    assert ran == []


def test_exclusive_gate_waits_for_running_and_holds_new(qtbot, runner):
    log: list[str] = []
    lock = threading.Lock()
    release_a, release_b = threading.Event(), threading.Event()

    def task(name, release=None, pause=0.0):
        def work(ctx):
            with lock:
                log.append(f"start {name}")
            if release is not None:
                assert release.wait(5)
            time.sleep(pause)
            with lock:
                log.append(f"end {name}")
            return name
        return work

    gate_states: list[bool] = []
    runner.exclusive_changed.connect(gate_states.append)
    running: list[int] = []
    runner.running_changed.connect(running.append)

    a = runner.submit(task("A", release_a), name="A")
    b = runner.submit(task("B", release_b), name="B")
    x = runner.submit(task("X", pause=0.1), name="X", exclusive=True)
    c = runner.submit(task("C"), name="C")
    qtbot.waitUntil(lambda: log.count("start A") + log.count("start B") == 2, timeout=5000)
    assert runner.exclusive_active and runner.exclusive_job() is x
    assert x.state == "pending" and c.state == "pending"  # X waits; C is held behind X
    release_a.set()
    _wait(qtbot, a)
    assert x.state == "pending"  # B still runs
    release_b.set()
    for job in (b, x, c):
        _wait(qtbot, job)
    assert runner.wait_idle()
    assert log.index("start X") > max(log.index("end A"), log.index("end B"))
    assert log.index("start C") > log.index("end X")
    assert gate_states == [True, False]
    assert max(running) == 2 and running[-1] == 0


def test_no_store_fails_with_a_clear_error(qtbot):
    runner = JobRunner()
    got: list = []
    job = runner.submit(lambda ctx: 1, name="orphan", on_error=got.append)
    _wait(qtbot, job)
    assert got and str(got[0]) == NO_DATABASE
    # store=None explicitly: runs without a database (e.g. opening one)
    ok = runner.submit(lambda ctx: ctx.store, name="open", store=None)
    _wait(qtbot, ok)
    assert ok.error is None and ok.result is None
    assert runner.wait_idle()


def test_close_when_idle_waits_for_the_stores_jobs(qtbot, tmp_path):
    from sandbox_admin.storage import create_store

    store = create_store(tmp_path / "x.db")
    runner = JobRunner()
    runner.set_store(store)
    started = threading.Event()

    def work(ctx):
        started.set()
        return ctx.store.db.execute_sql(ENDLESS).fetchone()

    job = runner.submit(work, name="long")
    assert started.wait(5)
    runner.close_when_idle(store)  # cancels it, closes after it stops
    _wait(qtbot, job)
    assert isinstance(job.error, errors.Cancelled)
    assert runner.wait_idle()
    assert store.db._in_use == {} and store.db._connections == []


def test_sql_runs_only_on_worker_threads(qtbot, runner, fresh_store):
    """A Peewee query hook records the thread of every statement."""
    threads: list[threading.Thread] = []
    fresh_store.db.query_hooks.append(lambda ev: threads.append(threading.current_thread()))
    jobs = [
        runner.submit(lambda ctx: ctx.store.info(), name="info"),
        runner.submit(lambda ctx: ctx.store.migration_status(), name="status"),
        runner.submit(lambda ctx: list(ctx.store.models.Sandbox.select().limit(5)), name="rows"),
    ]
    assert runner.wait_idle()
    assert all(j.error is None for j in jobs)
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_cancel_just_before_the_statement_starts(qtbot, runner):
    """interrupt() on an idle connection is a no-op; the progress handler still stops it."""
    attached, go = threading.Event(), threading.Event()

    def work(ctx):
        attached.set()
        assert go.wait(5)
        return ctx.store.db.execute_sql(ENDLESS).fetchone()

    job = runner.submit(work, name="race")
    assert attached.wait(5)
    job.cancel()  # before the statement exists
    go.set()
    _wait(qtbot, job, timeout=5000)
    assert isinstance(job.error, errors.Cancelled)
