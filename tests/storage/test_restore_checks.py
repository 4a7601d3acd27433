"""Restore checks each guarantee once: what it still refuses and when it checks again.

The backup is verified while the safety backup is taken; the restored pages are not
integrity-checked a second time when the verified file is unchanged, and they are
when it changed (or was converted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.backup import restore as restore_module
from sandbox_admin.storage.backup.manager import list_backups, verify_backup
from tests.conftest import sha256_file
from tests.reliability.dbtools import make_sandbox_db


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    live = make_sandbox_db(tmp_path / "live.db", seed=1, blob_kib=128)
    source = make_sandbox_db(tmp_path / "src.db", seed=2, blob_kib=96)
    with open_store(source) as store:
        backup = store.backups.create(tmp_path / "backups").path
    return live, backup


def _identity_changing_at(call: int, monkeypatch) -> None:
    """Make restore see the backup file as another one from its ``call``-th look on."""
    real = restore_module._identity
    calls = [0]

    def identity(path: Path) -> tuple[int, ...]:
        calls[0] += 1
        value = real(path)
        return value + (1,) if calls[0] >= call else value

    monkeypatch.setattr(restore_module, "_identity", identity)


def test_a_backup_changed_after_verification_is_refused_untouched(pair, tmp_path, monkeypatch):
    live, backup = pair
    digest = sha256_file(live)
    _identity_changing_at(2, monkeypatch)  # 1: before verifying, 2: before copying
    with open_store(live) as store:
        with pytest.raises(errors.BackupInvalid, match="changed while it was being verified"):
            store.backups.restore(backup, safety_dir=tmp_path / "safety", allow_other_database=True)
    assert sha256_file(live) == digest


def test_unchanged_backup_is_not_integrity_checked_twice(pair, tmp_path, monkeypatch):
    live, backup = pair
    checks: list[str] = []
    real = restore_module._same_pages
    monkeypatch.setattr(restore_module, "_same_pages",
                        lambda src, dst: checks.append("read-back") or real(src, dst))
    with open_store(live) as store:
        store.backups.restore(backup, safety_dir=tmp_path / "safety", allow_other_database=True)
    assert checks == ["read-back"]
    assert verify_backup(backup).ok


def test_a_backup_changed_during_the_copy_gets_the_full_check(pair, tmp_path, monkeypatch):
    live, backup = pair
    _identity_changing_at(3, monkeypatch)  # 3: after the copy

    def no_read_back(src, dst):
        raise AssertionError("the cheap read-back must not stand in for the full check")

    monkeypatch.setattr(restore_module, "_same_pages", no_read_back)
    with open_store(live) as store:
        result = store.backups.restore(backup, safety_dir=tmp_path / "safety", allow_other_database=True)
    assert result.tables and not result.notices


def _flip_a_byte(backup) -> None:  # type: ignore[no-untyped-def]
    """Damage the backup in its middle (its checksum and pages no longer match)."""
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))


def test_refused_backup_while_the_safety_backup_fails_too_says_refused(pair, tmp_path):
    """Both run at once; the refusal of the backup speaks first, as when in sequence."""
    live, backup = pair
    _flip_a_byte(backup)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with open_store(live) as store:
        with pytest.raises(errors.BackupInvalid):
            store.backups.restore(backup, safety_dir=not_a_folder, allow_other_database=True)


def test_refused_backup_leaves_no_safety_backup_even_in_an_existing_folder(pair, tmp_path):
    live, backup = pair
    _flip_a_byte(backup)
    safety = tmp_path / "safety"
    safety.mkdir()
    (safety / "keep.txt").write_text("mine")
    digest = sha256_file(live)
    with open_store(live) as store:
        with pytest.raises(errors.BackupInvalid):
            store.backups.restore(backup, safety_dir=safety, allow_other_database=True)
    assert sha256_file(live) == digest
    assert list_backups(safety) == [] and sorted(p.name for p in safety.iterdir()) == ["keep.txt"]
