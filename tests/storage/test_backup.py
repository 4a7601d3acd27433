"""Backups: naming, verification, descriptions, listing, retention, schedule, restore.

Real SQLite files in tmp_path; the live database is compared by sha256 (with no
connection open) or by a content digest over every table.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, latest_version, open_store
from sandbox_admin.storage.backup.files import (
    read_sidecar,
    remove_stale_partials,
    sidecar_path,
)
from sandbox_admin.storage.backup.manager import (
    BROKEN,
    UNVERIFIED,
    VERIFIED,
    BackupInfo,
    RetentionPolicy,
    Schedule,
    _publish,
    backup_name,
    list_backups,
    parse_backup_name,
    verify_backup,
)
from sandbox_admin.storage.backup.policy import plan_retention
from tests.conftest import GO_FIXTURE, sha256_file
from tests.reliability.dbtools import file_digest, last_audit, make_sandbox_db

UTC = timezone.utc


@pytest.fixture
def live(tmp_path: Path) -> Path:
    return make_sandbox_db(tmp_path / "live.db", seed=1, blob_kib=256)


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    d = tmp_path / "backups"
    d.mkdir()
    return d


def _make_backup(db: Path, folder: Path, **kwargs):
    with open_store(db) as store:
        return store.backups.create(folder, **kwargs)


# -- names ---------------------------------------------------------------------------------

def test_names_follow_the_go_pattern_and_round_trip():
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    name = backup_name(when)
    assert name.startswith("sandbox_runner_2026") and name.endswith(".db") and len(name) == 33
    parsed, seq = parse_backup_name(name)
    assert parsed == when and seq == 0
    assert parse_backup_name(backup_name(when, 7))[1] == 7
    for bad in ("sandbox_runner_2026.db", "sandbox_runner_20260304_050607.db-wal",
                ".sandbox_runner_20260304_050607.db.partial-1-ab", "other.db"):
        assert parse_backup_name(bad) is None


def test_two_backups_in_one_second_never_collide_and_sort_in_order(tmp_path, bdir):
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    made = []
    for i in range(3):
        tmp = bdir / f".partial{i}"
        tmp.write_bytes(b"x" * (i + 1))
        made.append(_publish(tmp, bdir, when))
    assert len({p.name for p in made}) == 3
    assert sorted(p.name for p in made) == [p.name for p in made]
    assert [p.read_bytes() for p in made] == [b"x", b"xx", b"xxx"]  # nothing overwritten
    later = bdir / backup_name(when + timedelta(seconds=1))
    assert sorted([later.name] + [p.name for p in made])[-1] == later.name
    assert all(parse_backup_name(p.name) for p in made)


def test_real_backups_made_back_to_back_all_survive(live, bdir):
    with open_store(live) as store:
        results = [store.backups.create(bdir) for _ in range(3)]
    assert len({r.path for r in results}) == 3
    assert all(r.path.exists() for r in results)
    assert {e.path for e in list_backups(bdir)} == {r.path for r in results}


# -- creating ------------------------------------------------------------------------------

def test_backup_is_verified_described_and_equal_to_the_source(live, bdir):
    before = file_digest(live)
    seen: list[str] = []
    result = _make_backup(live, bdir, progress=lambda phase, done, total: seen.append(phase))
    assert result.verified and result.path.parent == bdir
    assert {"copy", "checksum", "verify"} <= set(seen)
    assert result.sha256 == sha256_file(result.path)
    assert result.size_bytes == result.path.stat().st_size
    assert result.schema_version == latest_version()
    assert result.tables["sandboxes"] == 5 and result.tables["metrics"] == 500
    side = read_sidecar(result.path)
    assert side["sha256"] == result.sha256 and side["verified"] is True
    assert side["source_path"] == str(live.resolve()) and side["kind"] == "manual"
    assert datetime.fromisoformat(side["created_at"].replace("Z", "+00:00")).tzinfo is not None
    assert file_digest(result.path) == before
    assert sorted(p.name for p in bdir.iterdir()) == [result.path.name, sidecar_path(result.path).name]


def test_backup_defaults_to_the_folder_its_caller_chose(live, tmp_path):
    """Storage knows no platform folders: the app or the CLI sets ``store.backups_dir``."""
    with open_store(live) as store:
        with pytest.raises(errors.InvalidInput, match="No backups folder"):
            store.backups.create()
        store.backups_dir = tmp_path / "chosen"
        result = store.backups.create()
    assert result.path.parent == tmp_path / "chosen"


def test_backup_of_a_read_only_store(go_fixture, bdir):
    digest = sha256_file(go_fixture)
    with open_store(go_fixture, read_only=True) as store:
        result = store.backups.create(bdir)
    assert result.schema_version == 6
    assert sha256_file(go_fixture) == digest
    assert file_digest(result.path) == file_digest(go_fixture, immutable=True)
    assert not Path(f"{go_fixture}-wal").exists()


def test_cancelled_backup_leaves_nothing(live, bdir):
    def cancel() -> bool:
        return True

    with open_store(live) as store:
        with pytest.raises(errors.Cancelled):
            store.backups.create(bdir, cancel=cancel, pages_per_step=4)
    assert list(bdir.iterdir()) == []


def test_stale_partials_of_dead_processes_are_removed(bdir):
    dead = bdir / ".sandbox_runner_20260101_000000.db.partial-999999999-abcd"
    dead.write_bytes(b"half a backup")
    assert remove_stale_partials(bdir) == [dead]
    assert not dead.exists()


# -- verifying -------------------------------------------------------------------------------

def test_verify_a_good_backup(live, bdir):
    result = _make_backup(live, bdir)
    report = verify_backup(result.path)
    assert report.ok and report.restorable and report.checksum_matches is True
    assert report.tables == result.tables and report.schema_version == latest_version()


def _truncated(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _corrupted(src: Path, dst: Path) -> Path:
    """Garbage over pages in the middle of the file, the header intact."""
    data = bytearray(src.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    start = page * 3
    data[start:start + page * 4] = bytes([0xA5]) * (page * 4)
    dst.write_bytes(bytes(data))
    return dst


def _newer_schema(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    conn = sqlite3.connect(dst)
    conn.execute("INSERT INTO migrations (version, description) VALUES (999, 'from the future')")
    conn.commit()
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return dst


def _not_sqlite(src: Path, dst: Path) -> Path:
    dst.write_text("these are my notes, not a database\n" * 100)
    return dst


def _empty(src: Path, dst: Path) -> Path:
    dst.write_bytes(b"")
    return dst


def _other_sqlite(src: Path, dst: Path) -> Path:
    conn = sqlite3.connect(dst)
    conn.execute("CREATE TABLE notes (t TEXT)")
    conn.commit()
    conn.close()
    return dst


BAD_FILES = {
    "truncated": (_truncated, "truncated"),
    "corrupted": (_corrupted, "damaged"),
    "not-sqlite": (_not_sqlite, "not an SQLite database"),
    "empty": (_empty, "empty"),
    "other-sqlite": (_other_sqlite, "not a SandboxRunner one"),
    "newer-schema": (_newer_schema, "newer than this sandbox-admin"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_restoring_a_bad_file_is_refused_and_the_live_db_untouched(kind, live, tmp_path, bdir):
    make, words = BAD_FILES[kind]
    source = make_sandbox_db(tmp_path / "src.db", seed=2, blob_kib=128)
    bad = make(source, bdir / "sandbox_runner_20250101_000000.db")
    safety = tmp_path / "safety"
    digest = sha256_file(live)
    with open_store(live) as store:
        with pytest.raises(errors.BackupInvalid) as info:
            store.backups.restore(bad, safety_dir=safety)
    message = str(info.value)
    assert words in message and "was not changed" in message
    assert sha256_file(live) == digest
    assert not safety.exists(), "refused before the safety backup"
    report = verify_backup(bad)
    assert not report.restorable
    if kind == "newer-schema":
        assert report.ok and report.schema_version == 999 and "upgrade" in report.refusal
    else:
        assert not report.ok and report.problems


def test_a_backup_changed_after_it_was_made_is_refused(live, bdir, tmp_path):
    result = _make_backup(live, bdir)
    side = json.loads(sidecar_path(result.path).read_text())
    side["sha256"] = "0" * 64
    sidecar_path(result.path).write_text(json.dumps(side))
    report = verify_backup(result.path)
    assert not report.ok and report.checksum_matches is False
    with open_store(live) as store:
        with pytest.raises(errors.BackupInvalid, match="changed or damaged"):
            store.backups.restore(result.path, safety_dir=tmp_path / "s", allow_other_database=True)


def test_missing_backup_file_is_an_error_not_a_finding(tmp_path):
    with pytest.raises(errors.DatabaseNotFound):
        verify_backup(tmp_path / "nope.db")


# -- listing -----------------------------------------------------------------------------------

def test_listing_finds_ours_and_the_go_servers_and_marks_broken_ones(live, bdir):
    ours = _make_backup(live, bdir)
    go_backup = bdir / "sandbox_runner_20250101_120000.db"
    shutil.copyfile(GO_FIXTURE, go_backup)
    (bdir / "sandbox_runner_20250101_130000.db").write_text("not a database")
    truncated = _truncated(ours.path, bdir / "sandbox_runner_20250102_000000.db")
    shutil.copyfile(sidecar_path(ours.path), sidecar_path(truncated))  # described, but cut
    (bdir / "notes.db").write_text("ignored: not a backup name")
    entries = {e.path.name: e for e in list_backups(bdir)}
    assert set(entries) == {ours.path.name, go_backup.name, "sandbox_runner_20250101_130000.db",
                            truncated.name}
    assert entries[ours.path.name].status == VERIFIED and entries[ours.path.name].origin == "sandbox-admin"
    go = entries[go_backup.name]
    assert (go.status, go.origin, go.schema_version) == (UNVERIFIED, "go", 6)
    assert go.created_at == parse_backup_name(go_backup.name)[0]
    assert entries["sandbox_runner_20250101_130000.db"].status == BROKEN
    assert entries[truncated.name].status == BROKEN and entries[truncated.name].problems
    names = [e.path.name for e in list_backups(bdir)]
    assert names[0] == ours.path.name, "newest first"
    assert sha256_file(go_backup) == sha256_file(GO_FIXTURE), "listing writes nothing"
    assert not Path(f"{go_backup}-wal").exists() and not Path(f"{go_backup}-shm").exists()


# -- restore -----------------------------------------------------------------------------------

def test_go_server_backup_is_listed_and_restorable(fresh_db, bdir, tmp_path, go_counts):
    go_backup = bdir / "sandbox_runner_20250101_120000.db"
    shutil.copyfile(GO_FIXTURE, go_backup)
    go_backup.chmod(0o644)
    assert [e.origin for e in list_backups(bdir)] == ["go"]
    old_digest = file_digest(fresh_db)
    with open_store(fresh_db) as store:
        result = store.backups.restore(go_backup, safety_dir=tmp_path / "safety", user_id="")
        counts = store.row_counts()
        assert store.schema_version() == 6
    for table in ("sandboxes", "file_metadata", "metrics", "file_chunks", "file_chunk_refs"):
        assert counts[table] == go_counts[table]
    assert counts["audit_trail"] == go_counts["audit_trail"] + 1
    # An older schema is restored as it is, and says that migrations are pending.
    assert result.schema_version == 6 and result.previous_schema_version == latest_version()
    assert result.pending_migrations == list(range(7, latest_version() + 1))
    assert any("pending" in n for n in result.notices)
    assert not any("`sandbox-admin" in n or " DB`" in n for n in result.notices)  # the window shows them too
    # The safety backup holds exactly the old content.
    assert file_digest(result.safety_backup) == old_digest
    assert read_sidecar(result.safety_backup)["kind"] == "safety"
    # The audit entry: entity 'database', action 'restore', user_id '' (not NULL).
    conn = sqlite3.connect(fresh_db)
    audit_id, entity, action, user, meta = last_audit(conn)
    row = conn.execute("SELECT old_data, new_data, timestamp FROM audit_trail WHERE id=?",
                       (audit_id,)).fetchone()
    conn.close()
    assert (entity, action, user) == ("database", "restore", "")
    meta = json.loads(meta)
    assert meta["restored_from"] == str(go_backup.resolve())
    assert meta["safety_backup"] == str(result.safety_backup)
    assert json.loads(row[0])["schema_version"] == latest_version()
    assert json.loads(row[1])["schema_version"] == 6 and " " in row[2] and "T" not in row[2]
    # Without the audit entry, the content is exactly the Go backup's.
    assert file_digest(fresh_db, exclude_audit_ids=[audit_id]) == file_digest(go_backup)
    # And the pending migrations apply.
    with open_store(fresh_db) as store:
        store.migrate()
        assert store.schema_version() == latest_version()
        assert store.maintenance.check().ok


def test_restore_with_open_connections_in_other_threads_and_stores(live, tmp_path, bdir):
    new_db = make_sandbox_db(tmp_path / "new.db", seed=7, sandboxes=9, blob_kib=128)
    backup = _make_backup(new_db, bdir)
    store = open_store(live)
    other = open_store(live, read_only=True)  # a second Store (another window) on the same file
    try:
        ids_before = {s.id for s in other.models.Sandbox.select()}
        assert len(ids_before) == 5
        results: list[set[str]] = []

        def worker() -> None:
            with store.connection():
                results.append({s.id for s in store.models.Sandbox.select()})

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        store.backups.restore(backup.path, safety_dir=tmp_path / "safety", allow_other_database=True)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert results[0] == ids_before
        assert len(results[1]) == 9 and results[1].isdisjoint(ids_before)
        assert {s.id for s in other.models.Sandbox.select()} == results[1]
        assert store.maintenance.check().ok
    finally:
        other.close()
        store.close()


def test_restore_converts_a_backup_of_another_page_size(live, tmp_path, bdir):
    src = make_sandbox_db(tmp_path / "src.db", seed=3, blob_kib=128)
    conn = sqlite3.connect(src, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA page_size=8192")
    conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    backup = _make_backup(src, bdir)
    assert verify_backup(backup.path).page_size == 8192
    with open_store(live) as store:
        store.backups.restore(backup.path, safety_dir=tmp_path / "safety", allow_other_database=True)
        assert store.db.execute_sql("PRAGMA page_size").fetchone()[0] == 4096
    audit_id = last_audit(sqlite3.connect(live))[0]
    assert file_digest(live, exclude_audit_ids=[audit_id]) == file_digest(backup.path)
    assert not [p for p in bdir.iterdir() if ".partial-" in p.name]


def test_cancelled_restore_leaves_the_old_content(live, tmp_path, bdir):
    """Cancel at the last moment (pages written, both checks done, commit not yet): the
    database is as it was and the finished safety backup is kept, and named."""
    new_db = make_sandbox_db(tmp_path / "new.db", seed=4, blob_kib=256)
    backup = _make_backup(new_db, bdir)
    old = file_digest(live)

    phases: list[str] = []

    def cancel() -> bool:  # the checks' own workers ask too: only once the safety is published
        return "checks" in phases and len(list_backups(tmp_path / "safety")) == 1

    with open_store(live) as store:
        with pytest.raises(errors.Cancelled, match="not changed") as caught:
            store.backups.restore(backup.path, safety_dir=tmp_path / "safety", cancel=cancel, allow_other_database=True,
                                  pages_per_step=8,
                                  progress=lambda phase, d, t: phases.append(phase))
    assert file_digest(live) == old
    kept = list_backups(tmp_path / "safety")
    assert len(kept) == 1, "the safety backup stays"
    assert kept[0].path.name in str(caught.value)
    assert phases.index("restore") < phases.index("checks")


def test_restore_cancelled_while_the_safety_backup_is_taken_leaves_nothing(live, tmp_path, bdir):
    new_db = make_sandbox_db(tmp_path / "new.db", seed=4, blob_kib=256)
    backup = _make_backup(new_db, bdir)
    old = file_digest(live)
    phases: list[str] = []

    with open_store(live) as store:
        with pytest.raises(errors.Cancelled, match="not changed") as caught:
            store.backups.restore(backup.path, safety_dir=tmp_path / "safety",
                                  cancel=lambda: "safety copy" in phases, allow_other_database=True,
                                  progress=lambda phase, d, t: phases.append(phase))
        assert "safety backup" not in str(caught.value)
    assert file_digest(live) == old
    assert list_backups(tmp_path / "safety") == []
    assert not [p for p in (tmp_path / "safety").iterdir() if ".partial-" in p.name]


def test_restore_refuses_the_database_itself_and_read_only_stores(live, go_fixture, tmp_path):
    with open_store(live) as store:
        with pytest.raises(errors.InvalidInput):
            store.backups.restore(live)
    with open_store(go_fixture, read_only=True) as store:
        with pytest.raises(errors.ReadOnly):
            store.backups.restore(live, safety_dir=tmp_path / "s")


def test_restore_refused_inside_a_transaction(live, tmp_path, bdir):
    backup = _make_backup(live, bdir)
    with open_store(live) as store:
        with store.transaction():
            with pytest.raises(errors.InvalidInput, match="transaction"):
                store.backups.restore(backup.path, safety_dir=tmp_path / "s", allow_other_database=True)


# -- retention and schedule ----------------------------------------------------------------------

def _info(name: str, when: datetime, source: str = "/db/a.db", status: str = VERIFIED,
          origin: str = "sandbox-admin") -> BackupInfo:
    return BackupInfo(Path(name), when, 1, status, origin, kind="manual", source_path=source)


def test_retention_keep_last_daily_weekly_like_restic():
    base = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # a Wednesday
    entries = [_info(f"b{i:02d}", base - timedelta(hours=8 * i)) for i in range(30)]  # 10 days
    entries += [_info("go", base - timedelta(days=40), origin="go", status=UNVERIFIED),
                _info("broken", base - timedelta(days=41), status=BROKEN),
                _info("other", base - timedelta(days=42), source="/db/b.db")]
    plan = plan_retention(entries, RetentionPolicy(keep_last=2))
    assert sorted(p.name for p in plan.keep if p.name.startswith("b")) == ["b00", "b01"]
    assert {p.name for p in plan.untouched} == {"go", "broken"}
    assert Path("other") in plan.keep, "grouped per source database"
    plan = plan_retention(entries, RetentionPolicy(keep_daily=3))
    kept = sorted(p.name for p in plan.keep if p.name.startswith("b"))
    # the newest backup of each of the 3 newest days: 20th 12:00, 19th 20:00, 18th 20:00
    assert kept == ["b00", "b02", "b05"]
    plan = plan_retention(entries, RetentionPolicy(keep_last=1, keep_weekly=2))
    assert sorted(p.name for p in plan.keep if p.name.startswith("b")) == ["b00", "b08"]
    assert "weekly" in " ".join(plan.keep[Path("b08")])
    assert plan_retention(entries, RetentionPolicy()).remove == [], "empty policy removes nothing"


def test_backup_with_keep_removes_only_this_databases_old_verified_backups(live, tmp_path, bdir):
    other = make_sandbox_db(tmp_path / "other.db", seed=5, blob_kib=64)
    theirs = _make_backup(other, bdir)
    go_backup = bdir / "sandbox_runner_20200101_000000.db"
    shutil.copyfile(GO_FIXTURE, go_backup)
    mine = [_make_backup(live, bdir) for _ in range(3)]
    last = _make_backup(live, bdir, keep=RetentionPolicy(keep_last=2))
    assert {p for p in last.removed} == {mine[0].path, mine[1].path}
    left = {p.name for p in bdir.iterdir()}
    assert {theirs.path.name, go_backup.name, mine[2].path.name, last.path.name} <= left
    assert mine[0].path.name not in left and sidecar_path(mine[0].path).name not in left


def test_schedule_due_and_run_if_due(live, bdir):
    schedule = Schedule(timedelta(hours=6), RetentionPolicy(keep_last=2))
    with open_store(live) as store:
        manager = store.backups
        assert manager.due(schedule, directory=bdir)
        run = manager.run_if_due(schedule, directory=bdir)
        assert run.ran and run.backup.kind == "scheduled"
        made = run.backup.created_at
        assert not manager.due(schedule, now=made + timedelta(hours=5), directory=bdir)
        assert manager.next_due(schedule, directory=bdir) == made + timedelta(hours=6)
        skipped = manager.run_if_due(schedule, now=made + timedelta(hours=1), directory=bdir)
        assert not skipped.ran and skipped.backup is None
        assert manager.due(schedule, now=made + timedelta(hours=6), directory=bdir)
        for _ in range(3):
            manager.run_if_due(schedule, now=datetime.now(UTC) + timedelta(days=1), directory=bdir)
        assert len(manager.list(bdir)) == 2
    with pytest.raises(ValueError):
        Schedule(timedelta(0))


# -- the command line ---------------------------------------------------------------------------

def test_cli_backup_backups_verify_restore(run_cli, live, tmp_path, bdir):
    code, out, err = run_cli("backup", live, "--dir", bdir, "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["verified"] is True and Path(made["path"]).exists() and made["size_bytes"] > 0
    code, out, err = run_cli("backup", live, "--dir", bdir, "--every", "24", "--json")
    assert code == 0 and json.loads(out)["skipped"] is True
    shutil.copyfile(GO_FIXTURE, bdir / "sandbox_runner_20250101_120000.db")
    code, out, err = run_cli("backups", live, "--dir", bdir, "--json")
    listing = json.loads(out)
    assert code == 0 and len(listing) == 2
    for item in listing:
        assert {"path", "created_at", "size_bytes", "schema_version", "status"} <= set(item)
    assert {i["origin"] for i in listing} == {"sandbox-admin", "go"}
    code, out, _ = run_cli("verify", made["path"], "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    assert {"ok", "problems", "schema_version", "tables"} <= set(json.loads(out))
    bad = _corrupted(Path(made["path"]), tmp_path / "bad.db")
    code, out, _ = run_cli("verify", bad, "--json")
    assert code == 1 and json.loads(out)["problems"]
    code, out, err = run_cli("verify", tmp_path / "missing.db")
    assert code == 2 and err.startswith("sandbox-admin: error:")
    code, out, err = run_cli("restore", live, bdir / "sandbox_runner_20250101_120000.db")
    assert code == 2 and "--yes" in err
    code, out, err = run_cli("restore", live, bdir / "sandbox_runner_20250101_120000.db",
                             "--yes", "--safety-dir", tmp_path / "safety", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"restored_from", "safety_backup", "tables"} <= set(data)
    assert data["schema_version"] == 6 and data["pending_migrations"]
    assert data["backup_check"] == "integrity_check ok"  # the Go server's: no description
    code, out, err = run_cli("restore", live, made["path"], "--yes", "--safety-dir", tmp_path / "safety")
    assert code == 0, err
    assert out.startswith(f"restored {live} from {made['path']} (unchanged since its recorded integrity_check)")
    code, out, err = run_cli("restore", live, bad, "--yes")
    assert code == 1 and "cannot be restored" in err and "\n" not in err.strip()


def test_restore_into_a_damaged_database_keeps_a_damaged_safety_backup(live, tmp_path, bdir):
    new_db = make_sandbox_db(tmp_path / "new.db", seed=8, blob_kib=64)
    backup = _make_backup(new_db, bdir)
    conn = sqlite3.connect(live)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='idx_metrics_name_timestamp'"
                        ).fetchone()[0]
    conn.close()
    data = bytearray(live.read_bytes())
    data[(root - 1) * 4096 + 8:root * 4096] = bytes(4088)  # wreck an index page
    live.write_bytes(bytes(data))
    with open_store(live) as store:
        assert not store.maintenance.check().ok
        with pytest.raises(errors.BackupInvalid):
            store.backups.create(tmp_path / "plain")  # an ordinary backup refuses damage
        result = store.backups.restore(backup.path, safety_dir=tmp_path / "safety", allow_other_database=True)
        assert store.maintenance.check().ok
    assert any("damaged" in n for n in result.notices)
    [entry] = list_backups(tmp_path / "safety")
    assert entry.status == BROKEN and entry.problems and entry.kind == "safety"
    assert not list(tmp_path.joinpath("plain").iterdir())


def test_restore_gives_up_on_a_locked_database_and_changes_nothing(live, tmp_path, bdir):
    new_db = make_sandbox_db(tmp_path / "new.db", seed=9, blob_kib=64)
    backup = _make_backup(new_db, bdir)
    old = file_digest(live)
    holder = sqlite3.connect(live, isolation_level=None)  # another writer holds the lock
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE sandboxes SET status = 'stopped'")
    try:
        with open_store(live) as store:
            with pytest.raises(errors.DatabaseLocked, match="locked by another program"):
                store.backups.restore(backup.path, safety_dir=tmp_path / "safety", allow_other_database=True,
                                      lock_timeout_s=0.5)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert file_digest(live) == old


def test_a_backups_folder_that_is_a_file_is_named_in_the_error(go_store, tmp_path):
    from sandbox_admin.storage import errors

    not_a_folder = tmp_path / "backups"
    not_a_folder.write_text("I am a file")
    with pytest.raises(errors.InvalidInput, match="is a file, not a folder"):
        go_store.backups.create(not_a_folder)
    assert not_a_folder.read_text() == "I am a file"


def test_restore_into_a_rollback_journal_database(live, tmp_path, bdir):
    """Without WAL the pages would go into the database file before the commit: the
    backup is verified and the safety backup taken first, then the copy."""
    new_db = make_sandbox_db(tmp_path / "new.db", seed=5, blob_kib=256)
    backup = _make_backup(new_db, bdir)
    conn = sqlite3.connect(live)
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    conn.close()
    old = file_digest(live)
    phases: list[str] = []
    with open_store(live) as store:
        assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "delete"
        result = store.backups.restore(backup.path, safety_dir=tmp_path / "safety",
                                       allow_other_database=True,
                                       progress=lambda phase, d, t: phases.append(phase))
    audit_id = last_audit(sqlite3.connect(live))[0]
    assert file_digest(live, exclude_audit_ids=[audit_id]) == file_digest(backup.path)
    assert file_digest(result.safety_backup) == old
    assert "checks" not in phases  # nothing overlapped the copy
    assert max(i for i, p in enumerate(phases) if p.startswith("safety ")) < phases.index("restore")
