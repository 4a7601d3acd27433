"""Several processes update one sandbox at once through optimistic locking.

Each worker process opens its own store. In lock-step rounds every worker reads the
same version and then all update at once (a barrier), so exactly one wins per round
and the others must get VersionConflict. Then the workers run freely, retrying on
conflict, until each has landed its share. Every update appends the worker's token to
``metadata.log``: a lost update would show as a token missing from the final log.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from sandbox_admin.storage import create_store, errors, open_store

WORKERS = 4
ROUNDS = 4
FREE_UPDATES = 8  # per worker
SANDBOX = "shared-sandbox"


def _append(store, token: str) -> tuple[bool, int]:
    """One attempt: read, then update at the version read. (landed, version tried)."""
    record = store.sandboxes.get(SANDBOX)
    log = list((record.metadata or {}).get("log", []))
    try:
        store.sandboxes.update(SANDBOX, record.version, metadata={"log": [*log, token]},
                               user_id=token.split(":")[0])
        return True, record.version
    except errors.VersionConflict as conflict:
        assert conflict.current is not None and conflict.current.version > record.version
        return False, record.version


def _worker(path: str, name: str, barrier, results) -> None:
    landed: list[str] = []
    conflicts = 0
    with open_store(path) as store:
        for round_ in range(ROUNDS):  # lock-step: everyone reads the same version
            record = store.sandboxes.get(SANDBOX)
            barrier.wait(timeout=60)
            token = f"{name}:r{round_}"
            log = list((record.metadata or {}).get("log", []))
            try:
                store.sandboxes.update(SANDBOX, record.version, metadata={"log": [*log, token]},
                                       user_id=name)
                landed.append(token)
            except errors.VersionConflict as conflict:
                assert conflict.current.version > record.version
                conflicts += 1
            barrier.wait(timeout=60)  # nobody reads the next round before all wrote
        n = 0
        while n < FREE_UPDATES:  # free for all, retry on conflict
            token = f"{name}:f{n}"
            ok, _ = _append(store, token)
            if ok:
                landed.append(token)
                n += 1
            else:
                conflicts += 1
    results.put((name, landed, conflicts))


def test_concurrent_processes_never_lose_an_update(tmp_path: Path):
    path = tmp_path / "shared.db"
    with create_store(path) as store:
        store.sandboxes.create(SANDBOX, "running", metadata={"log": []})
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(path), f"w{i}", barrier, results))
             for i in range(WORKERS)]
    for p in procs:
        p.start()
    outcome = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    landed = [token for _, tokens, _ in outcome for token in tokens]
    conflicts = sum(c for _, _, c in outcome)
    assert len(landed) == WORKERS * FREE_UPDATES + ROUNDS  # one winner per lock-step round
    assert conflicts >= ROUNDS * (WORKERS - 1)  # every loser of a round got VersionConflict

    with open_store(path, read_only=True) as store:
        final = store.sandboxes.get(SANDBOX)
        updates = store.sandboxes.audit(SANDBOX, actions=["update"], limit=10_000)
    assert final.version == 1 + len(landed)
    assert sorted(final.metadata["log"]) == sorted(landed)  # no lost update
    assert len(updates) == len(landed)  # exactly one audit entry per successful update
    assert [e.new_data["version"] for e in updates] == list(range(2, final.version + 1))
    for entry in updates:
        assert entry.old_data["version"] == entry.new_data["version"] - 1
        token = entry.new_data["metadata"]["log"][-1]
        assert entry.user_id == token.split(":")[0]
        assert entry.old_data["metadata"]["log"] == entry.new_data["metadata"]["log"][:-1]
    assert final.metadata["log"] == [e.new_data["metadata"]["log"][-1] for e in updates]
