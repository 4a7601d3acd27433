"""A restore checks nothing twice (#15): a backup whose bytes are those that passed an
integrity_check when it was described is not integrity-checked again, and the safety
backup's checksum is recorded after the commit; every other backup is checked in full."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.backup.files import read_sidecar, sidecar_path, verify_backup
from tests.conftest import GO_FIXTURE, sha256_file
from tests.reliability.dbtools import file_digest, last_audit, make_sandbox_db


@pytest.fixture
def live(tmp_path: Path) -> Path:
    return make_sandbox_db(tmp_path / "live.db", seed=1, blob_kib=128)


@pytest.fixture
def backup(tmp_path: Path):
    new_db = make_sandbox_db(tmp_path / "new.db", seed=5, blob_kib=128)
    with open_store(new_db) as store:
        return store.backups.create(tmp_path / "backups")


def _damage_in_place(path: Path) -> None:
    """Garbage over a few pages in the middle; the size (and header) unchanged."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * 3:page * 7] = bytes([0xA5]) * (page * 4)
    path.write_bytes(bytes(data))


def test_the_recorded_check_is_reused_only_for_the_same_bytes(backup):
    full = verify_backup(backup.path)
    reused = verify_backup(backup.path, reuse_recorded_check=True)
    assert full.ok and not full.integrity_reused
    assert reused.ok and reused.restorable and reused.integrity_reused
    assert reused.checksum_matches is True and reused.sha256 == backup.sha256
    # The schema is still read: version, pending migrations and row counts as in full.
    assert (reused.schema_version, reused.pending_migrations, reused.tables) == (
        full.schema_version, full.pending_migrations, full.tables)


def test_changed_bytes_get_the_full_check_and_are_refused(backup, live, tmp_path):
    _damage_in_place(backup.path)
    report = verify_backup(backup.path, reuse_recorded_check=True)
    assert not report.integrity_reused and not report.restorable
    assert report.checksum_matches is False
    assert any("integrity_check" in p or "damaged" in p for p in report.problems), report.problems
    digest = sha256_file(live)
    with open_store(live) as store, pytest.raises(errors.BackupInvalid, match="changed or damaged"):
        store.backups.restore(backup.path, safety_dir=tmp_path / "safety", allow_other_database=True)
    assert sha256_file(live) == digest


def test_what_the_description_vouches_for_is_the_bytes_only(backup):
    """The trust is exactly this: a description that records a passing check with the
    sha256 of a damaged file (someone rewrote both) is believed by a restore's check, and
    never by an explicit verification, which always reads every page."""
    _damage_in_place(backup.path)
    side = json.loads(sidecar_path(backup.path).read_text())
    side["sha256"] = sha256_file(backup.path)
    sidecar_path(backup.path).write_text(json.dumps(side))
    assert verify_backup(backup.path, reuse_recorded_check=True).integrity_reused
    explicit = verify_backup(backup.path)
    assert not explicit.ok and any("damaged" in p or "integrity_check" in p for p in explicit.problems)


@pytest.mark.parametrize("change", ["failed", "no-sha", "other-size"])
def test_a_description_without_a_passing_check_is_not_reused(backup, change):
    side = json.loads(sidecar_path(backup.path).read_text())
    if change == "failed":
        side.update(verified=False, integrity_check="failed")
    elif change == "no-sha":
        side["sha256"] = ""
    else:
        side["size_bytes"] = side["size_bytes"] + 4096
    sidecar_path(backup.path).write_text(json.dumps(side))
    assert not verify_backup(backup.path, reuse_recorded_check=True).integrity_reused


def _restore_audit(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        _, _, action, _, meta = last_audit(conn)
    finally:
        conn.close()
    assert action == "restore"
    return json.loads(meta)


def test_restore_records_the_safety_checksum_after_its_commit(live, backup, tmp_path):
    old = file_digest(live)
    with open_store(live) as store:
        result = store.backups.restore(backup.path, safety_dir=tmp_path / "safety",
                                       allow_other_database=True)
    safety = result.safety_backup
    assert file_digest(safety) == old
    described = read_sidecar(safety)
    assert described["sha256"] == sha256_file(safety) and described["verified"] is True
    check = verify_backup(safety)
    assert check.ok and check.checksum_matches is True
    meta = _restore_audit(live)
    assert meta["backup_integrity"] == result.backup_check == "unchanged since its recorded integrity_check"
    assert result.backup_integrity_reused
    assert meta["backup_sha256"] == backup.sha256


def test_a_backup_nobody_described_is_checked_in_full(live, tmp_path):
    """The Go server's backups carry no description: the full integrity_check runs."""
    go_backup = tmp_path / "go" / "sandbox_runner_20250101_000000.db"
    go_backup.parent.mkdir()
    go_backup.write_bytes(GO_FIXTURE.read_bytes())
    with open_store(live) as store:
        result = store.backups.restore(go_backup, safety_dir=tmp_path / "safety",
                                       allow_other_database=True)
    assert result.safety_backup.exists() and not result.backup_integrity_reused
    assert _restore_audit(live)["backup_integrity"] == "integrity_check ok"


def test_a_cancelled_restore_keeps_its_safety_backup_with_the_checksum(live, backup, tmp_path):
    phases: list[str] = []
    folder = tmp_path / "safety"

    def cancel() -> bool:  # the checks' own workers ask too: only once the safety is described
        return "checks" in phases and any(sidecar_path(p).exists() for p in folder.glob("*.db"))

    with open_store(live) as store, pytest.raises(errors.Cancelled):
        store.backups.restore(backup.path, safety_dir=folder, allow_other_database=True,
                              pages_per_step=8, cancel=cancel,
                              progress=lambda phase, d, t: phases.append(phase))
    kept = sorted(folder.glob("*.db"))
    assert len(kept) == 1
    assert read_sidecar(kept[0])["sha256"] == sha256_file(kept[0])
