"""SandboxStore on the Go server's own database: what it wrote reads back unchanged,
what we write keeps its formats, soft delete / recover / purge behave as the Go code's."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone

from sandbox_admin.storage import open_store
from sandbox_admin.storage.fields import parse_timestamp
from sandbox_admin.storage.sandboxes.store import COLUMNS, SandboxFilter
from tests.conftest import sha256_file

UTC = timezone.utc
GO_DELETED = {"3599b76e-d554-4c99-9776-20b28ca6f56a", "6cfaf077-88f8-4623-bc62-18fa86fb4708",
              "08e7bdac-e6c9-4829-af95-699bb5e4d9c8"}
OFFSET_ROW = "52315d82-2336-4395-be68-8e924ffe3713"  # created_at written at -07:00
TIMES = ("created_at", "updated_at", "deleted_at", "last_resource_update")
JSONS = ("environment", "config", "metadata", "recovery_data")


def raw_rows(path, immutable: bool = False) -> dict[str, dict]:
    uri = f"file:{path}?immutable=1" if immutable else f"file:{path}"
    con = sqlite3.connect(uri, uri=True)
    con.row_factory = sqlite3.Row
    try:
        return {r["id"]: dict(r) for r in con.execute("SELECT * FROM sandboxes")}
    finally:
        con.close()


def test_every_go_sandbox_reads_back_with_the_values_go_wrote(go_fixture):
    before = sha256_file(go_fixture)
    expected = raw_rows(go_fixture, immutable=True)
    with open_store(go_fixture, read_only=True) as store:
        records = list(store.sandboxes.iter_all(SandboxFilter(include_deleted=True), page_size=7))
    assert sorted(r.id for r in records) == sorted(expected) and len(records) == 31
    for record in records:
        row = expected[record.id]
        for name in COLUMNS:
            value, stored = getattr(record, name), row[name]
            if name in TIMES:
                assert value == parse_timestamp(stored), (record.id, name)
                assert (value is None) == (stored is None)
            elif name in JSONS:
                assert value == json.loads(stored), (record.id, name)
            else:
                assert value == stored, (record.id, name)
    assert sha256_file(go_fixture) == before


def test_go_timestamps_are_the_instants_they_name(go_fixture):
    """Independent of parse_timestamp: the instants worked out by hand."""
    with open_store(go_fixture, read_only=True) as store:
        get = store.sandboxes.get
        assert get(OFFSET_ROW).created_at == datetime(2026, 11, 24, 13, 26, 46, 33312, tzinfo=UTC)
        ist = get("c3f520c8-8927-441d-bf6c-62cbbb15d9af").created_at  # +05:30
        assert ist == datetime(2026, 11, 23, 13, 57, 20, 895706, tzinfo=UTC)
        deleted = get("3599b76e-d554-4c99-9776-20b28ca6f56a")  # CURRENT_TIMESTAMP form
        assert deleted.deleted_at == datetime(2026, 11, 26, 1, 35, 23, tzinfo=UTC)
        assert deleted.raw_times["deleted_at"] == "2026-11-26 01:35:23"
        ordered = [r.created_at for r in store.sandboxes.iter_all(
            SandboxFilter(include_deleted=True), sort="created_at", descending=False, page_size=5)]
        assert ordered == sorted(ordered)  # by instant, across +00:00, -07:00, +05:30, +02:00


def test_soft_deleted_go_sandboxes_are_hidden_unless_asked_for(go_fixture):
    with open_store(go_fixture, read_only=True) as store:
        st = store.sandboxes
        shown = {r.id for r in st.page(limit=100).rows}
        everything = {r.id for r in st.page(SandboxFilter(include_deleted=True), limit=100).rows}
        only = {r.id for r in st.page(SandboxFilter(only_deleted=True), limit=100).rows}
        assert len(shown) == 28 and not shown & GO_DELETED
        assert len(everything) == 31 and only == GO_DELETED
        assert st.count() == st.count_estimate() == 28
        assert st.count(SandboxFilter(only_deleted=True)) == 3
        assert sum(st.status_counts(SandboxFilter(include_deleted=True)).values()) == 31


def test_go_audit_trail_and_checkpoints_read_back(go_fixture):
    with open_store(go_fixture, read_only=True) as store:
        st = store.sandboxes
        entries = st.audit(limit=1000)
        assert [e.id for e in entries] == list(range(1, 61))
        actions = [e.action for e in entries]
        assert actions.count("create") == 31 and actions.count("checkpoint") == 5
        assert actions.count("delete") == 4 and actions.count("recover") == 1
        create = entries[0]
        assert create.old_data is None and create.user_id == "" and create.metadata is None  # '' / NULL
        assert create.new_data["id"] == create.entity_id and create.new_data["version"] == 1
        assert [e.id for e in st.audit(user_id="user-7")] == [56, 57, 58]
        assert [e.id for e in st.audit(user_id="", actions=["checkpoint"])] == [51, 52, 53, 54, 55]
        [checkpoint] = st.checkpoints(OFFSET_ROW)
        assert checkpoint.reason == "before risky exec" and checkpoint.audit_id == 51
        assert checkpoint.data["snapshot_id"] == "snap-3434cb1e-1a00"
        assert checkpoint.time == datetime(2026, 11, 26, 1, 35, 22, tzinfo=UTC)
        [empty] = st.checkpoints("2d316e80-da52-4aad-8af3-d44d6d86544a")
        assert (empty.reason, empty.data) == ("scheduled", None)
        recovery = st.get(OFFSET_ROW).recovery_data
        assert recovery["checkpoint_reason"] == checkpoint.reason
        assert recovery["checkpoint_data"] == checkpoint.data


GO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?\+00:00$")


def test_delete_recover_and_update_on_a_go_database_keep_its_formats(go_store):
    st = go_store.sandboxes
    before = raw_rows(go_store.path)
    target = before[OFFSET_ROW]
    deleted = st.soft_delete(OFFSET_ROW, expected_version=3, user_id="admin")
    assert deleted.deleted and deleted.version == 4
    assert OFFSET_ROW not in {r.id for r in st.page(limit=100).rows}
    recovered = st.recover(OFFSET_ROW, user_id="admin")
    updated = st.update(OFFSET_ROW, recovered.version, status="running", metadata={"note": "réveil"})
    checkpointed = st.checkpoint(OFFSET_ROW, "after admin", {"files": 2})
    assert (recovered.version, updated.version, checkpointed.version) == (5, 6, 7)
    after = raw_rows(go_store.path)
    row = after[OFFSET_ROW]
    for name in ("created_at", "environment", "config", "container_id", "working_dir"):
        assert row[name] == target[name], name  # untouched columns keep Go's exact text
    assert row["created_at"].endswith("-07:00") and GO_TIME.match(row["updated_at"])
    assert row["deleted_at"] is None and row["metadata"] == '{"note":"réveil"}'
    recovery = json.loads(row["recovery_data"])
    assert recovery["checkpoint_reason"] == "after admin" and recovery["checkpoint_data"] == {"files": 2}
    assert {k: v for k, v in after.items() if k != OFFSET_ROW} == {
        k: v for k, v in before.items() if k != OFFSET_ROW}  # no other row touched
    ours = st.audit(OFFSET_ROW, after_id=60)
    assert [(e.id, e.action) for e in ours] == [
        (61, "delete"), (62, "recover"), (63, "update"), (64, "checkpoint")]
    assert ours[0].user_id == "admin" and ours[0].old_data["created_at"] == "2026-11-24T06:26:46.033312972-07:00"
    assert [c.reason for c in st.checkpoints(OFFSET_ROW)] == ["after admin", "before risky exec"]
    con = sqlite3.connect(go_store.path)
    try:
        rows = con.execute("SELECT old_data, new_data, user_id, timestamp, metadata FROM audit_trail"
                           " WHERE id > 60").fetchall()
    finally:
        con.close()
    for old, new, user, stamp, meta in rows:
        assert None not in (old, new, user, meta) and GO_TIME.match(stamp)


def test_purge_of_a_go_sandbox_takes_its_files_metrics_and_chunk_references(go_store):
    sandbox = "fd4a75e4-8857-4799-acb1-8e4affabe303"  # 3 files with chunks, metrics
    con = sqlite3.connect(go_store.path)
    q = lambda sql, *p: con.execute(sql, p).fetchall()  # noqa: E731
    try:
        files = q("SELECT count(*) FROM file_metadata WHERE sandbox_id = ?", sandbox)[0][0]
        metrics = q("SELECT count(*) FROM metrics WHERE sandbox_id = ?", sandbox)[0][0]
        assert files > 0 and metrics > 0
        total_files, total_metrics = q("SELECT count(*) FROM file_metadata")[0][0], q("SELECT count(*) FROM metrics")[0][0]
        go_store.sandboxes.purge(sandbox, user_id="admin")
        assert q("SELECT count(*) FROM file_metadata WHERE sandbox_id = ?", sandbox) == [(0,)]
        assert q("SELECT count(*) FROM metrics WHERE sandbox_id = ?", sandbox) == [(0,)]
        assert q("SELECT count(*) FROM file_metadata")[0][0] == total_files - files
        assert q("SELECT count(*) FROM metrics")[0][0] == total_metrics - metrics
        assert q("PRAGMA foreign_key_check") == []
        mismatched = q("SELECT chunk_hash FROM file_chunks c WHERE ref_count !="
                       " (SELECT count(*) FROM file_chunk_refs r WHERE r.chunk_hash = c.chunk_hash)")
        assert mismatched == []  # ref_counts lowered with the references
        assert q("INSERT INTO file_search_fts(file_search_fts) VALUES ('integrity-check')") == []
    finally:
        con.close()
    assert go_store.sandboxes.audit(sandbox, actions=["purge"])[0].old_data["id"] == sandbox


def test_migrated_go_database_lists_the_same(go_store):
    st = go_store.sandboxes
    flt = SandboxFilter(include_deleted=True)
    before = [r.id for r in st.iter_all(flt, sort="updated_at", page_size=4)]
    go_store.migrate()
    assert "admin_idx_sandboxes_created_instant" in {
        r[0] for r in go_store.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert [r.id for r in st.iter_all(flt, sort="updated_at", page_size=4)] == before


def test_listing_without_json_has_the_same_rows_minus_the_json(go_store):
    from sandbox_admin.storage.sandboxes.store import SandboxFilter

    flt = SandboxFilter(include_deleted=True)
    full = go_store.sandboxes.page(flt, limit=100).rows
    light = go_store.sandboxes.page(flt, limit=100, with_json=False).rows
    assert [r.id for r in light] == [r.id for r in full]
    for a, b in zip(full, light):
        assert (b.environment, b.config, b.metadata, b.recovery_data) == (None, None, None, None)
        assert (a.status, a.created_at, a.updated_at, a.deleted_at, a.version) == \
            (b.status, b.created_at, b.updated_at, b.deleted_at, b.version)
    assert any(r.config for r in full)  # the fixture does carry JSON that the light page skips
