"""SandboxStore on real database files: writes in Go's formats, locking, soft delete,
purge, cleanup, checkpoints, filters, keyset paging (200,000 rows), counts, audit, CLI."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox_admin.storage import PoolConfig, create_store, errors, open_store
from sandbox_admin.storage.fields import parse_timestamp, utcnow
from sandbox_admin.storage.sandboxes.store import SORTABLE, Cursor, SandboxFilter
from tests.conftest import sha256_file
from tests.storage import sandbox_rows
from tests.storage.sandbox_rows import go_text

UTC = timezone.utc
GO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?\+00:00$")
NOT_NULL = ("container_id", "working_dir", "environment", "config", "metadata", "recovery_data")


def raw(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def raw_row(path: Path, id: str) -> dict:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM sandboxes WHERE id = ?", (id,)).fetchone())
    finally:
        con.close()


def compact(text: str) -> bool:
    """Is ``text`` JSON written compact with sorted keys?"""
    return text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def st(fresh_store):
    return fresh_store.sandboxes


def audit_rows(path: Path) -> list[dict]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM audit_trail ORDER BY id")]
    finally:
        con.close()


# -- writing in Go's formats -----------------------------------------------------------------

def test_create_writes_go_formats_and_one_audit_entry(fresh_store, st):
    env = {"GREETING": "héllo <b>&</b>", "A": {"z": 1, "b": [1, 2]}}
    record = st.create("sbx-1", "creating", environment=env, config={"image": "python:3.11"},
                       user_id="alice")
    assert (record.id, record.status, record.version, record.environment) == ("sbx-1", "creating", 1, env)
    assert record.metadata is None and record.recovery_data is None and not record.deleted
    row = raw_row(fresh_store.path, "sbx-1")
    for name in NOT_NULL:
        assert row[name] is not None, name
    assert row["container_id"] == "" and row["working_dir"] == ""
    assert row["metadata"] == "null" and row["recovery_data"] == "null"  # Go's absent map
    assert compact(row["environment"]) and compact(row["config"])
    assert GO_TIME.match(row["created_at"]) and GO_TIME.match(row["updated_at"])
    assert parse_timestamp(row["created_at"]) == record.created_at
    [entry] = audit_rows(fresh_store.path)
    assert (entry["entity_type"], entry["entity_id"], entry["action"], entry["user_id"]) == (
        "sandbox", "sbx-1", "create", "alice")
    assert entry["old_data"] == "" and GO_TIME.match(entry["timestamp"])
    new = json.loads(entry["new_data"])
    assert compact(entry["new_data"]) and compact(entry["metadata"])
    assert new["id"] == "sbx-1" and new["environment"] == env and new["version"] == 1
    assert new["created_at"].endswith("Z") and "T" in new["created_at"]  # RFC 3339 inside JSON


def test_rows_we_write_never_hold_null_where_go_forbids_it(fresh_store, st):
    st.create("a", "running")
    st.update("a", 1, metadata=None, environment={})
    st.checkpoint("a", "nightly")
    st.soft_delete("a")
    st.recover("a")
    st.update_resources("a", memory_usage_bytes=5)
    row = raw_row(fresh_store.path, "a")
    assert all(row[name] is not None for name in NOT_NULL)
    assert row["deleted_at"] is None and GO_TIME.match(row["last_resource_update"])
    assert GO_TIME.match(row["updated_at"])
    for entry in audit_rows(fresh_store.path):
        for name in ("old_data", "new_data", "metadata", "user_id"):
            assert entry[name] is not None, (entry["action"], name)
        assert entry["user_id"] == ""
        assert compact(entry["metadata"])
        for name in ("old_data", "new_data"):
            assert entry[name] == "" or compact(entry[name])


def test_create_refuses_duplicates_and_bad_values(st):
    st.create("dup", "running")
    with pytest.raises(errors.InvalidInput, match="already exists"):
        st.create("dup", "stopped")
    with pytest.raises(errors.InvalidInput, match="non-empty id"):
        st.create("  ", "running")
    with pytest.raises(errors.InvalidInput, match="non-empty status"):
        st.create("x", "")
    with pytest.raises(errors.InvalidInput, match="container_id must be text"):
        st.create("x", "running", container_id=None)
    with pytest.raises(errors.InvalidInput, match="NaN is not JSON"):
        st.create("x", "running", config={"bad": float("nan")})
    with pytest.raises(errors.InvalidInput, match="metadata cannot be stored as JSON"):
        st.create("x", "running", metadata={"x": _Unserialisable()})
    assert [r.id for r in st.page().rows] == ["dup"]


class _Unserialisable:
    def __str__(self) -> str:  # dumps_json falls back to str(); make that fail
        raise TypeError("cannot be shown as text")


def test_get_missing_sandbox_is_not_found(st):
    with pytest.raises(errors.NotFound, match="no sandbox 'nope'"):
        st.get("nope")
    with pytest.raises(errors.NotFound):
        st.update("nope", 1, status="x")
    with pytest.raises(errors.NotFound):
        st.purge("nope")


# -- optimistic locking -------------------------------------------------------------------------

def test_update_bumps_version_keeps_untouched_text_and_audits_both_states(fresh_store, st):
    sandbox_rows.insert(fresh_store.path, iter([(
        "go-1", "ctr", "running", "/w", '{"A":"1"}', "2026-11-24 06:26:46.033312972-07:00",
        "2026-11-24 09:31:26.828825287-07:00", "{}", "null", 1, None, "null")]))
    updated = st.update("go-1", 1, status="stopped", metadata={"transitions": 1}, user_id="bob")
    assert updated.version == 2 and updated.status == "stopped"
    assert updated.metadata == {"transitions": 1}
    row = raw_row(fresh_store.path, "go-1")
    assert row["created_at"] == "2026-11-24 06:26:46.033312972-07:00"  # not rewritten
    assert row["environment"] == '{"A":"1"}' and GO_TIME.match(row["updated_at"])
    [entry] = audit_rows(fresh_store.path)
    old, new = json.loads(entry["old_data"]), json.loads(entry["new_data"])
    assert (entry["action"], entry["user_id"]) == ("update", "bob")
    assert (old["status"], old["version"], new["status"], new["version"]) == ("running", 1, "stopped", 2)
    assert old["created_at"] == "2026-11-24T06:26:46.033312972-07:00"  # Go's JSON, digits kept
    assert json.loads(entry["metadata"])["changed"] == ["metadata", "status"]


def test_stale_version_is_a_conflict_that_carries_the_current_row(fresh_store, st):
    st.create("s", "running")
    st.update("s", 1, status="stopped")
    before = (raw_row(fresh_store.path, "s"), len(audit_rows(fresh_store.path)))
    with pytest.raises(errors.VersionConflict, match="version 2, your change was made to version 1") as info:
        st.update("s", 1, status="failed")
    assert info.value.current.version == 2 and info.value.current.status == "stopped"
    assert info.value.exit_code == 1
    assert (raw_row(fresh_store.path, "s"), len(audit_rows(fresh_store.path))) == before
    with pytest.raises(errors.VersionConflict):
        st.soft_delete("s", expected_version=7)
    assert st.update("s", 2, status="failed").version == 3


def test_update_refuses_unknown_fields_and_bad_values(st):
    st.create("s", "running")
    cases = [
        ({"colour": "red"}, "not a sandbox field"),
        ({"version": 9}, "not a sandbox field"),
        ({"deleted_at": None}, "not a sandbox field"),
        ({"status": ""}, "non-empty status"),
        ({"working_dir": None}, "must be text"),
        ({"memory_usage_bytes": -1}, "zero or more"),
        ({"disk_usage_bytes": 1.5}, "whole number"),
        ({"cpu_usage_seconds": "fast"}, "must be a number"),
        ({}, "Nothing to change"),
    ]
    for changes, message in cases:
        with pytest.raises(errors.InvalidInput, match=message):
            st.update("s", 1, **changes)
    with pytest.raises(errors.InvalidInput, match="expected_version"):
        st.update("s", "1", status="x")  # type: ignore[arg-type]
    assert st.get("s").version == 1


def test_updated_at_moves_forward_even_when_the_stored_one_is_in_the_future(fresh_store, st):
    st.create("s", "running")
    future = "2099-01-01 10:00:00.5-07:00"
    con = sqlite3.connect(fresh_store.path)
    with con:
        con.execute("UPDATE sandboxes SET updated_at = ? WHERE id = 's'", (future,))
    con.close()
    record = st.update("s", 1, status="stopped")
    assert record.updated_at > parse_timestamp(future)
    assert GO_TIME.match(raw_row(fresh_store.path, "s")["updated_at"])  # Go trigger did not fire


def test_read_only_store_reads_but_refuses_every_write(fresh_db):
    with open_store(fresh_db) as store:
        store.sandboxes.create("ro", "running")
    with open_store(fresh_db, read_only=True) as store:
        st = store.sandboxes
        assert st.get("ro").status == "running"
        for write in (lambda: st.create("x", "running"), lambda: st.update("ro", 1, status="x"),
                      lambda: st.soft_delete("ro"), lambda: st.purge("ro"),
                      lambda: st.checkpoint("ro", "r"), lambda: st.cleanup_deleted(0)):
            with pytest.raises(errors.ReadOnly, match="read-only"):
                write()


def test_old_schema_and_locked_database_give_errors_a_person_can_act_on(fresh_store, st):
    st.create("s", "running")
    fresh_store.migrate(2)  # a Go database from before the resource columns
    for action in (lambda: st.page(), lambda: st.get("s"), lambda: st.update("s", 1, status="x"),
                   lambda: st.create("t", "running")):
        with pytest.raises(errors.StorageError, match=r"schema version 2.*upgrade its schema") as raised:
            action()
        assert "sandbox-admin" not in str(raised.value)  # the GUI shows it too
        assert raised.value.cli_hint.startswith("sandbox-admin migrate ")  # the CLI adds this
    fresh_store.migrate()
    assert st.get("s").version == 1
    locker = sqlite3.connect(fresh_store.path)
    locker.execute("BEGIN IMMEDIATE")  # another program is writing
    try:
        with open_store(fresh_store.path, pool=PoolConfig(busy_timeout_ms=50)) as other:
            with pytest.raises(errors.DatabaseLocked, match="locked by another program"):
                other.sandboxes.update("s", 1, status="stopped")
            assert other.sandboxes.get("s").status == "running"  # reading still works (WAL)
    finally:
        locker.rollback()
        locker.close()
    assert st.update("s", 1, status="stopped").version == 2


# -- soft delete, recover, purge, cleanup -----------------------------------------------------------

def test_soft_delete_hides_recover_shows_and_both_are_audited(fresh_store, st):
    for i in range(3):
        st.create(f"s{i}", "running")
    deleted = st.soft_delete("s1", user_id="carol")
    assert deleted.deleted and deleted.version == 2
    assert GO_TIME.match(raw_row(fresh_store.path, "s1")["deleted_at"])
    assert [r.id for r in st.page(sort="id", descending=False).rows] == ["s0", "s2"]
    assert [r.id for r in st.page(SandboxFilter(include_deleted=True), sort="id").rows] == ["s2", "s1", "s0"]
    assert [r.id for r in st.page(SandboxFilter(only_deleted=True)).rows] == ["s1"]
    both = SandboxFilter(include_deleted=True, only_deleted=True)
    assert [r.id for r in st.page(both).rows] == ["s1"]
    assert st.count() == 2 and st.count(SandboxFilter(include_deleted=True)) == 3
    assert st.get("s1").deleted  # get() returns deleted ones
    with pytest.raises(errors.InvalidInput, match="already deleted"):
        st.soft_delete("s1")
    with pytest.raises(errors.InvalidInput, match="not deleted"):
        st.recover("s0")
    recovered = st.recover("s1", expected_version=2, user_id="dave")
    assert not recovered.deleted and recovered.version == 3
    assert raw_row(fresh_store.path, "s1")["deleted_at"] is None
    entries = st.audit("s1")
    assert [(e.action, e.user_id) for e in entries] == [("create", ""), ("delete", "carol"), ("recover", "dave")]
    assert entries[1].old_data.get("deleted_at") is None and entries[1].new_data["deleted_at"]
    assert "deleted_at" not in entries[2].new_data


def _add_children(path: Path, sandbox_id: str) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO file_metadata (sandbox_id, file_path, checksum, size_bytes, mime_type,"
                    " metadata, search_content, access_count) VALUES (?, 'a.py', 'x', 1, 'text/x',"
                    " '{}', 'print', 0)", (sandbox_id,))
        con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id,"
                    " aggregation_period) VALUES ('cpu', 'gauge', '{}', 1.0, '2026-11-26 01:00:00', ?,"
                    " 'raw')", (sandbox_id,))
        con.execute("INSERT INTO workflow_executions (id, workflow_name, sandbox_id, status)"
                    " VALUES (?, 'wf', ?, 'completed')", ("wf-" + sandbox_id, sandbox_id))
    con.close()


def test_purge_cascades_files_and_metrics_and_detaches_workflows(fresh_store, st):
    for name in ("gone", "kept"):
        st.create(name, "stopped")
        _add_children(fresh_store.path, name)
    st.purge("gone", user_id="erin")
    count = lambda table, sid: raw(fresh_store.path, f"SELECT count(*) FROM {table} WHERE sandbox_id = ?", (sid,))[0][0]  # noqa: E731
    assert count("file_metadata", "gone") == 0 and count("metrics", "gone") == 0
    assert count("file_metadata", "kept") == 1 and count("metrics", "kept") == 1
    assert raw(fresh_store.path, "SELECT sandbox_id FROM workflow_executions WHERE id = 'wf-gone'") == [(None,)]
    assert raw(fresh_store.path, "SELECT count(*) FROM file_search_fts WHERE file_search_fts MATCH 'print'") == [(1,)]
    with pytest.raises(errors.NotFound):
        st.get("gone")
    entry = st.audit("gone", actions=["purge"])[0]
    assert entry.user_id == "erin" and entry.old_data["id"] == "gone" and entry.new_data is None
    assert raw(fresh_store.path, "PRAGMA foreign_key_check") == []


def test_cleanup_compares_deletion_instants_not_text(fresh_store, st):
    """Text comparison would purge `young` (its local time reads old) and keep `old`."""
    now = utcnow()
    cutoff = now - timedelta(days=1)
    cases = {
        # reads 3 h before the cutoff, but -07:00 makes it 4 h after: must stay
        "young": go_text(cutoff + timedelta(hours=4), offset_minutes=-420),
        # reads 2 h after the cutoff, but +05:30 makes it 3.5 h before: must go
        "old": go_text(cutoff - timedelta(hours=3.5), offset_minutes=330),
        "plain-old": go_text(cutoff - timedelta(days=3), current=True),
        "fresh": go_text(now),
        "garbage": "not a time",
    }
    for name in [*cases, "alive"]:
        st.create(name, "stopped")
    con = sqlite3.connect(fresh_store.path)
    with con:
        for name, text in cases.items():
            con.execute("UPDATE sandboxes SET deleted_at = ? WHERE id = ?", (text, name))
    con.close()
    assert cases["young"] < go_text(cutoff) < cases["old"]  # the trap is real
    removed = st.cleanup_deleted(1, user_id="cron")
    assert removed == ["plain-old", "old"]  # oldest first
    left = {r.id for r in st.page(SandboxFilter(include_deleted=True)).rows}
    assert left == {"young", "fresh", "garbage", "alive"}
    purges = st.audit(actions=["purge"])
    assert [(e.entity_id, e.user_id, e.metadata["reason"]) for e in purges] == [
        ("plain-old", "cron", "cleanup"), ("old", "cron", "cleanup")]
    assert st.cleanup_deleted(0.9) == []  # young was deleted 20 h ago
    assert st.cleanup_deleted(0.5) == ["young"]


def test_cleanup_validates_its_argument(st):
    for bad in (-1, float("nan"), "7", True):
        with pytest.raises(errors.InvalidInput, match="number of days"):
            st.cleanup_deleted(bad)  # type: ignore[arg-type]


# -- checkpoints and resources ----------------------------------------------------------------------

def test_checkpoint_merges_into_recovery_data_and_history_comes_from_the_audit(fresh_store, st):
    st.create("c", "running")
    st.update("c", 1, recovery_data={"oom_killed": True, "restart_count": 2})
    first = st.checkpoint("c", "before upgrade", {"snapshot_id": "snap-1", "files": 3}, user_id="ops")
    second = st.checkpoint("c", "nightly", expected_version=3)
    assert (first.version, second.version) == (3, 4)
    data = second.recovery_data
    assert data["oom_killed"] is True and data["restart_count"] == 2  # merged, not replaced
    assert data["checkpoint_reason"] == "nightly" and data["checkpoint_data"] is None
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", data["checkpoint_time"])
    assert compact(raw_row(fresh_store.path, "c")["recovery_data"])
    history = st.checkpoints("c")
    assert [(h.reason, h.data) for h in history] == [
        ("nightly", None), ("before upgrade", {"files": 3, "snapshot_id": "snap-1"})]
    assert history[0].time == parse_timestamp(data["checkpoint_time"]) == second.updated_at
    assert history[0].audit_id > history[1].audit_id
    entries = [e for e in audit_rows(fresh_store.path) if e["action"] == "checkpoint"]
    assert [e["new_data"] for e in entries] == ['{"files":3,"snapshot_id":"snap-1"}', "null"]  # Go's shape
    assert entries[0]["old_data"] == "" and entries[0]["user_id"] == "ops"
    with pytest.raises(errors.VersionConflict):
        st.checkpoint("c", "late", expected_version=3)
    assert st.checkpoints("nobody") == []


def test_update_resources_sets_counters_and_stamp(fresh_store, st):
    st.create("r", "running")
    record = st.update_resources("r", cpu_usage_seconds=12.5, memory_usage_bytes=1 << 30,
                                 network_rx_bytes=10, network_tx_bytes=20, disk_usage_bytes=7)
    assert (record.cpu_usage_seconds, record.memory_usage_bytes, record.disk_usage_bytes) == (12.5, 1 << 30, 7)
    assert (record.network_rx_bytes, record.network_tx_bytes, record.version) == (10, 20, 2)
    assert record.last_resource_update == record.updated_at
    assert st.audit("r", actions=["update"])[0].metadata["kind"] == "resources"
    with pytest.raises(errors.InvalidInput, match="not status"):
        st.update_resources("r", status="x")
    with pytest.raises(errors.InvalidInput, match="give at least one"):
        st.update_resources("r")


# -- ordering and filters -----------------------------------------------------------------------

MIXED_CREATED = {  # id -> stored created_at; expected order by instant in the comment
    "a-offset": "2026-11-24 06:26:46.033312972-07:00",  # 13:26:46.033
    "b-current": "2026-11-24 10:00:00",                  # 10:00:00 (CURRENT_TIMESTAMP)
    "c-fraction": "2026-11-24 12:00:00.5+00:00",         # 12:00:00.5
    "d-ist": "2026-11-24 18:00:00+05:30",                # 12:30:00
    "e-tsep": "2026-11-24T11:00:00Z",                    # 11:00:00 (someone else's writer)
    "f-null": None,                                      # unknown: first ascending
    "g-zero": "0001-01-01 00:00:00+00:00",              # Go's zero time
}


def test_timestamps_sort_by_instant_whatever_their_form(fresh_store, st):
    rows = [(i, "", "running", "", "{}", text, text or "2026-01-01 00:00:00", "{}", "null", 1, None, "null")
            for i, text in MIXED_CREATED.items()]
    sandbox_rows.insert(fresh_store.path, iter(rows))
    up = [r.id for r in st.page(sort="created_at", descending=False).rows]
    assert up == ["f-null", "g-zero", "b-current", "e-tsep", "c-fraction", "d-ist", "a-offset"]
    assert [r.id for r in st.page(sort="created_at").rows] == up[::-1]
    text_order = [i for i, _ in sorted(MIXED_CREATED.items(), key=lambda kv: kv[1] or "")]
    assert text_order != up  # text order is wrong here; that is the point
    later = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    in_range = SandboxFilter(created_from=later, created_to=datetime(2026, 11, 24, 13, 26, 46, 33000, tzinfo=UTC))
    assert {r.id for r in st.page(in_range).rows} == {"e-tsep", "c-fraction", "d-ist"}  # half-open


def _python_key(record, column):
    value = getattr(record, column)
    if column in ("created_at", "updated_at", "deleted_at", "last_resource_update"):
        return (0, 0.0) if value is None else (1, value.timestamp())
    return value


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", SORTABLE)
def test_every_sort_column_pages_each_row_once_in_order(fresh_store, st, column, descending):
    rows = []
    for i in range(45):
        created = sandbox_rows.BASE + timedelta(minutes=17 * ((i * 7) % 45))
        deleted = go_text(created, offset_minutes=-300) if i % 4 == 0 else None
        rows.append((f"s{i:02d}", None if i % 5 == 0 else f"c{i % 6}", sandbox_rows.STATUSES[i % 3],
                     None if i % 7 == 0 else f"/w{i % 2}", "{}", go_text(created, offset_minutes=[0, 120, -420][i % 3]),
                     go_text(created + timedelta(hours=i % 5), current=i % 2 == 0), "{}", "null", 1 + i % 3,
                     deleted, "null"))
    sandbox_rows.insert(fresh_store.path, iter(rows))
    con = sqlite3.connect(fresh_store.path)
    with con:  # resource columns with ties and NULLs
        con.execute("UPDATE sandboxes SET cpu_usage_seconds = (rowid % 4) * 1.5, memory_usage_bytes ="
                    " CASE WHEN rowid % 6 = 0 THEN NULL ELSE rowid % 3 END, network_tx_bytes = rowid % 2,"
                    " last_resource_update = CASE WHEN rowid % 3 = 0 THEN NULL ELSE created_at END")
    con.close()
    flt = SandboxFilter(include_deleted=True)
    seen, cursor, pages = [], None, 0
    while True:
        page = st.page(flt, sort=column, descending=descending, after=cursor, limit=4)
        seen += page.rows
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert isinstance(cursor, Cursor) and hash(cursor) is not None
    assert sorted(r.id for r in seen) == [f"s{i:02d}" for i in range(45)]  # each exactly once
    assert pages == 12  # 45 rows / 4, and no empty trailing page
    keys = [(_python_key(r, column), r.id) for r in seen]
    assert keys == sorted(keys, reverse=descending)


def test_filters_status_text_ranges_and_deleted(fresh_store, st):
    for i, (sid, cid, status) in enumerate([
        ("alpha%1", "box_A", "running"), ("alpha_2", "boxA", "stopped"), ("ALPHAx3", "other", "failed"),
        ("beta", "ctr-%", "running"), ("gamma", "ctr-x", "creating"),
    ]):
        st.create(sid, status, container_id=cid)
    st.soft_delete("gamma")
    ids = lambda flt: sorted(r.id for r in st.page(flt).rows)  # noqa: E731
    assert ids(SandboxFilter(statuses=frozenset({"running", "failed"}))) == ["ALPHAx3", "alpha%1", "beta"]
    assert ids(SandboxFilter(statuses={"creating"})) == []  # type: ignore[arg-type]
    assert ids(SandboxFilter(statuses={"creating"}, include_deleted=True)) == ["gamma"]  # type: ignore[arg-type]
    assert ids(SandboxFilter(text="alpha")) == ["ALPHAx3", "alpha%1", "alpha_2"]  # case-insensitive
    assert ids(SandboxFilter(text="a%")) == ["alpha%1"]  # % is a character, not a wildcard
    assert ids(SandboxFilter(text="_")) == ["alpha%1", "alpha_2"]  # so is _ (box_A, alpha_2)
    assert ids(SandboxFilter(text="x_a")) == ["alpha%1"]  # container_id box_A
    assert ids(SandboxFilter(text="-%")) == ["beta"]
    assert ids(SandboxFilter(text="  beta ")) == ["beta"]
    assert ids(SandboxFilter(only_deleted=True, text="gam")) == ["gamma"]
    stamp = st.get("beta").created_at
    assert ids(SandboxFilter(created_from=stamp)) == ["beta"]
    assert "beta" not in ids(SandboxFilter(created_to=stamp))
    st.update("alpha_2", 1, status="running")
    changed = st.get("alpha_2").updated_at
    assert ids(SandboxFilter(updated_from=changed)) == ["alpha_2"]
    assert st.count(SandboxFilter(text="alpha", statuses={"running"})) == 2  # type: ignore[arg-type]


def test_status_counts_are_facets_that_ignore_the_status_choice(st):
    for i, status in enumerate(["running", "running", "stopped", "failed"]):
        st.create(f"s{i}", status)
    st.soft_delete("s3")
    assert st.status_counts() == {"running": 2, "stopped": 1}
    assert st.status_counts(SandboxFilter(statuses={"stopped"})) == {"running": 2, "stopped": 1}  # type: ignore[arg-type]
    assert st.status_counts(SandboxFilter(include_deleted=True)) == {"failed": 1, "running": 2, "stopped": 1}
    assert st.count_estimate() == 3 and st.count_estimate(SandboxFilter(text="s1")) == 1


def test_page_arguments_are_checked(st):
    st.create("a", "running")
    st.create("b", "running")
    page = st.page(sort="id", limit=1)
    with pytest.raises(errors.InvalidInput, match="sorted by id"):
        st.page(sort="status", after=page.next_cursor)
    with pytest.raises(errors.InvalidInput, match="start again"):
        st.page(sort="id", descending=False, after=page.next_cursor)
    with pytest.raises(errors.InvalidInput, match="Cannot sort sandboxes by 'colour'"):
        st.page(sort="colour")
    for bad in (0, -5, 50_001, 2.5, True):
        with pytest.raises(errors.InvalidInput, match="A page holds"):
            st.page(limit=bad)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match="did not come from"):
        st.page(sort="id", after=("b", "a"))  # type: ignore[arg-type]
    assert [r.id for r in st.page(sort="id", after=page.next_cursor).rows] == ["a"]


def test_pages_are_index_seeks_after_migration(fresh_store, st):
    """Guards the key expressions against drifting from migration 9's indexes."""
    sandbox_rows.insert(fresh_store.path, sandbox_rows.generate(300))
    seen: list = []
    fresh_store.db.query_hooks.append(lambda event: seen.append((event.sql, event.params)))
    try:
        page = st.page(limit=50)
        st.page(after=page.next_cursor, limit=50)
        st.page(sort="updated_at", descending=False, limit=50)
    finally:
        fresh_store.db.query_hooks.pop()
    selects = [(sql, params) for sql, params in seen if sql.startswith("SELECT") and "ORDER BY" in sql]
    assert len(selects) == 4  # first page, the rest of a tie group, then the range
    con = sqlite3.connect(fresh_store.path)
    try:
        for sql, params in selects:
            plan = " ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "admin_idx_sandboxes_" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        con.close()


# -- 200,000 rows -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    create_store(path).close()
    sandbox_rows.insert(path, sandbox_rows.generate(200_000, seed=7))
    return path


def test_paging_200k_sandboxes_returns_each_exactly_once_in_instant_order(big_db):
    expected = {r[0] for r in raw(big_db, "SELECT id FROM sandboxes WHERE deleted_at IS NULL")}
    assert 190_000 < len(expected) < 200_000
    with open_store(big_db, read_only=True) as store:
        st = store.sandboxes
        ids, previous, cursor = [], None, None
        while True:
            page = st.page(after=cursor)
            for record in page.rows:
                instant = record.created_at.timestamp()
                assert previous is None or instant <= previous + 0.001  # julianday is ms-exact
                previous = instant
            ids += [r.id for r in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(ids) == len(expected) and set(ids) == expected
        failed = SandboxFilter(statuses={"failed"})  # type: ignore[arg-type]  (walks the sort index)
        up = [r.id for r in st.iter_all(failed, sort="updated_at", descending=False, page_size=5000)]
        assert len(up) == len(set(up)) == st.count(failed) > 40_000


def test_counts_on_200k_sandboxes(big_db):
    with open_store(big_db, read_only=True) as store:
        st = store.sandboxes
        exact = raw(big_db, "SELECT count(*) FROM sandboxes WHERE deleted_at IS NULL")[0][0]
        assert st.count() == st.count_estimate() == exact
        flt = SandboxFilter(statuses={"stopped"}, text="ctr-")  # type: ignore[arg-type]
        truth = raw(big_db, "SELECT count(*) FROM sandboxes WHERE deleted_at IS NULL AND status = 'stopped'"
                            " AND (id LIKE '%ctr-%' OR container_id LIKE '%ctr-%')")[0][0]
        assert st.count(flt) == truth
        # this thread's CPU time (SQLite runs in it): a preemption cannot flip the comparison
        start = time.thread_time()
        estimate = st.count_estimate(flt)
        cheap = time.thread_time() - start
        assert abs(estimate - truth) <= 0.15 * truth, (estimate, truth)
        start = time.thread_time()
        st.count(flt)
        assert cheap < time.thread_time() - start  # the estimate does not scan the table


_INSERTER = """
import os, sqlite3, sys, time
sys.path.insert(0, {root!r})
from tests.storage import sandbox_rows
con = sqlite3.connect({path!r}, timeout=30)
batch = 0
while not os.path.exists({stop!r}) and batch < 4000:
    with con:
        con.executemany(sandbox_rows.INSERT, sandbox_rows.generate(
            10, seed=batch + 100, prefix="new", start=batch * 10, deleted_share=0))
    if batch == 0:
        print("started", flush=True)
    batch += 1
    time.sleep(0.002)
con.close()
"""


def test_keyset_paging_stays_correct_while_another_process_inserts(tmp_path):
    path, stop = tmp_path / "busy.db", tmp_path / "stop"
    create_store(path).close()
    sandbox_rows.insert(path, sandbox_rows.generate(20_000, seed=3, deleted_share=0))
    original = {r[0] for r in raw(path, "SELECT id FROM sandboxes")}
    root = str(Path(__file__).resolve().parents[2])
    source = _INSERTER.format(root=root, path=str(path), stop=str(stop))
    writer = subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE, text=True)
    count_new = lambda: raw(path, "SELECT count(*) FROM sandboxes WHERE id LIKE 'new-%'")[0][0]  # noqa: E731
    try:
        assert writer.stdout.readline().strip() == "started"
        new_before = count_new()
        with open_store(path) as store:
            seen, cursor = [], None
            while True:
                page = store.sandboxes.page(sort="created_at", after=cursor, limit=100)
                seen += [r.id for r in page.rows]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        new_after = count_new()
    finally:
        stop.touch()
        assert writer.wait(timeout=60) == 0
    assert new_after > new_before  # the other process really was inserting while we paged
    assert len(seen) == len(set(seen))  # nothing twice
    assert original <= set(seen)  # nothing that was there all along is missed
    assert any(i.startswith("new-") for i in seen)  # new rows ahead of the cursor do show up


# -- audit listing ------------------------------------------------------------------------------

def test_audit_listing_filters_and_pages_by_id(fresh_store, st):
    st.create("a", "running", user_id="u1")
    st.create("b", "running")
    st.update("a", 1, status="stopped", user_id="u2")
    st.soft_delete("b", user_id="u1")
    con = sqlite3.connect(fresh_store.path)
    with con:  # a Go row: NULL user, '' data, a timestamp in another zone
        con.execute("INSERT INTO audit_trail (entity_type, entity_id, action, old_data, new_data, user_id,"
                    " timestamp, metadata) VALUES ('sandbox', 'a', 'update', '', '', NULL,"
                    " '2030-01-01 02:00:00-07:00', '')")
        con.execute("INSERT INTO audit_trail (entity_type, entity_id, action, old_data, new_data,"
                    " timestamp, metadata) VALUES ('file', '7', 'update', '', '', '2030-01-01 12:00:00', '')")
    con.close()
    everything = st.audit(entity_type=None)
    assert [e.id for e in everything] == list(range(1, 7))
    assert [e.action for e in st.audit()] == ["create", "create", "update", "delete", "update"]
    assert [e.id for e in st.audit("a")] == [1, 3, 5]
    go = st.audit("a")[-1]
    assert (go.user_id, go.old_data, go.new_data, go.metadata) == ("", None, None, None)
    assert [e.id for e in st.audit(user_id="u1")] == [1, 4]
    assert [e.id for e in st.audit(user_id="")] == [2, 5]  # '' finds Go's NULLs too
    assert [e.id for e in st.audit(actions=["delete", "create"])] == [1, 2, 4]
    assert st.audit(actions=[]) == []
    # 02:00-07:00 is 09:00 UTC: before the 12:00 UTC file entry, though its text sorts after
    nine = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    assert [e.id for e in st.audit(entity_type=None, since=nine)] == [5, 6]
    assert [e.id for e in st.audit(entity_type=None, since=nine, until=nine + timedelta(hours=1))] == [5]
    assert [e.id for e in st.audit(entity_type=None, after_id=2, limit=2)] == [3, 4]
    assert [e.id for e in st.audit(entity_type=None, newest_first=True, limit=2)] == [6, 5]
    assert [e.id for e in st.audit(entity_type=None, newest_first=True, after_id=5)] == [4, 3, 2, 1]
    with pytest.raises(errors.InvalidInput, match="limit"):
        st.audit(limit=0)


def test_record_audit_for_changes_made_elsewhere(fresh_store, st):
    entry_id = st.record_audit("restore", "backup-1.db", entity_type="database", user_id="admin",
                               metadata={"from": "backup-1.db"})
    [entry] = st.audit(entity_type="database")
    assert (entry.id, entry.action, entry.metadata["from"], entry.old_data) == (entry_id, "restore", "backup-1.db", None)
    with pytest.raises(errors.InvalidInput, match="Unknown audit action"):
        st.record_audit("explode", "x")


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_sandboxes_lists_the_go_fixture_read_only(go_db, run_cli):
    before = sha256_file(go_db)
    code, out, err = run_cli("sandboxes", go_db, "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert len(rows) == 28 and set(rows[0]) == {"id", "status", "version", "created_at", "updated_at", "deleted_at"}
    created = [parse_timestamp(r["created_at"]) for r in rows]
    assert created == sorted(created, reverse=True)  # newest first, by instant
    assert all(r["deleted_at"] is None for r in rows) and rows[0]["created_at"].endswith("Z")
    code, out, _ = run_cli("sandboxes", go_db, "--deleted", "--json")
    assert len(json.loads(out)) == 31 and sum(r["deleted_at"] is not None for r in json.loads(out)) == 3
    code, out, _ = run_cli("sandboxes", go_db, "--status", "running", "--status", "failed,creating", "--json")
    assert {r["status"] for r in json.loads(out)} == {"running", "failed", "creating"}
    code, out, _ = run_cli("sandboxes", go_db, "--limit", "5", "--json")
    assert len(json.loads(out)) == 5
    code, out, _ = run_cli("sandboxes", go_db, "--limit", "5")
    assert code == 0 and "5 of 28 sandboxes" in out and "status" in out.splitlines()[0]
    assert sha256_file(go_db) == before and not Path(f"{go_db}-wal").exists()


def test_cli_sandboxes_errors_are_one_line(tmp_path, go_db, run_cli):
    code, out, err = run_cli("sandboxes", tmp_path / "missing.db")
    assert code == 2 and out == "" and err.startswith("sandbox-admin: error:") and err.count("\n") == 1
    with pytest.raises(SystemExit) as info:
        run_cli("sandboxes", go_db, "--limit", "0")
    assert info.value.code == 2
