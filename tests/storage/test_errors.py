"""Low-level failures become the errors people see, with what to do."""

from __future__ import annotations

import sqlite3

import peewee
import pytest

from sandbox_admin.storage import errors


@pytest.mark.parametrize(
    "exc, kind, words",
    [
        (sqlite3.OperationalError("database is locked"), errors.DatabaseLocked, "try again"),
        (peewee.OperationalError("database table is locked"), errors.DatabaseLocked, "locked"),
        (sqlite3.OperationalError("attempt to write a readonly database"), errors.ReadOnly, "read-only"),
        (sqlite3.DatabaseError("file is not a database"), errors.NotASandboxDatabase, "not an SQLite"),
        (sqlite3.DatabaseError("database disk image is malformed"), errors.CorruptDatabase, "backup"),
        (sqlite3.OperationalError("unable to open database file"), errors.CannotOpen, "permissions"),
        (sqlite3.OperationalError("interrupted"), errors.Cancelled, "cancelled"),
        (sqlite3.OperationalError("no such table: x"), errors.StorageError, "no such table"),
        (IsADirectoryError(21, "Is a directory", "/tmp"), errors.NotASandboxDatabase, "folder"),
        (FileNotFoundError(2, "No such file", "/nope.db"), errors.DatabaseNotFound, "does not exist"),
        (PermissionError(13, "Permission denied"), errors.ReadOnly, "permissions"),
        (OSError(28, "No space left on device"), errors.NotEnoughSpace, "Disk full"),
        (ValueError("odd"), errors.StorageError, "odd"),
    ],
)
def test_translate(exc, kind, words):
    result = errors.translate(exc, "/data/sandbox_runner.db")
    assert type(result) is kind
    assert words.lower() in str(result).lower()
    assert str(result) == result.message
    # the GUI shows the message: a command to type goes in cli_hint, which only the CLI prints
    assert "sandbox-admin" not in result.message


def test_what_to_type_is_a_cli_hint_not_part_of_the_message(tmp_path):
    """Messages the window shows say what to do in words; the command is the CLI's hint."""
    from sandbox_admin.storage import create_store

    damaged = errors.translate(sqlite3.DatabaseError("database disk image is malformed"), "/x.db")
    assert "integrity check" in damaged.message and damaged.cli_hint.startswith("`sandbox-admin check")
    with create_store(tmp_path / "old.db") as store:
        store.migrate(7)  # before the rollup tables
        with pytest.raises(errors.MigrationError) as raised:
            store.metrics.build_rollups()
    assert "upgrade its schema" in raised.value.message and "sandbox-admin" not in raised.value.message
    assert "sandbox-admin migrate" in raised.value.cli_hint


def test_storage_errors_pass_through_and_keep_details():
    original = errors.VersionConflict("changed elsewhere", current={"version": 3}, detail="v2 != v3")
    assert errors.translate(original) is original
    assert original.current == {"version": 3} and original.detail == "v2 != v3"
    assert errors.CannotOpen("x").exit_code == 2 and errors.DatabaseLocked("x").exit_code == 1


def test_paths_follow_the_override(tmp_path, monkeypatch):
    from sandbox_admin import paths

    monkeypatch.setenv("SANDBOX_ADMIN_HOME", str(tmp_path))
    assert paths.default_database() == tmp_path / "data" / "sandbox_runner.db"
    assert paths.backups_dir() == tmp_path / "data" / "backups"
    # one folder per database, named after it, apart for two files of the same name
    a, b = tmp_path / "one" / "sandbox_runner.db", tmp_path / "two" / "sandbox_runner.db"
    assert paths.backups_dir(a).parent == paths.backups_dir()
    assert paths.backups_dir(a).name.startswith("sandbox_runner-")
    assert paths.backups_dir(a) != paths.backups_dir(b)
    assert paths.backups_dir(a) == paths.backups_dir(tmp_path / "one" / ".." / "one" / "sandbox_runner.db")
    assert paths.logs_dir() == tmp_path / "logs"
    assert paths.settings_dir() == tmp_path / "config"
    assert paths.ensure(tmp_path / "a" / "b").is_dir()
    monkeypatch.delenv("SANDBOX_ADMIN_HOME")
    assert paths.default_database().name == "sandbox_runner.db"
