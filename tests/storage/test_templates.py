"""TemplateStore on real files: Go shapes, optimistic edits by updated_at, one default
(also under concurrent writer processes), a sandbox made from a template (audited)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from tests.conftest import ROOT


def raw(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_create_list_get_in_go_shapes(fresh_store):
    t = fresh_store.templates.create(
        "Python 3.11", "python:3.11-slim", id="tp", config={"workspace_dir": "/app", "b": 1},
        pre_installed_packages=["pip", "git"], environment_vars={"LANG": "C.UTF-8"},
        resource_limits={"cpu": "1"}, tags=["python", "starter", "python"], created_by="ann")
    fresh_store.templates.create("Bare", "alpine:3")
    assert t.tags == ["python", "starter"] and t.config == {"b": 1, "workspace_dir": "/app"}
    assert [r.name for r in fresh_store.templates.list()] == ["Bare", "Python 3.11"]
    assert fresh_store.templates.get("tp") == t
    row = raw(fresh_store.path, "SELECT config, pre_installed_packages, environment_vars, tags, "
              "description, is_default, usage_count, created_at FROM sandbox_templates WHERE id='tp'")[0]
    assert row[:7] == ('{"b":1,"workspace_dir":"/app"}', '["pip","git"]', '{"LANG":"C.UTF-8"}',
                       '["python","starter"]', "", 0, 0)
    assert " " in row[7] and row[7].endswith("+00:00")
    bare = raw(fresh_store.path, "SELECT * FROM sandbox_templates WHERE name='Bare'")[0]
    assert None not in bare  # not one SQL NULL: config '{}', absent JSON 'null', text ''
    with pytest.raises(errors.InvalidInput):
        fresh_store.templates.create("", "img")
    with pytest.raises(errors.InvalidInput):
        fresh_store.templates.create("dup", "img", id="tp")
    with pytest.raises(errors.NotFound):
        fresh_store.templates.get("nope")


def test_keyset_pages_cover_every_template_once(fresh_store):
    for i in range(25):
        fresh_store.templates.create(f"t{i % 7}", "img", id=f"id{i:02d}")
    seen, cursor = [], None
    while True:
        page = fresh_store.templates.page(cursor, limit=4)
        seen += [r.id for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == [f"id{i:02d}" for i in range(25)] and len(seen) == 25


def test_update_is_optimistic_by_updated_at(fresh_store):
    t = fresh_store.templates.create("Node", "node:20", id="n")
    a = fresh_store.templates.update("n", t.stamp, description="first", tags=["js"])
    assert a.description == "first" and a.tags == ["js"] and a.updated_at > t.updated_at
    with pytest.raises(errors.VersionConflict) as info:  # a stale edit, based on t
        fresh_store.templates.update("n", t.stamp, description="stale")
    assert info.value.current.description == "first"
    # a change by another program (the Go server bumps updated_at) is detected too
    raw_con = sqlite3.connect(fresh_store.path)
    raw_con.execute("UPDATE sandbox_templates SET name='Node 22', updated_at=CURRENT_TIMESTAMP")
    raw_con.commit()
    raw_con.close()
    with pytest.raises(errors.VersionConflict):
        fresh_store.templates.update("n", a.stamp, description="x")
    with pytest.raises(errors.VersionConflict):
        fresh_store.templates.delete("n", a.stamp)
    with pytest.raises(errors.InvalidInput):
        fresh_store.templates.update("n", a.stamp, usage_count=3)
    current = fresh_store.templates.get("n")
    fresh_store.templates.delete("n", current.stamp)
    assert fresh_store.templates.list() == []
    with pytest.raises(errors.NotFound):
        fresh_store.templates.delete("n")


def test_one_default_at_a_time(fresh_store):
    s = fresh_store.templates
    s.create("a", "img", id="a", is_default=True)
    s.create("b", "img", id="b", is_default=True)
    assert [t.id for t in s.list() if t.is_default] == ["b"]
    c = s.create("c", "img", id="c")
    s.update("c", c.stamp, is_default=True)
    assert s.default().id == "c"
    s.set_default("a")
    assert [t.id for t in s.list() if t.is_default] == ["a"]
    s.set_default(None)
    assert s.default() is None
    with pytest.raises(errors.NotFound):
        s.set_default("zz")


WRITER = """
import sys, time
from sandbox_admin.storage import open_store
path, tid, start, rounds = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
store = open_store(path)
while time.time() < start:
    time.sleep(0.001)
for _ in range(rounds):
    store.templates.set_default(tid)
store.close()
"""


def test_one_default_under_concurrent_writer_processes(fresh_store):
    ids = [f"t{i}" for i in range(4)]
    for tid in ids:
        fresh_store.templates.create(tid, "img", id=tid)
    fresh_store.templates.set_default("t0")
    path = str(fresh_store.path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, tid, str(start), "40"], env=env,
                              stderr=subprocess.PIPE, text=True) for tid in ids]
    counts = set()
    while any(p.poll() is None for p in procs):  # every committed state has one default
        counts.add(raw(path, "SELECT count(*) FROM sandbox_templates WHERE is_default")[0][0])
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read()
    assert counts == {1}
    assert raw(path, "SELECT count(*) FROM sandbox_templates WHERE is_default")[0][0] == 1


def test_create_a_sandbox_from_a_template_is_audited_and_counted(fresh_store):
    t = fresh_store.templates.create(
        "Data science", "jupyter/scipy-notebook", id="ds", config={"workspace_dir": "/work"},
        environment_vars={"JUPYTER": "1"}, resource_limits={"memory": "4g"},
        pre_installed_packages=["numpy"], tags=["data"])
    sb = fresh_store.templates.create_sandbox("ds", sandbox_id="sb-1", user_id="ann")
    assert sb.status == "creating" and sb.working_dir == "/work" and sb.environment == {"JUPYTER": "1"}
    assert sb.config["image"] == "jupyter/scipy-notebook" and sb.config["template_id"] == "ds"
    assert sb.config["resource_limits"] == {"memory": "4g"}
    assert sb.metadata["template_name"] == "Data science"
    after = fresh_store.templates.get("ds")
    assert after.usage_count == 1 and after.stamp == t.stamp  # a use is not an edit
    audit = fresh_store.sandboxes.audit("sb-1")
    assert [(a.action, a.user_id) for a in audit] == [("create", "ann")]
    assert audit[0].metadata["template_id"] == "ds" and audit[0].new_data["id"] == "sb-1"
    with pytest.raises(errors.InvalidInput):  # the id is taken: nothing is counted
        fresh_store.templates.create_sandbox("ds", sandbox_id="sb-1")
    assert fresh_store.templates.get("ds").usage_count == 1
    with pytest.raises(errors.NotFound):
        fresh_store.templates.create_sandbox("nope")


def test_go_fixture_templates_read_and_write(go_store):
    assert go_store.templates.list() == []
    go_store.templates.create("Go", "golang:1.22", id="g", is_default=True)
    go_store.templates.create_sandbox("g", sandbox_id="from-go-template")
    go_store.close()
    with open_store(go_store.path, read_only=True) as again:
        assert again.templates.get("g").usage_count == 1
        assert again.sandboxes.get("from-go-template").config["image"] == "golang:1.22"
    row = raw(go_store.path, "SELECT new_data FROM audit_trail WHERE entity_id='from-go-template'")
    assert json.loads(row[0][0])["status"] == "creating"
