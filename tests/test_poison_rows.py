"""One bad row does not disable a command: it is skipped (or shown as unreadable) and
named by its id; every other row stays usable, in the CLI, the storage API and the GUI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sandbox_admin.storage import open_store

INSERT_METRIC = ("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                 "aggregation_period) VALUES ('cpu_usage', 'gauge', ?, ?, ?, NULL, 'raw')")

#: kind -> (labels, value, timestamp) of one poison metric row
METRIC_POISON = {
    "time before year 1": ('{"a":"b"}', 1.0, "0001-01-01 00:00:00+01:00"),
    "time after 9999": ('{"a":"b"}', 1.0, "9999-12-31 23:59:59-01:00"),
    "value not a number": ('{"a":"b"}', "abc", "2026-11-26 00:00:00"),
    "value a blob": ('{"a":"b"}', b"\x00\x01", "2026-11-26 00:00:00"),
    "label lone surrogate": ('{"a":"\\ud800"}', 1.0, "2026-11-26 00:00:00"),
    "label invalid utf-8": (b'{"a":"\xff\xfe"}', 1.0, "2026-11-26 00:00:00"),
}


def _poison_metric(db: Path, kind: str) -> int:
    labels, value, ts = METRIC_POISON[kind]
    con = sqlite3.connect(db)
    try:
        if isinstance(labels, bytes):
            cur = con.execute(INSERT_METRIC.replace("VALUES ('cpu_usage', 'gauge', ?",
                                                    "VALUES ('cpu_usage', 'gauge', CAST(? AS TEXT)"),
                              (labels, value, ts))
        else:
            cur = con.execute(INSERT_METRIC, (labels, value, ts))
        con.commit()
        return int(cur.lastrowid)
    finally:
        con.close()


@pytest.mark.parametrize("kind", list(METRIC_POISON))
def test_a_poison_metric_row_leaves_every_metric_command_working(kind, go_db, run_cli, tmp_path):
    assert run_cli("migrate", go_db)[0] == 0
    row_id = _poison_metric(go_db, kind)
    code, out, err = run_cli("metrics", go_db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {s["name"] for s in data["series"]} >= {"cpu_usage", "memory_bytes", "requests_total"}
    code, out, err = run_cli("export-metrics", go_db, "--format", "csv", "-o", tmp_path / "m.csv", "--json")
    assert code == 0, err
    assert json.loads(out)["samples"] >= 21847
    code, out, err = run_cli("export-metrics", go_db, "--format", "prometheus")
    assert code == 0, err
    code, out, err = run_cli("metrics-rollup", go_db, "--retention", "--json")
    assert code == 0, err
    if kind.startswith(("time", "value")):  # skipped and named by id
        assert f"ids {row_id}" in err or str(row_id) in json.dumps(json.loads(out)["unreadable_rows"])
    for text in (out, err):
        assert "Traceback" not in text


def test_invalid_utf8_in_one_sandbox_is_shown_as_unreadable_and_the_rest_lists(go_db, run_cli):
    con = sqlite3.connect(go_db)
    victim = con.execute("SELECT id FROM sandboxes WHERE deleted_at IS NULL LIMIT 1").fetchone()[0]
    con.execute("UPDATE sandboxes SET status = CAST(x'fffe41' AS TEXT), environment = "
                "CAST(x'7bff7d' AS TEXT) WHERE id = ?", (victim,))
    con.execute("UPDATE file_metadata SET file_path = CAST(x'2fff' AS TEXT) WHERE id = 1")
    con.commit()
    con.close()
    code, out, err = run_cli("sandboxes", go_db, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 28
    assert next(r for r in rows if r["id"] == victim)["status"] == "\ufffd\ufffdA"
    with open_store(go_db, read_only=True) as store:
        assert store.sandboxes.get(victim).status == "\ufffd\ufffdA"
        assert len(store.files.list(limit=500)) > 100
    code, out, err = run_cli("search", go_db, "main", "--json")
    assert code == 0, err


def test_the_sandboxes_pane_lists_every_row_around_a_poison_one(qtbot, go_db):
    from PySide6.QtCore import QSettings

    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.sandboxes import SandboxesPane

    con = sqlite3.connect(go_db)
    victim = con.execute("SELECT id FROM sandboxes WHERE deleted_at IS NULL LIMIT 1").fetchone()[0]
    con.execute("UPDATE sandboxes SET status = CAST(x'fffe41' AS TEXT) WHERE id = ?", (victim,))
    con.commit()
    con.close()
    runner = JobRunner()
    pane = SandboxesPane(runner, settings=QSettings(str(go_db.parent / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(pane)
    store = open_store(go_db)
    try:
        pane.set_store(store)
        qtbot.waitUntil(lambda: pane.model.loaded_all and pane.model.total_exact, timeout=15000)
        assert pane.model.rowCount() == 28
        assert victim in [r.id for r in pane.model.rows()]
    finally:
        pane.set_store(None)
        runner.cancel_all()
        runner.wait_idle(15000)
        store.close()


def test_the_files_pane_lists_every_row_around_a_poison_one(qtbot, go_db):
    from PySide6.QtCore import QSettings

    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.files import FilesPane

    con = sqlite3.connect(go_db)
    newest = con.execute("SELECT max(id) FROM file_metadata WHERE deleted_at IS NULL").fetchone()[0]
    con.execute("UPDATE file_metadata SET file_path = CAST(x'2f61ff62' AS TEXT), "
                "mime_type = CAST(x'ff' AS TEXT) WHERE id = ?", (newest,))
    con.commit()
    con.close()
    runner = JobRunner()
    pane = FilesPane(runner, settings=QSettings(str(go_db.parent / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(pane)
    pane.show()  # a hidden pane waits until it is shown
    store = open_store(go_db)
    try:
        with qtbot.waitSignal(pane.results_loaded, timeout=15000):
            pane.set_store(store)
        ids = pane.row_ids()
        assert len(ids) == 50 and newest in ids
    finally:
        pane.set_store(None)
        runner.cancel_all()
        runner.wait_idle(15000)
        store.close()


def test_metrics_of_one_name_note_only_that_metrics_unreadable_rows(go_db, run_cli):
    """`metrics --name X` reads X's rows only, and so does its note (by the name index)."""
    assert run_cli("migrate", go_db)[0] == 0
    bad_cpu = _poison_metric(go_db, "value not a number")  # a cpu_usage row
    con = sqlite3.connect(go_db)
    bad_other = int(con.execute(INSERT_METRIC.replace("'cpu_usage'", "'memory_bytes'"),
                                ('{"a":"b"}', "abc", "2026-11-26 00:00:00")).lastrowid)
    con.commit()
    con.close()
    code, out, err = run_cli("metrics", go_db, "--name", "cpu_usage", "--json")
    assert code == 0, err
    assert json.loads(out)["unreadable_rows"] == [bad_cpu] and f"ids {bad_cpu}" in err
    code, out, err = run_cli("metrics", go_db, "--name", "memory_bytes", "--json")
    assert json.loads(out)["unreadable_rows"] == [bad_other]
    code, out, err = run_cli("metrics", go_db, "--json")  # every metric: both
    assert json.loads(out)["unreadable_rows"] == [bad_cpu, bad_other]
