"""WorkflowStore on real files: a run with a failed and retried step, a failure, filters,
keyset paging by instant, durations, Go shapes, the Go fixture."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from sandbox_admin.storage import WorkflowFilter, errors

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def wf(fresh_store):
    fresh_store.sandboxes.create("sb-a", "running")
    fresh_store.sandboxes.create("sb-b", "running")
    return fresh_store.workflows


def test_a_step_fails_is_retried_and_the_run_completes(wf):
    e = wf.create("build", ["checkout", "test", "publish"], sandbox_id="sb-a",
                  input_data={"branch": "main"}, at=at(0))
    assert (e.status, e.step_count, e.duration(now=at(10))) == ("pending", 3, 10.0)
    wf.advance(e.id, at=at(1))                      # checkout starts
    wf.advance(e.id, at=at(4))                      # checkout done, test starts
    failed = wf.finish_step(e.id, 1, ok=False, error="timeout after 3 s", at=at(7))
    assert failed.status == "failed" and failed.error_message == "timeout after 3 s"
    retried = wf.retry_step(e.id, 1, at=at(8))
    assert retried.status == "running" and retried.retry_count == 1 and retried.started_at == at(4)
    wf.advance(e.id, at=at(12))                     # test done on the retry, publish starts
    done = wf.advance(e.id, output_data={"artifacts": 2}, at=at(15))
    assert done.status == "completed" and done.completed_at == at(15) and done.duration() == 15.0
    assert done.output_data == {"artifacts": 2}
    tl = wf.timeline(e.id)
    assert [(s.step_name, s.status, s.retry_count) for s in tl.steps] == [
        ("checkout", "completed", 0), ("test", "completed", 1), ("publish", "completed", 0)]
    assert [s.duration() for s in tl.steps] == [3.0, 8.0, 3.0]
    assert tl.steps[1].error_message == "timeout after 3 s"  # the failure before the retry stays
    assert tl.retries == 1 and tl.failed_step is None and tl.span() == (at(0), at(15))
    with pytest.raises(errors.InvalidInput):
        wf.advance(e.id, at=at(16))  # finished: nothing changes


def test_a_step_fails_after_retries_and_the_run_fails_at_it(wf):
    e = wf.create("deploy", ["build", "push", "notify"], sandbox_id="sb-b", at=at(0))
    wf.advance(e.id, at=at(1))
    wf.advance(e.id, at=at(2))
    for n in range(2):
        wf.finish_step(e.id, 1, ok=False, error=f"registry 503 (attempt {n + 1})", at=at(3 + 2 * n))
        wf.retry_step(e.id, 1, at=at(4 + 2 * n))
    end = wf.advance(e.id, ok=False, error="registry 503 (attempt 3)", at=at(9))
    assert end.status == "failed" and end.current_step == 1
    assert end.error_message == "step push failed: registry 503 (attempt 3)"
    tl = wf.timeline(e.id)
    assert tl.failed_step.step_name == "push" and tl.failed_step.retry_count == 2
    assert [s.status for s in tl.steps] == ["completed", "failed", "skipped"]
    with pytest.raises(errors.InvalidInput):
        wf.retry_step(e.id, 1)


def test_values_keep_the_go_shapes(wf):
    e = wf.create("nightly", ["a", "b"], at=at(0))
    wf.advance(e.id, at=at(1))
    con = sqlite3.connect(wf.store.path)
    try:
        row = con.execute("SELECT input_data, output_data, error_message, started_at, completed_at, "
                          "execution_time_seconds, metadata, sandbox_id FROM workflow_executions").fetchone()
        steps = con.execute("SELECT input_data, output_data, error_message, started_at, "
                            "execution_time_seconds, retry_count FROM workflow_steps ORDER BY step_order").fetchall()
    finally:
        con.close()
    assert row == ("null", "null", "", "2026-11-20 12:00:00+00:00", None, 0.0, "null", None)
    assert steps == [("null", "null", "", "2026-11-20 12:00:01+00:00", 0.0, 0),
                     ("null", "null", "", None, 0.0, 0)]
    with pytest.raises(errors.NotFound):
        wf.create("x", ["a"], sandbox_id="no-such-sandbox")
    with pytest.raises(errors.InvalidInput):
        wf.create("x", [])


def test_filters_and_keyset_pages_by_instant(wf):
    ids = []
    for i in range(30):
        e = wf.create("build" if i % 3 else "export", ["s"], sandbox_id="sb-a" if i % 2 else "sb-b",
                      at=at(i * 60), id=f"e{i:02d}")
        ids.append(e.id)
        if i % 5 == 0:
            wf.advance(e.id, at=at(i * 60 + 1))
            wf.advance(e.id, ok=False, error="x", at=at(i * 60 + 2))
    con = sqlite3.connect(wf.store.path)
    con.execute("UPDATE workflow_executions SET started_at='2026-11-20 05:29:30-07:00' WHERE id='e00'")
    con.commit()
    con.close()  # e00 now starts at 12:29:30 UTC: between e29 and e30 ... i.e. after e29
    seen, cursor = [], None
    while True:
        page = wf.page(after=cursor, limit=7)
        seen += [r.id for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # by instant, not by text (which would put e00's "05:29:30-07:00" last)
    assert seen == ["e00", *[f"e{i:02d}" for i in range(29, 0, -1)]]
    assert wf.count(WorkflowFilter(statuses=frozenset({"failed"}))) == 6
    assert wf.count(WorkflowFilter(sandbox_id="sb-a")) == 15
    assert wf.count(WorkflowFilter(workflow_name="export")) == 10
    window = WorkflowFilter(started_from=at(600), started_to=at(1200))
    assert [r.id for r in wf.page(window).rows] == [f"e{i:02d}" for i in range(19, 9, -1)]
    counts = wf.status_counts(WorkflowFilter(statuses=frozenset({"failed"})))
    assert counts == {"failed": 6, "pending": 24}  # facets ignore the status filter
    assert wf.workflow_names() == ["build", "export"]


def test_deleting_the_sandbox_keeps_its_runs(wf):
    e = wf.create("build", ["s"], sandbox_id="sb-a", at=at(0))
    con = sqlite3.connect(wf.store.path)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("DELETE FROM sandboxes WHERE id='sb-a'")
    con.commit()
    con.close()
    assert wf.get(e.id).sandbox_id is None and len(wf.steps(e.id)) == 1


def test_go_fixture_workflows(go_store):
    assert go_store.workflows.page().rows == [] and go_store.workflows.count() == 0
    sid = go_store.sandboxes.page(limit=1).rows[0].id
    e = go_store.workflows.create("build", ["one", "two"], sandbox_id=sid)
    go_store.workflows.advance(e.id)
    go_store.workflows.finish(e.id, "cancelled")
    tl = go_store.workflows.timeline(e.id)
    assert tl.execution.status == "cancelled" and [s.status for s in tl.steps] == ["cancelled", "skipped"]


def test_written_values_have_the_go_column_types(fresh_store):
    """typeof() of what we write, table by table: what the Go reader scans."""
    s = fresh_store
    s.sandboxes.create("sb", "running")
    s.templates.create("t", "img", id="t", is_default=True, tags=["a"])
    s.templates.create_sandbox("t", sandbox_id="sb2")
    e = s.workflows.create("w", ["a", "b"], sandbox_id="sb", at=T0)
    s.workflows.advance(e.id, at=at(1))
    s.workflows.advance(e.id, at=at(2))
    s.workflows.advance(e.id, ok=False, error="x", at=at(3))
    fid = s.files.create("sb", "/a.txt", b"abc").id
    s.cache.put(fid, b"abc", at=T0)
    s.cache.touch(fid, at=at(5))
    con = sqlite3.connect(s.path)
    try:
        def types(table: str, columns: str) -> set[tuple]:
            return set(con.execute(f"SELECT {', '.join(f'typeof({c})' for c in columns.split())} FROM {table}"))

        assert types("sandbox_templates", "id name description config base_image pre_installed_packages "
                     "environment_vars resource_limits created_at updated_at created_by usage_count "
                     "is_default tags") == {("text",) * 11 + ("integer", "integer", "text")}
        assert types("workflow_executions", "id workflow_name status input_data output_data error_message "
                     "started_at completed_at execution_time_seconds step_count current_step metadata") == {
            ("text",) * 8 + ("real", "integer", "integer", "text")}
        assert types("workflow_steps", "id execution_id step_name step_order status input_data output_data "
                     "error_message started_at completed_at execution_time_seconds retry_count") == {
            ("integer", "text", "text", "integer") + ("text",) * 6 + ("real", "integer")}
        assert types("file_content_cache", "file_id content_hash content_data compressed cached_at "
                     "access_count last_accessed") == {("integer", "text", "blob", "integer", "text", "integer", "text")}
    finally:
        con.close()
