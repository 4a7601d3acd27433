"""A deterministic, realistic demo database (``sandbox-admin demo``, first run of the app).

Same ``seed`` and ``now`` → the same content (:func:`content_digest`); ``now`` defaults
to the start of the current UTC hour, so the data always ends "recently".

What is in it, by default: 50 sandboxes in every state (some soft-deleted, one
recovered), each with a Go-shaped audit trail (create, status updates, checkpoints,
delete/recover) and checkpoints merged into recovery_data; ~500 files of real-looking
code and text through :class:`FileStore` (content-defined chunks, so identical files
and growing versions share chunks; a few metadata-only rows as the Go server writes
them; parent_file_id version chains; some soft-deleted); ~150,000 raw metric samples
of every type (counter, gauge, histogram, summary) over two weeks through
:class:`MetricsStore`, plus a few of the Go server's own ``1h`` rollup rows; sandbox
templates (one default), ~64 workflow runs with their steps (failed, retried, running
ones too) and a warm file content cache (:mod:`activity`).

Rows the stores stamp with the current time get their demo times afterwards, so the
result does not depend on when it was generated.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import peewee

from ..storage import (
    COLUMNS,
    SandboxRecord,
    Store,
    create_store,
    dumps_json,
    errors,
    partial_path,
    publish_new,
    remove_stale_partials,
    rfc3339,
    trusted_schema,
    utcnow,
)
from . import activity
from . import content as demo_content

DEFAULT_SEED = 1
DEFAULT_SANDBOXES = 50
DEFAULT_FILES = 500
DEFAULT_METRICS = 100_000
DAYS = 14

Progress = Callable[[int, int, str], None]

#: (final status, share)
STATUS_MIX = (("running", 0.36), ("stopped", 0.24), ("failed", 0.1), ("creating", 0.08),
              ("paused", 0.08), ("error", 0.06), ("stopping", 0.04), ("starting", 0.04))
KINDS = {
    "python": ("python:3.11-slim", "/app", "python main.py"),
    "node": ("node:20-bookworm-slim", "/home/sandbox/project", "npm start"),
    "go": ("golang:1.22-alpine", "/workspace", "go run ./..."),
    "data": ("jupyter/scipy-notebook:2024-05-27", "/home/jovyan/work", "jupyter lab --ip=0.0.0.0"),
}
HOSTS = ("node-a", "node-b", "node-c")
TEAMS = ("web", "infra", "ml", "data", "platform")
CHECKPOINT_REASONS = ("before risky exec", "scheduled", "manual", "before upgrade", "nightly")


def default_now() -> datetime:
    return utcnow().replace(minute=0, second=0, microsecond=0)


@dataclass
class _Sandbox:
    state: dict[str, Any]
    kind: str
    project: str
    ran: bool  # has a container and data
    start: datetime  # running from
    end: datetime  # data until
    deleted_at: datetime | None = None
    restarts: list[datetime] = field(default_factory=list)


@dataclass
class _Audit:
    time: datetime
    entity_id: str
    action: str
    old: str
    new: str
    user_id: str
    metadata: str


class _Clock:
    """Random instants, in microseconds, deterministic per rng."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def between(self, a: datetime, b: datetime) -> datetime:
        span = max(0, int((b - a).total_seconds() * 1_000_000))
        return a + timedelta(microseconds=self.rng.randint(0, span))


# == entry points =====================================================================

def create_demo(path: str | Path, *, seed: int = DEFAULT_SEED, sandboxes: int = DEFAULT_SANDBOXES,
                files: int = DEFAULT_FILES, metrics: int = DEFAULT_METRICS,
                now: datetime | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Write a new demo database at ``path`` (which must not exist); returns row counts."""
    p = Path(path).expanduser()
    if p.exists():
        raise errors.InvalidInput(f"{p} already exists; the demo writes a new database. "
                                  "Choose another path or remove the file.")
    for name, value in (("sandboxes", sandboxes), ("files", files), ("metrics", metrics)):
        if value < 0:
            raise errors.InvalidInput(f"--{name} must be 0 or more, not {value}.")
    # Built under a private name and given its name only when complete: a killed demo
    # leaves no plausible half-database in the way (its leftovers go at the next run).
    if p.parent.is_dir():
        remove_stale_partials(p.parent)
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
    building = partial_path(p)
    store = None
    try:
        store = create_store(building)
        populate(store, seed=seed, sandboxes=sandboxes, files=files, metrics=metrics, now=now,
                 progress=progress)
        counts = store.row_counts()
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        publish_new(building, p)
    except BaseException as exc:
        if store is not None:
            store.close()
        for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            leftover.unlink(missing_ok=True)
        if isinstance(exc, errors.NotEnoughSpace):  # the name asked for, not the private one
            raise errors.disk_full(p, detail=exc.detail) from exc
        raise
    return counts


def populate(store: Store, *, seed: int = DEFAULT_SEED, sandboxes: int = DEFAULT_SANDBOXES,
             files: int = DEFAULT_FILES, metrics: int = DEFAULT_METRICS,
             now: datetime | None = None, progress: Progress | None = None) -> None:
    """Fill an empty database at the latest schema with demo data."""
    store.require_writable()
    now = now or default_now()
    rng = random.Random(seed)
    report = progress or (lambda done, total, message: None)
    report(0, 4, "sandboxes and audit trail")
    plans, audits = _plan_sandboxes(rng, sandboxes, now)
    with store.transaction():
        _write_sandboxes(store, plans, audits)
        activity.write_templates(store, rng, now)
        activity.write_workflows(store, rng, [(p.state["id"], p.start, p.end, p.state["status"])
                                              for p in plans if p.ran], now)
        report(1, 4, "files")
        _write_files(store, rng, plans, files, now)
        activity.write_cache(store, rng, now)
        _finish_deletes(store, plans)
    report(2, 4, "metrics")
    _write_metrics(store, rng, plans, metrics, now)
    report(4, 4, "done")


def content_digest(store: Store) -> str:
    """sha256 over every row of every data table (the migrations' own tables aside)."""
    skip = {"migrations", "admin_migrations"}
    digest = hashlib.sha256()
    for name in sorted(store.table_names()):
        if name in skip or name.startswith("sqlite_") or name == "file_search_fts":
            continue
        cols = [r[1] for r in store.db.execute_sql("SELECT * FROM pragma_table_info(?)", (name,))]
        table = peewee.Table(name)
        columns = [peewee.Column(table, c) for c in cols]
        query = table.select(*columns).order_by(*columns)  # a total order, rowid or not
        digest.update(name.encode())
        for row in query.bind(store.db).tuples().iterator():
            digest.update(repr(row).encode())
    return digest.hexdigest()


# == sandboxes and their audit trail ==================================================

def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _statuses(n: int) -> list[str]:
    out: list[str] = []
    for status, share in STATUS_MIX:
        out += [status] * max(1 if n >= len(STATUS_MIX) else 0, round(n * share))
    out = (out + ["running"] * n)[:n]
    return out


def _environment(rng: random.Random, kind: str, sid: str) -> dict[str, str] | None:
    if rng.random() < 0.15:
        return None  # Go's absent map: the text null
    env = {"HOME": "/root", "LANG": "C.UTF-8", "SANDBOX_ID": sid,
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    extra = {"python": {"PYTHONUNBUFFERED": "1"}, "node": {"NODE_ENV": "production"},
             "go": {"GOPATH": "/go", "CGO_ENABLED": "0"}, "data": {"OMP_NUM_THREADS": "2"}}[kind]
    env.update(extra)
    if rng.random() < 0.3:
        env["DATABASE_URL"] = f"postgres://app:s3cr%40t@db:5432/app?sslmode=disable&pool={rng.randint(1, 9)}"
    if rng.random() < 0.2:
        env["GREETING"] = "héllo wörld ✓ <b>&</b>"
    return env


def _config(rng: random.Random, kind: str) -> dict[str, Any]:
    image, workdir, command = KINDS[kind]
    return {
        "command": command, "cpu_shares": round(rng.uniform(0.05, 1.0), 2),
        "enable_logging": rng.random() < 0.5, "enable_recovery": rng.random() < 0.4,
        "image": image,
        "mounts": [{"destination": "/data", "options": ["rbind", "ro"],
                    "source": "/srv/shared/datasets", "type": "bind"}],
        "network_mode": rng.choice(("bridge", "host", "none")),
        "resources": {"cpu_limit": rng.choice(("0.5", "1", "2")),
                      "disk_limit": rng.choice(("1g", "5g", "10g")),
                      "memory_limit": rng.choice(("512m", "1g", "2g"))},
        "timeout_seconds": rng.choice((300, 600, 1440, 3600)), "workspace_dir": workdir,
    }


def _metadata(rng: random.Random, kind: str) -> dict[str, Any] | None:
    if rng.random() < 0.12:
        return None
    return {
        "created_by": rng.choice(("mcp-client", "api", "cli")),
        "labels": {"team": rng.choice(TEAMS), "tier": rng.choice(("dev", "staging", "prod"))},
        "owner": f"user-{rng.randint(1, 20)}",
        "tags": sorted(rng.sample(["demo", kind, "gpu", "batch", "web", "ml", "nightly"], 2)),
        "note": rng.choice(("plain note", "Données d'entraînement", "uses <b>&</b> in output",
                            "migrated from staging", "")),
    }


def _record(state: dict[str, Any]) -> SandboxRecord:
    return SandboxRecord(**{k: state[k] for k in COLUMNS}, raw_times={})


def _plan_sandboxes(rng: random.Random, n: int, now: datetime) -> tuple[list[_Sandbox], list[_Audit]]:
    clock = _Clock(rng)
    statuses = _statuses(n)
    rng.shuffle(statuses)
    deleted = set(rng.sample(range(n), k=min(n, max(0, round(n * 0.12)))))
    recovered = set(rng.sample(sorted(set(range(n)) - deleted), k=min(2, n - len(deleted))))
    checkpointed = set(rng.sample(range(n), k=min(n, round(n * 0.25))))
    plans: list[_Sandbox] = []
    audits: list[_Audit] = []
    for i, final in enumerate(statuses):
        sid = _uuid(rng)
        kind = rng.choice(tuple(KINDS))
        old_enough = i < max(1, n // 4)  # a quarter live for the whole two weeks
        created = clock.between(now - timedelta(days=DAYS), now - timedelta(days=DAYS - 1)) if old_enough \
            else clock.between(now - timedelta(days=DAYS), now - timedelta(hours=2))
        state: dict[str, Any] = {
            "id": sid, "container_id": "", "status": "creating", "working_dir": KINDS[kind][1],
            "environment": _environment(rng, kind, sid), "created_at": created,
            "updated_at": created, "config": _config(rng, kind), "metadata": _metadata(rng, kind),
            "version": 1, "deleted_at": None, "recovery_data": None,
            "cpu_usage_seconds": 0.0, "memory_usage_bytes": 0, "disk_usage_bytes": 0,
            "network_rx_bytes": 0, "network_tx_bytes": 0, "last_resource_update": None,
        }
        plan = _Sandbox(state, kind, f"{rng.choice(demo_content.VERBS)}_{rng.choice(demo_content.WORDS)}_{i}",
                        ran=final not in ("creating", "error"), start=created, end=created)
        plans.append(plan)
        audits.append(_Audit(created, sid, "create", "", dumps_json(_record(state).snapshot()), "", ""))
        t = created

        def change(action: str, when: datetime, user: str = "", **values: Any) -> None:
            old = _record(state).snapshot()
            state.update(values, updated_at=when, version=state["version"] + 1)
            audits.append(_Audit(when, sid, action, dumps_json(old),
                                 dumps_json(_record(state).snapshot()), user, ""))

        horizon = now - timedelta(minutes=5)
        if plan.ran:
            t = clock.between(t + timedelta(seconds=5), min(horizon, t + timedelta(minutes=3)))
            change("update", t, status="running", container_id=f"sandbox-{sid[:8]}")
            plan.start = t
        if final in ("stopped", "failed", "paused", "stopping"):
            t = clock.between(t + (horizon - t) * 0.4, horizon)
            extra: dict[str, Any] = {}
            if final == "failed":
                extra["recovery_data"] = {"last_exit_code": rng.choice((1, 137, 139)),
                                          "oom_killed": rng.random() < 0.5,
                                          "restart_count": rng.randint(1, 4)}
            change("update", t, status=final, **extra)
        elif final in ("error", "starting"):
            t = clock.between(t, min(horizon, t + timedelta(minutes=10)))
            change("update", t, status=final)
        if plan.ran:
            plan.end = t if final in ("stopped", "failed") else now
            if plan.end - plan.start > timedelta(days=2) and rng.random() < 0.5:
                plan.restarts.append(clock.between(plan.start + (plan.end - plan.start) * 0.3,
                                                   plan.end - (plan.end - plan.start) * 0.3))
        if rng.random() < 0.2 and state["metadata"]:
            t = clock.between(t, min(horizon, t + timedelta(hours=6)))
            meta = dict(state["metadata"])
            meta["labels"] = {**meta["labels"], "tier": "prod"}
            change("update", t, user=f"user-{rng.randint(1, 20)}", metadata=meta)
        if i in checkpointed and plan.ran:
            for _ in range(rng.randint(1, 3)):
                t = clock.between(t, min(horizon, t + timedelta(hours=12)))
                reason = rng.choice(CHECKPOINT_REASONS)
                data = None if rng.random() < 0.2 else {
                    "file_count": rng.randint(3, 80), "memory_mb": round(rng.uniform(50, 900), 2),
                    "processes": [{"cmd": "/sbin/tini -- " + KINDS[kind][2], "pid": 1}],
                    "snapshot_id": f"snap-{rng.getrandbits(32):08x}", "workspace_dir": KINDS[kind][1],
                }
                merged = dict(state["recovery_data"] or {})
                merged.update(checkpoint_data=data, checkpoint_reason=reason,
                              checkpoint_time=rfc3339(t))
                state.update(recovery_data=merged, updated_at=t, version=state["version"] + 1)
                audits.append(_Audit(t, sid, "checkpoint", "", dumps_json(data), "",
                                     dumps_json({"action": "checkpoint", "reason": reason})))
        if i in deleted or i in recovered:
            t = clock.between(t, horizon)
            change("delete", t, deleted_at=t)
            if i in recovered:
                t = clock.between(t, horizon)
                change("recover", t, user="admin", deleted_at=None)
        if plan.ran:  # resource usage (the Go server updates it without an audit entry)
            hours = max(0.1, (plan.end - plan.start).total_seconds() / 3600)
            state.update(
                cpu_usage_seconds=round(hours * rng.uniform(30, 900), 3),
                memory_usage_bytes=rng.randint(64, 2048) * 1024 * 1024,
                disk_usage_bytes=rng.randint(10, 4000) * 1024 * 1024,
                network_rx_bytes=int(hours * rng.randint(1, 50) * 1024 * 1024),
                network_tx_bytes=int(hours * rng.randint(1, 20) * 1024 * 1024),
                last_resource_update=min(plan.end, now - timedelta(seconds=rng.randint(5, 600))),
            )
        plan.deleted_at = state["deleted_at"]
    audits.sort(key=lambda a: a.time)
    return plans, audits


def _write_sandboxes(store: Store, plans: list[_Sandbox], audits: list[_Audit]) -> None:
    S, A = store.models.Sandbox, store.models.AuditEntry
    rows = []
    for plan in plans:
        row = dict(plan.state)
        if plan.deleted_at is not None:  # files are added first; deleted after (_finish_deletes)
            row.update(deleted_at=None, updated_at=None)
        rows.append(row)
    for start in range(0, len(rows), 100):
        S.insert_many(rows[start:start + 100]).execute()
    audit_rows = [
        {A.entity_type: "sandbox", A.entity_id: a.entity_id, A.action: a.action, A.old_data: a.old,
         A.new_data: a.new, A.user_id: a.user_id, A.timestamp: a.time, A.metadata: a.metadata}
        for a in audits
    ]
    for start in range(0, len(audit_rows), 200):
        A.insert_many(audit_rows[start:start + 200]).execute()


def _finish_deletes(store: Store, plans: list[_Sandbox]) -> None:
    S = store.models.Sandbox
    for plan in plans:
        if plan.deleted_at is not None:  # NULL -> value: the updated_at trigger stays quiet
            S.update({S.deleted_at: plan.deleted_at, S.updated_at: plan.state["updated_at"]}).where(
                S.id == plan.state["id"]).execute()


# == files ==============================================================================

@dataclass
class _FilePlan:
    sandbox: _Sandbox
    path: str
    content: bytes
    created: datetime
    shared: bool = False


def _file_plans(rng: random.Random, plans: list[_Sandbox], target: int, now: datetime) -> list[_FilePlan]:
    clock = _Clock(rng)
    hosts = [p for p in plans if p.ran]
    if not hosts or target <= 0:
        return []
    reference_csv = demo_content.csv_data(random.Random(rng.random()), 2400).encode()
    out: list[_FilePlan] = []
    budget = int(target * 0.85)
    round_ = 0
    while len(out) < budget:
        for plan in hosts:
            if len(out) >= budget:
                break
            base = plan.state["working_dir"]
            when = lambda: clock.between(plan.start, min(plan.end, now))  # noqa: E731
            items: list[tuple[str, bytes, bool]] = []
            if round_ == 0:
                items += [(rel, data, False) for rel, data in demo_content.project_files(rng, plan.kind, plan.project)]
                if rng.random() < 0.6:
                    items.append(("LICENSE", demo_content.MIT_LICENSE.encode(), True))
                if plan.kind in ("python", "data"):
                    items.append(("vendor/retry.py", demo_content.RETRY_PY.encode(), True))
                if plan.kind == "data" or rng.random() < 0.12:
                    items.append(("data/reference.csv", reference_csv, True))
            else:  # later rounds: more modules, logs, assets
                pick = rng.random()
                if pick < 0.5:
                    name = f"{rng.choice(demo_content.WORDS)}_{round_}"
                    gen = {"python": (f"lib/{name}.py", demo_content.python_module),
                           "data": (f"notebooks/{name}.py", demo_content.python_module),
                           "node": (f"src/lib/{name}.js", demo_content.js_module),
                           "go": (f"pkg/{name}.go", demo_content.go_file)}[plan.kind]
                    items.append((gen[0], gen[1](rng, name).encode(), False))
                elif pick < 0.7:
                    items.append((f"logs/app-{round_}.log",
                                  demo_content.log_lines(rng, rng.randint(200, 2500)).encode(), False))
                elif pick < 0.85:
                    items.append((f"assets/chart-{round_}.png", demo_content.png_image(rng), False))
                else:
                    items.append((f"models/weights-{round_}.bin",
                                  demo_content.binary_blob(rng, rng.randint(8_000, 150_000)), False))
            for rel, data, shared in items:
                out.append(_FilePlan(plan, f"{base}/{rel}", data, when(), shared))
        round_ += 1
    return out[:budget]


def _next_version(rng: random.Random, content: bytes, path: str) -> bytes:
    text = content.decode("utf-8", errors="replace")
    if path.endswith(".log"):
        return (text + demo_content.log_lines(rng, rng.randint(50, 600), start=10_000)).encode()
    if path.endswith(".csv"):
        return (text + demo_content.csv_data(rng, rng.randint(20, 200)).split("\n", 1)[1]).encode()
    lines = text.splitlines()
    if lines:
        at = rng.randrange(len(lines))
        lines[at] = lines[at] + ("  # tuned" if path.endswith(".py") else "")
    lines.append({"py": f"# {rng.choice(demo_content.PHRASES)}", "js": "// revised",
                  "go": "// revised", "md": f"- {rng.choice(demo_content.PHRASES)}"}.get(
        path.rsplit(".", 1)[-1], rng.choice(demo_content.PHRASES)))
    return ("\n".join(lines) + "\n").encode()


def _write_files(store: Store, rng: random.Random, plans: list[_Sandbox], target: int, now: datetime) -> None:
    clock = _Clock(rng)
    fs = store.files
    FM, FC = store.models.FileMetadata, store.models.FileChunk
    base = _file_plans(rng, plans, target, now)
    fixes: list[dict[str, Any]] = []  # per file id: its demo times and state

    def put(plan: _FilePlan, parent: int | None, created: datetime) -> int:
        text = plan.path.rsplit(".", 1)[-1] in ("py", "js", "go", "md", "txt", "yaml", "json", "csv", "log", "html")
        if text and not plan.shared and rng.random() < 0.08:  # as Go often stores them: metadata only
            record = fs.create(plan.sandbox.state["id"], plan.path, None,
                               search_content=plan.content[:4096].decode("utf-8", "replace"),
                               size_bytes=len(plan.content), parent_file_id=parent,
                               metadata={"encoding": "utf-8", "owner": "sandbox"})
        else:
            lines = plan.content.count(b"\n")
            meta = {"encoding": "utf-8", "lines": lines, "owner": "sandbox",
                    "permissions": rng.choice(("0644", "0600", "0755"))} if text else {"owner": "sandbox"}
            record = fs.create(plan.sandbox.state["id"], plan.path, plan.content,
                               parent_file_id=parent, metadata=meta)
        updated = clock.between(created, min(plan.sandbox.end, now)) if rng.random() < 0.3 else created
        accessed = rng.random() < 0.35
        fixes.append({
            "id": record.id, "created_at": created, "updated_at": updated,
            "version": 2 if rng.random() < 0.03 else 1,
            "access_count": rng.randint(1, 40) if accessed else 0,
            "last_accessed": clock.between(updated, now) if accessed else None,
            "deleted_at": clock.between(updated, now) if rng.random() < 0.04 else None,
        })
        return record.id

    for plan in base:
        put(plan, None, plan.created)
    # version chains: new rows whose parent_file_id is the previous version
    textual = [i for i, p in enumerate(base) if not p.shared and p.path.rsplit(".", 1)[-1]
               in ("py", "js", "go", "md", "log", "csv", "yaml")]
    ids = [f["id"] for f in fixes]
    while len(fixes) < target and textual:
        i = rng.choice(textual)
        plan = base[i]
        parent, content, when = ids[i], plan.content, plan.created
        for _ in range(rng.randint(1, 3)):
            if len(fixes) >= target:
                break
            content = _next_version(rng, content, plan.path)
            when = clock.between(when, min(plan.sandbox.end, now))
            version = _FilePlan(plan.sandbox, plan.path, content, when)
            parent = put(version, parent, when)
        textual.remove(i)
    if not fixes:
        return
    with trusted_schema(store):  # file_metadata's triggers keep the FTS index in step
        for fix in fixes:
            FM.update({getattr(FM, k): v for k, v in fix.items() if k != "id"}).where(FM.id == fix["id"]).execute()
    # chunks were stamped "now" by the store: give them the time of their first file
    first_use = (FM.select(store.models.FileChunkRef.chunk, FM.created_at)
                 .join(store.models.FileChunkRef, on=(store.models.FileChunkRef.file == FM.id))
                 .order_by(FM.id).tuples())
    seen: dict[str, Any] = {}
    for chunk, created in first_use:
        seen.setdefault(chunk, created)
    for chunk, created in seen.items():
        FC.update({FC.created_at: created}).where(FC.chunk_hash == chunk).execute()


# == metrics ==============================================================================

def _series_for(plan: _Sandbox) -> list[tuple[str, str, dict[str, str] | None]]:
    cid = plan.state["container_id"]
    host = HOSTS[int(plan.state["id"][:2], 16) % len(HOSTS)]
    return [
        ("cpu_usage", "gauge", {"container": cid, "host": host}),
        ("memory_bytes", "gauge", {"container": cid, "host": host}),
        ("requests_total", "counter", {"method": "GET", "path": "/api/v1/files", "status": "200"}),
        ("requests_total", "counter", {"method": "POST", "path": "/api/v1/exec", "status": "200"}),
        ("request_latency_seconds", "histogram", {"endpoint": "/api/v1/exec", "method": "POST"}),
        ("response_size_bytes", "summary", {"endpoint": "/api/v1/files"}),
        ("sandbox_up", "gauge", None),
    ]


def _samples(rng: random.Random, plans: list[_Sandbox], target: int, now: datetime) -> Iterator[Any]:
    from ..storage import Sample

    live = [p for p in plans if p.ran and p.end > p.start]
    if not live or target <= 0:
        return
    n_series = len(_series_for(live[0]))
    span = sum(max(0.0, (min(p.end, now) - max(p.start, now - timedelta(days=DAYS))).total_seconds())
               for p in live)
    step = max(60.0, span * n_series / target)
    for plan in live:
        sid = plan.state["id"]
        begin = max(plan.start, now - timedelta(days=DAYS))
        end = min(plan.end, now)
        count = int((end - begin).total_seconds() // step)
        if count <= 0:
            continue
        base_cpu = rng.uniform(5, 60)
        base_mem = rng.uniform(150, 1500) * 1024 * 1024
        rate_get, rate_post = rng.uniform(0.05, 3), rng.uniform(0.01, 1)
        totals = [0.0, 0.0]
        restart = plan.restarts[0] if plan.restarts else None
        latency_mu = math.log(rng.uniform(0.02, 0.3))
        series = _series_for(plan)
        for k in range(count):
            t = begin + timedelta(seconds=k * step + rng.uniform(0, step * 0.2))
            day = math.sin((t.hour + t.minute / 60) / 24 * 2 * math.pi)
            if restart is not None and t >= restart:
                totals = [0.0, 0.0]  # a counter reset: the container restarted
                restart = None
            totals[0] += max(0.0, rate_get * step * (1 + 0.5 * day) * rng.uniform(0.7, 1.3))
            totals[1] += max(0.0, rate_post * step * (1 + 0.5 * day) * rng.uniform(0.7, 1.3))
            values = (
                round(min(100.0, max(0.0, base_cpu * (1 + 0.6 * day) + rng.gauss(0, 4))), 2),
                float(int(base_mem * (1 + 0.1 * day) + rng.gauss(0, 20e6))),
                float(round(totals[0])),
                float(round(totals[1])),
                round(rng.lognormvariate(latency_mu, 0.6), 6),
                float(int(rng.lognormvariate(8.5, 1.0))),
                1.0 if rng.random() > 0.01 else 0.0,
            )
            for (name, typ, labels), value in zip(series, values):
                yield Sample(name, value, typ, labels, sid, t)


def _write_metrics(store: Store, rng: random.Random, plans: list[_Sandbox], target: int, now: datetime) -> None:
    if target <= 0:
        return
    store.metrics.record_batch(_samples(rng, plans, target, now))
    # a few of the Go server's own hourly rollups (kept apart from raw data by every chart)
    M = store.models.Metric
    rows = []
    for plan in plans:
        if not plan.ran or plan.end < now - timedelta(hours=1):
            continue
        for hours in range(1, 7):
            at = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
            rows.append({M.metric_name: "cpu_usage", M.metric_type: "gauge",
                         M.labels: {"container": plan.state["container_id"]},
                         M.value: round(rng.uniform(5, 70), 2), M.timestamp: at,
                         M.sandbox_id: plan.state["id"], M.aggregation_period: "1h"})
    with store.transaction():
        for start in range(0, len(rows), 200):
            M.insert_many(rows[start:start + 200]).execute()
