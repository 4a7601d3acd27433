"""The demo's templates, workflow runs and content cache, written through the stores.

Templates: one per kind of sandbox people start (python, node, go, data science, …),
one of them the default. Workflow runs over the two weeks: most succeed, some fail at a
step with a real-looking error, some had a step retried (and then passed, or not), a few
still run. The content cache is warm: the files read lately, with their read counts.
Every time comes from the caller's ``rng`` and ``now``, so the content is deterministic.
"""

from __future__ import annotations

import gzip
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from ..storage import Store

#: (id, name, base image, description, config, packages, environment, limits, tags)
TEMPLATES: tuple[tuple[Any, ...], ...] = (
    ("tmpl-python", "Python 3.11", "python:3.11-slim", "Python with pip and a virtualenv in /app",
     {"command": "python main.py", "workspace_dir": "/app", "network": "bridge"},
     ["pip", "virtualenv", "git", "curl"], {"LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"},
     {"cpu_limit": "1", "memory_limit": "1g", "disk_limit": "5g"}, ["python", "starter"]),
    ("tmpl-node", "Node.js 20", "node:20-bookworm-slim", "Node.js 20 with npm and pnpm",
     {"command": "npm start", "workspace_dir": "/home/sandbox/project", "network": "bridge"},
     ["npm", "pnpm", "git"], {"NODE_ENV": "development"},
     {"cpu_limit": "1", "memory_limit": "1g"}, ["javascript", "node", "starter"]),
    ("tmpl-go", "Go 1.22", "golang:1.22-alpine", "Go toolchain with module cache",
     {"command": "go run ./...", "workspace_dir": "/workspace", "network": "bridge"},
     ["git", "make", "gcc"], {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
     {"cpu_limit": "2", "memory_limit": "2g"}, ["go", "starter"]),
    ("tmpl-data", "Data science", "jupyter/scipy-notebook:2024-05-27",
     "JupyterLab with numpy, pandas, scikit-learn and matplotlib",
     {"command": "jupyter lab --ip=0.0.0.0", "workspace_dir": "/home/jovyan/work", "ports": [8888]},
     ["numpy", "pandas", "scikit-learn", "matplotlib", "pyarrow"], {"JUPYTER_ENABLE_LAB": "yes"},
     {"cpu_limit": "4", "memory_limit": "8g", "disk_limit": "20g"}, ["data-science", "jupyter", "python"]),
    ("tmpl-rust", "Rust stable", "rust:1.78-slim", "Rust with cargo and clippy",
     {"command": "cargo run", "workspace_dir": "/workspace", "network": "none"},
     ["cargo", "clippy", "rustfmt"], {"CARGO_TERM_COLOR": "always"},
     {"cpu_limit": "2", "memory_limit": "4g"}, ["rust"]),
    ("tmpl-shell", "Minimal shell", "alpine:3.20", "A small Alpine shell for quick commands",
     {"command": "sh", "workspace_dir": "/root", "network": "none", "read_only_rootfs": True},
     ["bash", "curl", "jq"], None, {"cpu_limit": "0.5", "memory_limit": "256m"}, ["shell", "minimal"]),
)
DEFAULT_TEMPLATE = "tmpl-python"

#: workflow -> steps: (name, typical seconds, the error it fails with)
FLOWS: dict[str, list[tuple[str, float, str]]] = {
    "build-and-test": [
        ("checkout", 4, "fatal: could not read from remote repository"),
        ("install-deps", 45, "ERROR: No matching distribution found for torch==2.9.1"),
        ("build", 60, "error: linker `cc` not found"),
        ("unit-tests", 120, "3 tests failed: test_retry_backoff, test_parse_config, test_upload_resume"),
        ("package", 20, "tar: dist: Cannot stat: No such file or directory"),
    ],
    "nightly-export": [
        ("snapshot", 30, "sqlite3: database is locked"),
        ("export-parquet", 180, "MemoryError while writing row group 12"),
        ("upload-s3", 90, "RequestTimeout: upload of part 7 timed out after 30 s"),
    ],
    "train-model": [
        ("fetch-data", 60, "HTTP 404 for s3://datasets/clicks/2026-11/part-0003.parquet"),
        ("preprocess", 150, "ValueError: could not convert string to float: 'n/a'"),
        ("train", 900, "CUDA out of memory. Tried to allocate 2.00 GiB"),
        ("evaluate", 120, "AssertionError: accuracy 0.61 below threshold 0.75"),
        ("publish", 15, "registry returned 503 Service Unavailable"),
    ],
    "lint": [
        ("ruff", 6, "src/app/models.py:42:5: F841 local variable 'result' is assigned to but never used"),
        ("mypy", 40, "src/app/api.py:118: error: Incompatible return value type (got \"str | None\")"),
    ],
    "deploy-preview": [
        ("build-image", 240, "failed to solve: process \"/bin/sh -c npm ci\" did not complete successfully"),
        ("push-image", 60, "registry returned 503 Service Unavailable"),
        ("deploy", 45, "timed out waiting for rollout of deployment/preview-42"),
        ("smoke-test", 20, "GET /healthz returned 502 after 5 attempts"),
    ],
}
TRANSIENT = ("connection reset by peer", "i/o timeout", "503 Service Unavailable", "context deadline exceeded")
TRIGGERS = ("push", "schedule", "manual", "pull_request")
RUNNERS = ("node-a", "node-b", "node-c")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def write_templates(store: Store, rng: random.Random, now: datetime) -> None:
    for i, (tid, name, image, description, config, packages, env, limits, tags) in enumerate(TEMPLATES):
        created = now - timedelta(days=40 - 3 * i, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        store.templates.create(
            name, image, id=tid, description=description, config=config, pre_installed_packages=packages,
            environment_vars=env, resource_limits=limits, tags=tags, created_by=rng.choice(("admin", "ann", "ops")),
            is_default=tid == DEFAULT_TEMPLATE, now=created)
        T = store.models.SandboxTemplate  # how many sandboxes the server made from it
        T.update(usage_count=max(0, int(rng.gauss(60 / (i + 1), 4)))).where(T.id == tid).execute()


def write_workflows(store: Store, rng: random.Random, sandboxes: list[tuple[str, datetime, datetime, str]],
                    now: datetime, runs: int = 64) -> None:
    """``sandboxes``: (id, running from, data until, status) of the sandboxes that ran."""
    if not sandboxes:
        return
    wf = store.workflows
    live = [s for s in sandboxes if s[3] == "running"] or sandboxes
    for n in range(runs):
        flow = rng.choice(tuple(FLOWS))
        steps = FLOWS[flow]
        still_running = n < 3  # the newest few still run
        sid, start, end, _ = rng.choice(live if still_running else sandboxes)
        pick = rng.random()
        outcome = "completed" if pick < 0.68 else "failed" if pick < 0.86 else "retried"
        durations = [max(1.0, rng.gauss(sec, sec / 4)) for _, sec, _ in steps]
        total = sum(durations) * 1.3 + 60
        if still_running:
            begin = now - timedelta(seconds=rng.uniform(0.2, 0.6) * sum(durations))
        else:
            latest = min(end, now) - timedelta(seconds=total)
            span = max(0, int((latest - start).total_seconds()))
            begin = start + timedelta(seconds=rng.randint(0, span)) if span else latest
        eid = _uuid(rng)
        wf.create(flow, [name for name, _, _ in steps], sandbox_id=sid, id=eid, at=begin,
                  input_data={"branch": rng.choice(("main", "main", "develop", f"feature/{rng.randint(10, 99)}")),
                              "trigger": rng.choice(TRIGGERS)},
                  metadata={"runner": rng.choice(RUNNERS), "attempt": 1})
        fail_at = rng.randrange(len(steps)) if outcome == "failed" else -1
        retry_at = rng.randrange(len(steps)) if outcome == "retried" or (outcome == "failed" and rng.random() < 0.4) else -1
        t = begin + timedelta(seconds=rng.uniform(0.5, 5))
        for order, (name, _, error) in enumerate(steps):
            if still_running and t + timedelta(seconds=durations[order]) >= now:
                wf.start_step(eid, order, at=t)
                break
            wf.start_step(eid, order, at=t)
            if order == retry_at:
                for _attempt in range(rng.randint(1, 2)):
                    t += timedelta(seconds=durations[order] * rng.uniform(0.2, 0.6))
                    wf.finish_step(eid, order, ok=False, error=f"{name}: {rng.choice(TRANSIENT)}", at=t)
                    t += timedelta(seconds=rng.uniform(2, 15))  # the back-off
                    wf.retry_step(eid, order, at=t)
            t += timedelta(seconds=durations[order])
            if order == fail_at:
                wf.finish_step(eid, order, ok=False, error=error, at=t)
                wf.finish(eid, "failed", at=t + timedelta(seconds=rng.uniform(0.1, 2)))
                break
            wf.finish_step(eid, order, output_data={"exit_code": 0}, at=t)
            t += timedelta(seconds=rng.uniform(0.2, 3))
        else:
            wf.finish(eid, "completed", output_data={"artifacts": rng.randint(0, 5), "exit_code": 0}, at=t)


def write_cache(store: Store, rng: random.Random, now: datetime, limit: int = 80) -> None:
    """Cache the files read lately (as the Go server does on a read), with their counts."""
    FM, R = store.models.FileMetadata, store.models.FileChunkRef
    rows = (FM.select(FM.id, FM.created_at, FM.last_accessed, FM.access_count)
            .where(FM.last_accessed.is_null(False) & FM.deleted_at.is_null()
                   & FM.id.in_(R.select(R.file)))
            .order_by(FM.id).limit(limit).tuples())
    C = store.models.FileContentCache
    for fid, created, last, count in list(rows):
        data = store.files.read_content(fid, verify=False)
        compressed = len(data) > 16 * 1024
        span = max(0, int((last - created).total_seconds()))
        cached_at = created + timedelta(seconds=rng.randint(0, span))
        store.cache.put(fid, gzip.compress(data, mtime=0) if compressed else data,
                        compressed=compressed, at=cached_at)
        C.update(access_count=max(1, int(count or 1)), last_accessed=last).where(C.file == fid).execute()
