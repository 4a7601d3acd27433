"""The ``sandbox-admin`` command (../shared/spec/CLI.md).

A thin layer over :mod:`sandbox_admin.storage`: each subcommand is a ``cmd_*``
function that returns a :class:`Result` (the data for ``--json`` and the text for
people). Errors become one line on stderr and an exit status: 0 success, 1 the
operation ran and found a problem or failed, 2 usage error or a file that cannot be
opened as a sandbox database.

Adding a command: write ``cmd_name(args) -> Result`` and ``_add_name(sub)`` that
declares its arguments, and list ``_add_name`` in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__, paths
from .storage import Store, create_store, errors, to_iso
from .storage import open_store as _open_store

PROG = "sandbox-admin"


@dataclass
class Result:
    """What a command produced: ``data`` for ``--json``, ``text`` for people."""

    data: Any
    text: str = ""
    exit_code: int = 0


class UsageError(errors.StorageError):
    exit_code = 2


class ReaderGone(Exception):
    """Whoever reads our standard output stopped reading (``| head``): end quietly."""


class OutputFailed(errors.StorageError):
    """Standard output cannot be written (a full disk, ``> /dev/full``)."""


class _Stdout:
    """Standard output for commands that stream into it: a closed pipe becomes
    :class:`ReaderGone`, any other write error :class:`OutputFailed` (never an error
    blamed on the database)."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except OSError as exc:
            raise _output_error(exc) from exc

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except OSError as exc:
            raise _output_error(exc) from exc


def _output_error(exc: OSError) -> Exception:
    import errno

    if isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.ECONNRESET):
        return ReaderGone()
    return OutputFailed(f"cannot write the output: {exc.strerror or exc}")


#: Largest whole number SQLite stores (row ids, limits).
_MAX_INT = 2**63 - 1


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def open_store(db: str | Path, *, read_only: bool = False) -> Store:
    """Open a database for a command; its backups go to its folder in the user's data folder."""
    store = _open_store(db, read_only=read_only)
    store.backups_dir = paths.backups_dir(store.path)
    return store


def _human_size(n: int) -> str:
    import humanize

    return humanize.naturalsize(n, binary=True)


# -- info -----------------------------------------------------------------------------

def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what this database is")
    p.add_argument("db", help="path to a sandbox database")
    p.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> Result:
    with open_store(args.db, read_only=True) as store:
        info = store.info()
    lines = [
        f"{info['path']}",
        f"  schema version   {info['schema_version']} (this program knows up to "
        f"{info['known_schema_version']})",
        f"  size             {_human_size(info['size_bytes'])} ({info['size_bytes']:,} bytes)",
        f"  journal mode     {info['journal_mode']}",
        f"  SQLite           {info['sqlite_version']}, FTS5 {'yes' if info['fts5'] else 'no'}",
    ]
    if info["pending_migrations"]:
        lines.append(f"  pending          migrations {info['pending_migrations']} "
                     f"(apply with: {PROG} migrate DB)")
    lines.append("")
    lines.append(_table(sorted(info["tables"].items()), ["table", "rows"]))
    for notice in info["notices"]:
        lines.append(f"note: {notice}")
    return Result(info, "\n".join(lines))


# -- migrate --------------------------------------------------------------------------

def _add_migrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending migrations, roll back to N, or list them")
    p.add_argument("db")
    p.add_argument("--to", type=_whole(0, 1_000_000), metavar="N",
                   help="migrate up or down to schema version N")
    p.add_argument("--status", action="store_true", help="only list applied and pending versions")
    p.add_argument("--yes", action="store_true",
                   help="rolling back (down): do not ask for confirmation")
    p.add_argument("--no-backup", action="store_true",
                   help="skip the verified safety backup taken before upgrading or rolling back "
                   "(rolling back: the dropped data is then gone)")
    p.add_argument("--safety-dir", metavar="D",
                   help="where the safety backup goes (default: the database's backups folder)")
    p.set_defaults(func=cmd_migrate)


def _confirm(args: argparse.Namespace, question: str, refusal: str) -> None:
    """A destructive step goes ahead only with ``--yes`` or a "y" typed at a terminal."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{refusal}: add --yes to confirm. Nothing was changed.")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("not confirmed; nothing was changed.")


def cmd_migrate(args: argparse.Namespace) -> Result:
    from .storage import by_version

    safety: Path | None = None  # the safety backup taken before changing the schema
    with open_store(args.db, read_only=args.status) as store:
        done: list[int] = []
        if not args.status:
            if store.read_only:  # newer schema: open_store fell back to read-only
                raise errors.SchemaTooNew(store.notices[0])
            current = store.schema_version()
            if args.to is not None and args.to < current:
                what = ("a reset: every table and all data are dropped" if args.to == 0 else
                        f"tables and columns added after version {args.to} are dropped with "
                        "their data")
                backup = ("no safety backup is taken (--no-backup)" if args.no_backup else
                          "a verified safety backup is taken first")
                _confirm(args, f"Roll {args.db} back from schema version {current} to {args.to}? "
                         f"This is {what}; {backup}.",
                         f"rolling {args.db} back to version {args.to} drops data ({what})")
                done, backup_result = store.migrate_down(args.to, safety_dir=args.safety_dir,
                                                         backup=not args.no_backup)
                safety = backup_result.path if backup_result else None
            elif not store.migration_status().pending or args.no_backup:
                done = store.migrate(args.to)
            else:  # upgrading: a verified safety backup first, unless --no-backup
                upgraded = store.migrate_safely(args.to, safety_dir=args.safety_dir)
                done, safety = upgraded.applied, upgraded.safety_backup
        status = store.migration_status()
    data = status.as_dict() | {"changed": done,
                               "safety_backup": str(safety) if safety else None}
    known = by_version()
    rows = [
        (v, "applied" if v in status.applied else "pending", known[v].description if v in known else "(unknown: newer)")
        for v in sorted(set(status.applied) | set(known))
    ]
    head = f"schema version {status.current}"
    if done:
        head += f" (changed: {', '.join(map(str, done))})"
    text = head + "\n" + _table(rows, ["version", "state", "description"])
    if safety is not None:
        text += f"\nsafety backup of the previous content: {safety}"
    for problem in status.problems:
        text += f"\nproblem: {problem}"
    return Result(data, text, 1 if status.problems else 0)


# -- check ----------------------------------------------------------------------------

def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="integrity, foreign keys, full-text index, migrations")
    p.add_argument("db")
    p.add_argument("--quick", action="store_true", help="quick_check instead of integrity_check")
    p.add_argument("--stats", action="store_true",
                   help="also page, freelist and WAL figures, and rows and bytes per table")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> Result:
    stats = None
    with open_store(args.db, read_only=True) as store:
        report = store.maintenance.check(quick=args.quick)
        if getattr(args, "stats", False):
            stats = store.maintenance.statistics()
    if report.ok:
        text = f"ok ({', '.join(report.checks)})"
    else:
        text = "problems found:\n" + "\n".join(f"  - {p}" for p in report.problems)
        if report.search_index_damaged:
            text += f"\n`sandbox-admin reindex {args.db}` rebuilds the search index"
    data = report.as_dict()
    if stats is not None:
        data["stats"] = stats.as_dict()
        text += (f"\n\npages {stats.page_count:,} x {stats.page_size} B, free pages "
                 f"{stats.freelist_count:,}, WAL {_human_size(stats.wal_bytes)}, journal "
                 f"{stats.journal_mode}\n")
        text += _table([(t.name, "" if t.rows is None else f"{t.rows:,}",
                         "?" if t.bytes is None else _human_size(t.bytes)) for t in stats.tables],
                       ["table", "rows", "bytes"])
    return Result(data, text, 0 if report.ok else 1)


# -- backup, backups, verify, restore, vacuum -------------------------------------------

def _open_for_backup(db: str):  # type: ignore[no-untyped-def]
    """Writable when possible (a normal connection takes the locks that keep the snapshot
    safe against a writing server); read-only when the file or folder is read-only."""
    try:
        return open_store(db)
    except errors.ReadOnly:
        return open_store(db, read_only=True)


def _whole(low: int, high: int = _MAX_INT) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}")
        return value

    parse.__name__ = "whole number"
    return parse


_positive = _whole(1)

#: ``backup --every`` at most (ten years): beyond it a schedule means nothing.
_MAX_HOURS = 10 * 366 * 24


def _hours(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("must be a number of hours more than 0")
    if value > _MAX_HOURS:
        raise argparse.ArgumentTypeError(f"must be at most {_MAX_HOURS:,} hours")
    return value


def _add_backup(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="a consistent online backup, verified")
    p.add_argument("db")
    p.add_argument("--dir", metavar="D", help="backups folder (default: the app's backups folder)")
    p.add_argument("--keep", type=_positive, metavar="N",
                   help="afterwards keep only this database's newest N backups (ours, verified)")
    p.add_argument("--keep-daily", type=_positive, metavar="N",
                   help="...and the newest backup of each of the last N days")
    p.add_argument("--keep-weekly", type=_positive, metavar="N",
                   help="...and the newest backup of each of the last N weeks")
    p.add_argument("--every", type=_hours, metavar="HOURS",
                   help="only if the newest backup is older than HOURS (for cron; exit 0 either way)")
    p.set_defaults(func=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> Result:
    from datetime import timedelta

    from .storage import RetentionPolicy, Schedule

    policy = RetentionPolicy(keep_last=args.keep, keep_daily=args.keep_daily,
                             keep_weekly=args.keep_weekly)
    with _open_for_backup(args.db) as store:
        if args.every is not None:
            for odd in store.backups.future_backups(args.dir):
                _note(f"{odd.path.name} is stamped {to_iso(odd.created_at)}, in the future (a wrong "
                      "clock?); the schedule ignores it")
            schedule = Schedule(timedelta(hours=args.every), policy)
            run = store.backups.run_if_due(schedule, directory=args.dir)
            if not run.ran:
                data = {"skipped": True, "next_due": run.next_due, "path": None, "verified": None}
                return Result(data, f"not due: the newest backup is recent; next one due "
                                    f"{to_iso(run.next_due)}")
            result = run.backup
        else:
            result = store.backups.create(args.dir, keep=policy)
    data = result.as_dict() | {"skipped": False}
    text = (f"backup written: {result.path}\n"
            f"  {_human_size(result.size_bytes)}, schema version {result.schema_version}, "
            f"verified (integrity_check ok), sha256 {result.sha256[:16]}…")
    for path in result.removed:
        text += f"\n  removed (retention): {path.name}"
    return Result(data, text)


def _add_backups(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backups", help="the backups found (ours and the Go server's)")
    p.add_argument("db", help="the database whose backups to mark (the folder is listed whole)")
    p.add_argument("--dir", metavar="D", help="backups folder (default: the app's backups folder)")
    p.set_defaults(func=cmd_backups)


def cmd_backups(args: argparse.Namespace) -> Result:
    import os

    from . import paths
    from .storage import list_backups

    folder = Path(args.dir).expanduser() if args.dir else paths.backups_dir(args.db)
    entries = list_backups(folder)
    mine = os.path.normcase(os.path.abspath(args.db))
    data = []
    rows = []
    for e in entries:
        item = e.as_dict()
        item["this_database"] = (os.path.normcase(os.path.abspath(e.source_path)) == mine
                                 if e.source_path else None)
        data.append(item)
        rows.append((e.path.name, to_iso(e.created_at), _human_size(e.size_bytes),
                     "?" if e.schema_version is None else e.schema_version, e.status,
                     e.kind or e.origin, "; ".join(e.problems)))
    if not entries:
        return Result(data, f"no backups in {folder}")
    text = f"{len(entries)} backups in {folder}\n" + _table(
        rows, ["name", "created (UTC)", "size", "schema", "status", "kind", "problems"])
    return Result(data, text)


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="is this file a sound sandbox database")
    p.add_argument("backup")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> Result:
    from .storage import verify_backup

    report = verify_backup(args.backup)
    if report.ok:
        text = (f"ok: {report.path.name} is a sound sandbox database, schema version "
                f"{report.schema_version}, {_human_size(report.size_bytes)}, sha256 "
                f"{report.sha256[:16]}…")
        if report.checksum_matches:
            text += "\n  matches the checksum recorded when it was made"
        if report.refusal:
            text += f"\n  note: {report.refusal}"
    else:
        text = f"{report.path.name} is not sound:\n" + "\n".join(f"  - {p}" for p in report.problems)
    return Result(report.as_dict(), text, 0 if report.ok else 1)


def _add_restore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="replace DB's content with BACKUP's, after a safety backup")
    p.add_argument("db")
    p.add_argument("backup")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--other-database", action="store_true",
                   help="allow a backup that was made of another database")
    p.add_argument("--safety-dir", metavar="D",
                   help="where the safety backup goes (default: the app's backups folder)")
    p.set_defaults(func=cmd_restore)


def cmd_restore(args: argparse.Namespace) -> Result:
    from .storage import other_users

    busy = other_users(args.db)  # before we open it ourselves
    if busy:
        _note(f"{args.db} is in use ({'; '.join(busy)}): stop the SandboxRunner server before "
              "restoring, or it keeps working on its own idea of the data")
    _confirm(args, f"Replace the content of {args.db} with {args.backup}? "
             "(a safety backup is taken first)",
             f"restore replaces the content of {args.db} (a safety backup of it is taken first)")
    with open_store(args.db) as store:
        try:
            result = store.backups.restore(args.backup, safety_dir=args.safety_dir,
                                           allow_other_database=args.other_database)
        except errors.ConsentRequired as exc:
            if args.other_database or not sys.stdin.isatty() or args.yes:
                raise UsageError(f"{exc} Add --other-database to restore it anyway.") from exc
            args.yes = False
            _confirm(args, f"{exc} Restore it anyway?", str(exc))
            result = store.backups.restore(args.backup, safety_dir=args.safety_dir,
                                           allow_other_database=True)
    lines = [f"restored {args.db} from {result.restored_from} ({result.backup_check})",
             f"  safety backup of the previous content: {result.safety_backup}",
             f"  schema version {result.schema_version}", ""]
    lines.append(_table(sorted(result.tables.items()), ["table", "rows"]))
    lines += [f"note: {n}" for n in result.notices]
    if result.pending_migrations:
        lines.append(f"`sandbox-admin migrate {args.db}` applies the pending migrations")
    return Result(result.as_dict(), "\n".join(lines))


def _add_vacuum(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vacuum", help="VACUUM and optimize")
    p.add_argument("db")
    p.add_argument("--analyze", action="store_true", help="also ANALYZE (reads every index)")
    p.set_defaults(func=cmd_vacuum)


def cmd_vacuum(args: argparse.Namespace) -> Result:
    with open_store(args.db) as store:
        if store.read_only:
            raise errors.SchemaTooNew(store.notices[0])
        report = store.maintenance.vacuum(analyze=args.analyze)
    text = (f"vacuumed {args.db}: {_human_size(report.size_before)} -> "
            f"{_human_size(report.size_after)} ({_human_size(report.bytes_reclaimed)} reclaimed)")
    if not report.checkpoint_complete:
        text += "\nnote: another connection is reading; the file shrinks at its next checkpoint"
    return Result(report.as_dict(), text)


def _add_reindex(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reindex", help="rebuild the full-text search index (or only optimize it)")
    p.add_argument("db")
    p.add_argument("--optimize", action="store_true", help="only merge the index's segments")
    p.set_defaults(func=cmd_reindex)


def cmd_reindex(args: argparse.Namespace) -> Result:
    with open_store(args.db) as store:
        store.require_writable()
        index = store.files.index
        if args.optimize:
            index.optimize()
        else:
            index.rebuild()
        status = index.status()
        check = index.integrity_check()
    done = "optimized" if args.optimize else "rebuilt"
    text = f"{done} the search index: {status.documents} documents for {status.files} files"
    text += "" if check.ok else "\nproblems:\n" + "\n".join(f"  - {p}" for p in check.problems)
    return Result({"status": status.as_dict(), "check": check.as_dict()}, text, 0 if check.ok else 1)


# -- search, export-file ------------------------------------------------------------------

def _add_search(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="full-text search over files, best match first")
    p.add_argument("db")
    p.add_argument("query", help='words (all must match), "a phrase", prefix*, OR, NOT, -word, '
                   "path:NAME, content:WORD")
    p.add_argument("--sandbox", metavar="ID", help="only this sandbox's files")
    p.add_argument("--limit", type=_whole(-_MAX_INT), default=20, metavar="N",
                   help="at most N results (default 20, at most 1000)")
    p.add_argument("--mime", metavar="TYPE", help="only MIME types starting with TYPE, e.g. text/")
    p.add_argument("--path", metavar="PREFIX", help="only paths starting with PREFIX")
    p.add_argument("--deleted", action="store_true", help="include deleted files")
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> Result:
    from .storage import snippet_plain

    if not 1 <= args.limit <= 1000:
        raise UsageError("--limit must be 1 or more (and at most 1000)")
    with open_store(args.db, read_only=True) as store:
        result = store.files.search(
            args.query, sandbox_id=args.sandbox, limit=args.limit, mime_prefix=args.mime,
            path_prefix=args.path, include_deleted=args.deleted,
        )
    if result.message:
        print(f"note: {result.message}", file=sys.stderr)
    rows = [
        {
            "id": h.file_id,
            "sandbox_id": h.sandbox_id,
            "file_path": h.file_path,
            "rank": h.rank,
            "snippet": snippet_plain(h.snippet),
            "mime_type": h.mime_type,
            "size_bytes": h.size_bytes,
            "updated_at": h.updated_at,
            "deleted": h.deleted,
            "index_state": h.index_state,
        }
        for h in result.hits
    ]
    if not rows:
        return Result(rows, "no matches")
    lines = []
    for h, row in zip(result.hits, rows):
        rank = "unranked" if h.rank is None else f"{h.rank:.3f}"
        flags = {"partial": " (only the start is indexed)", "none": " (no searchable text)"}
        lines.append(f"{h.file_id:>7}  {rank:>9}  {h.sandbox_id[:8]}  {h.file_path}"
                     f"{' [deleted]' if h.deleted else ''}{flags.get(h.index_state, '')}")
        if row["snippet"]:
            lines.append(f"{'':>20}{row['snippet'][:160]}")
    if result.has_more:
        lines.append(f"(more results: raise --limit above {args.limit})")
    return Result(rows, "\n".join(lines))


def _add_export_file(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-file", help="write a stored file's reconstructed content")
    p.add_argument("db")
    p.add_argument("file_id", type=_whole(0), help="the file's id (see `search`)")
    p.add_argument("out", help="a file name, or an existing folder: the file goes to FOLDER/<its "
                   "stored path>")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_export_file)


def cmd_export_file(args: argparse.Namespace) -> Result:
    out = Path(args.out)
    with open_store(args.db, read_only=True) as store:
        if out.is_dir():
            done = store.files.export_into(args.file_id, out, overwrite=args.force)
        else:
            done = store.files.export_to_file(args.file_id, out, overwrite=args.force)
    data = done.as_dict() | {"file_id": args.file_id}
    text = f"wrote {done.path} ({done.size_bytes:,} bytes, sha256 {done.sha256})"
    if done.verified is True:
        return Result(data, text + "\nchecksum verified")
    if done.verified is None:
        return Result(data, text + "\nnot verified: the recorded checksum is the server's path hash, "
                      "not a content hash")
    return Result(data, text + f"\nproblem: the content does not match the recorded checksum "
                  f"{done.expected_checksum}; the stored content may be damaged", 1)


# -- sandboxes ------------------------------------------------------------------------

def _add_sandboxes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sandboxes", help="list sandboxes, newest first (soft-deleted ones hidden)")
    p.add_argument("db")
    p.add_argument("--status", action="append", default=[], metavar="S",
                   help="only this status (repeat, or separate with commas)")
    p.add_argument("--deleted", action="store_true", help="show soft-deleted sandboxes too")
    p.add_argument("--limit", type=_positive, default=100, metavar="N",
                   help="at most N sandboxes (default 100)")
    p.set_defaults(func=cmd_sandboxes)


def cmd_sandboxes(args: argparse.Namespace) -> Result:
    from .storage import SandboxFilter

    statuses = frozenset(s.strip() for item in args.status for s in item.split(",") if s.strip())
    flt = SandboxFilter(statuses=statuses, include_deleted=args.deleted)
    with open_store(args.db, read_only=True) as store:
        page = store.sandboxes.page(flt, sort="created_at", descending=True, limit=args.limit)
        total = len(page.rows) if page.next_cursor is None else store.sandboxes.count(flt)
    fields = ("id", "status", "version", "created_at", "updated_at", "deleted_at")
    data = [{name: getattr(r, name) for name in fields} for r in page.rows]
    when = lambda t: "" if t is None else to_iso(t)  # noqa: E731
    rows = [(r.id, r.status, r.version, when(r.created_at), when(r.updated_at), when(r.deleted_at))
            for r in page.rows]
    text = _table(rows, ["id", "status", "version", "created (UTC)", "updated (UTC)", "deleted"])
    text += f"\n{len(rows)} of {total} sandboxes" + ("" if args.deleted else " (soft-deleted hidden)")
    return Result(data, text)


# -- metrics, export-metrics ------------------------------------------------------------

def _cli_time(text: str | None, what: str) -> datetime | None:
    """``2026-11-26 01:00``, ISO 8601, ``now`` or ``now-24h`` (also d, m, s, w)."""
    from datetime import timezone

    from .storage import parse_duration, parse_timestamp, utcnow

    if text is None:
        return None
    value = text.strip().lower()
    if value.startswith("now"):
        rest = value[3:].strip()
        if not rest:
            return utcnow()
        if rest[0] in "+-":
            try:
                delta = parse_duration(rest[1:])
            except errors.StorageError:
                delta = None
            if delta is not None:
                try:
                    return utcnow() - delta if rest[0] == "-" else utcnow() + delta
                except OverflowError:
                    raise UsageError(f"--{what} {text!r} is too far from now") from None
    parsed = parse_timestamp(text)
    if parsed is None or isinstance(parsed, datetime) and parsed.tzinfo is None:
        raise UsageError(f"--{what} {text!r} is not a time; use e.g. 2026-11-26T01:00:00Z, "
                         "'2026-11-26 01:00', now or now-24h")
    return parsed.astimezone(timezone.utc)


def _cli_labels(pairs: Sequence[str]) -> dict[str, str] | None:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--label {pair!r} is not KEY=VALUE")
        labels[key] = value
    return labels or None


_GROUPS = {"series": ("sandbox_id", "labels"), "sandbox": ("sandbox_id",), "labels": ("labels",),
           "none": ()}


def _add_metrics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="aggregated metric series (opens read-only)")
    p.add_argument("db")
    p.add_argument("--name", action="append", default=[], metavar="N",
                   help="metric name (repeat for several; default: every metric)")
    p.add_argument("--sandbox", metavar="ID", help="only this sandbox's samples")
    p.add_argument("--label", action="append", default=[], metavar="K=V",
                   help="only samples whose label K is exactly V (repeatable)")
    p.add_argument("--from", dest="start", metavar="T", help="start (inclusive): a time, now or now-24h")
    p.add_argument("--to", dest="end", metavar="T", help="end (exclusive)")
    p.add_argument("--step", metavar="S", help="bucket size, e.g. 1m, 5m, 1h, 1d, 300 (seconds); "
                   "default: about --points buckets from rollups when they cover the range")
    p.add_argument("--points", type=_positive, default=1000, metavar="N",
                   help="target number of buckets when --step is not given (default 1000)")
    p.add_argument("--group-by", default="series", metavar="G",
                   help="series (default: one line per sandbox and label set), sandbox, labels, "
                   "none, or a label name")
    p.add_argument("--percentiles", action="store_true", help="add p50, p90, p95, p99")
    p.add_argument("--top", type=_positive, metavar="N",
                   help="the fleet view the app charts: per metric, one aggregate series (counters "
                   "summed, others averaged, with min and max across series) and the top N series")
    p.add_argument("--by", choices=("max", "avg", "last"), default="max",
                   help="the statistic --top ranks by (default: max)")
    p.add_argument("--source", choices=("auto", "raw", "rollup"), default="raw",
                   help="with --step: raw samples (exact, default), rollups, or auto")
    p.set_defaults(func=cmd_metrics)


#: A chart read from raw samples slower than this (seconds) suggests building rollups.
SLOW_RAW_S = 1.0


def cmd_metrics(args: argparse.Namespace) -> Result:
    import numpy as np

    from .storage import DEFAULT_STATS, PERCENTILES, fleet_chart, fleet_view, step_seconds

    start, end = _cli_time(args.start, "from"), _cli_time(args.end, "to")
    labels = _cli_labels(args.label)
    group_by = _GROUPS.get(args.group_by, (args.group_by,))
    stats = DEFAULT_STATS + (PERCENTILES if args.percentiles else ())
    step = step_seconds(args.step) if args.step else None
    with open_store(args.db, read_only=True) as store:
        known = store.metrics.names()
        names = args.name or sorted(known)
        missing = [n for n in names if n not in known]
        if missing:
            raise errors.NotFound(
                f"No metric named {', '.join(map(repr, missing))} in {args.db}; it has "
                f"{', '.join(sorted(known)) or 'no metrics'}."
            )
        series = []
        folded: dict[str, int] = {}
        started = time.monotonic()
        for name in names:
            if args.top and step is None and args.group_by == "series" and not labels:
                # folded by SQLite over the rollups when they are built (seconds faster)
                fleet = fleet_chart(store.metrics, name, start, end, args.points, sandbox_id=args.sandbox,
                                    metric_type=known[name], by=args.by, top_n=args.top, stats=stats,
                                    fold_above=args.top)
                if fleet.folded:
                    folded[name] = fleet.folded
                series += fleet.series
                continue
            if step is not None:
                found = store.metrics.aggregate(
                    name, step_seconds=step, start=start, end=end, sandbox_id=args.sandbox,
                    labels=labels, group_by=group_by, stats=stats, source=args.source)
            else:
                found = store.metrics.chart(
                    name, start, end, args.points, sandbox_id=args.sandbox, labels=labels,
                    group_by=group_by, stats=stats)
            if args.top and len(found) > args.top:
                aggregate, _band, top = fleet_view(found, found[0].type, by=args.by, top_n=args.top)
                folded[name] = len(found)
                found = [aggregate, *top]
            series += found
        took = time.monotonic() - started
        if step is None and took > SLOW_RAW_S and any(s.source == "raw" for s in series):
            _note(f"this read every raw sample in range ({took:.1f} s); `sandbox-admin metrics-rollup "
                  f"{shlex.quote(str(args.db))}` builds rollups that answer it in well under a second")
        skipped = _note_unreadable(store, names if args.name else None)
    data = {"series": [s.as_dict() for s in series], "unreadable_rows": skipped}
    if args.top:
        data["fleet"] = {name: {"series": n, "top": args.top, "by": args.by} for name, n in folded.items()}
    rows = []
    for s in series:
        p = s.points
        n = int(p.count.sum())
        total = float((p.sum).sum())
        rows.append((
            s.name, s.type, s.sandbox_id or "", ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())),
            f"{s.step_seconds:g}s", len(p), n, f"{float(p.min.min()):.6g}", f"{float(p.max.max()):.6g}",
            f"{float(np.nanmean(p.avg)):.6g}" if s.name in folded and s.sandbox_id is None
            and s.type != "counter" and len(p) else
            f"{total / n:.6g}" if n and s.type != "counter" else
            (f"{float(p.rate.mean()):.6g}/s" if p.rate is not None else ""),
            s.source,
        ))
    text = _table(rows, ["name", "type", "sandbox", "labels", "step", "points", "samples", "min",
                         "max", "avg (counters: mean rate)", "source"])
    text += f"\n{len(series)} series" + ("" if series else " (no samples in the range)")
    for name, n in folded.items():
        text += (f"\n{name}: {n:,} series folded into the first row (sandbox empty: the fleet), "
                 f"then the top {args.top} by {args.by}")
    return Result(data, text)


def _note_unreadable(store: Store, names: Sequence[str] | None = None) -> list[int]:
    """Tell (on stderr) which metric rows were skipped as unreadable (of the metrics
    ``names``, when the command read only those: their rows, not the whole table); their ids."""
    count, ids = store.metrics.unreadable(names=names)
    if count:
        more = f" and {count - len(ids)} more" if count > len(ids) else ""
        _note(f"{count} unreadable metric rows skipped (a value that is not a number or a "
              f"time out of range): ids {', '.join(map(str, ids))}{more}")
    return ids


def _note(message: str) -> None:
    try:
        print(f"note: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass


def _add_metrics_rollup(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics-rollup", help="bring metric rollups up to date (and apply "
                       "retention); cron-friendly")
    p.add_argument("db")
    p.add_argument("--retention", action="store_true",
                   help="then apply the retention policy: old raw samples are folded into "
                   "rollups before they are deleted, so long-range charts do not change")
    p.set_defaults(func=cmd_metrics_rollup)


def cmd_metrics_rollup(args: argparse.Namespace) -> Result:
    with open_store(args.db) as store:
        store.require_writable()
        built = store.metrics.build_rollups()
        data: dict[str, Any] = {"rollups": built.as_dict(), "unreadable_rows": _note_unreadable(store)}
        text = (f"rolled up {built.samples:,} new samples into {built.rows_written:,} rollup rows "
                f"({built.seconds:.1f} s)")
        if args.retention:
            kept = store.metrics.apply_retention()
            data["retention"] = kept.as_dict()
            go_rows = sum(kept.go_rows_deleted.values())
            text += (f"\nretention: deleted {kept.raw_deleted:,} raw samples, "
                     f"{sum(kept.rollups_deleted.values()):,} rollup rows and {go_rows:,} of the "
                     "Go server's rollup rows past their age")
    return Result(data, text)


def _add_export_metrics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-metrics", help="export raw metric samples (opens read-only)")
    p.add_argument("db")
    p.add_argument("--format", required=True, choices=("json", "csv", "prometheus", "openmetrics"),
                   help="openmetrics: history for `promtool tsdb create-blocks-from openmetrics`")
    p.add_argument("--name", action="append", default=[], metavar="N", help="metric name (repeatable)")
    p.add_argument("--sandbox", metavar="ID", help="only this sandbox's samples")
    p.add_argument("--label", action="append", default=[], metavar="K=V",
                   help="only samples whose label K is exactly V (repeatable)")
    p.add_argument("--from", dest="start", metavar="T", help="start (inclusive)")
    p.add_argument("--to", dest="end", metavar="T", help="end (exclusive)")
    p.add_argument("--period", action="append", default=[], metavar="P",
                   help="raw (default) or the Go server's own 1m, 5m, 1h… rows (repeatable)")
    p.add_argument("--latest", action="store_true",
                   help="prometheus: only each series' newest sample (a scrape's view)")
    p.add_argument("--instance", metavar="NAME",
                   help="openmetrics: add the label instance=NAME to every series (as "
                   "serve-metrics --instance does)")
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file (default: stdout); "
                   "with --json, print a summary of what was written. An existing file is "
                   "replaced, a device or pipe written to; an SQLite database only with --force")
    p.add_argument("--force", action="store_true",
                   help="allow replacing OUT even when it is an SQLite database")
    p.set_defaults(func=cmd_export_metrics)


def cmd_export_metrics(args: argparse.Namespace) -> Result:
    import io

    from .storage import export_metrics as export
    from .storage import output_file

    if args.latest and args.format != "prometheus":
        raise UsageError("--latest only applies to --format prometheus")
    if args.instance is not None and args.format != "openmetrics":
        raise UsageError("--instance only applies to --format openmetrics")
    options: dict[str, Any] = {"latest_only": True} if args.latest else {}
    if args.instance:
        options["labels"] = {"instance": args.instance}
    start, end = _cli_time(args.start, "from"), _cli_time(args.end, "to")
    with open_store(args.db, read_only=True) as store:
        samples = store.metrics.iter_samples(
            args.name or None, sandbox_id=args.sandbox, labels=_cli_labels(args.label),
            start=start, end=end, periods=args.period or ("raw",), order="series")
        _note_unreadable(store, args.name or None)
        if not args.output:
            stdout = _Stdout()
            export(samples, args.format, stdout, **options)
            stdout.flush()
            args.json = False  # the export itself is the output
            return Result(None)
        out = Path(args.output)
        with errors.translated(out, os_errors=True):
            try:
                with output_file(out, overwrite=args.force, overwrite_plain=True) as raw:
                    handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    count = export(samples, args.format, handle, **options)
                    handle.flush()
                    handle.detach()
            except BrokenPipeError:  # -o /dev/stdout into `| head`
                raise ReaderGone() from None
    size = out.stat().st_size if out.is_file() else None
    data = {"path": str(out), "format": args.format, "samples": count, "size_bytes": size}
    if size is None:
        return Result(data, f"wrote {count:,} samples to {out} ({args.format})")
    return Result(data, f"wrote {count:,} samples to {out} ({args.format}, {data['size_bytes']:,} bytes)")


def _add_serve_metrics(sub: argparse._SubParsersAction) -> None:
    from .storage import DEFAULT_LISTEN

    p = sub.add_parser("serve-metrics", help="a read-only Prometheus/OpenMetrics endpoint "
                       "(/metrics) for a live database; runs until stopped")
    p.add_argument("db")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN}, loopback only; "
                   "port 0 picks a free one)")
    p.add_argument("--instance", metavar="NAME",
                   help="add the label instance=NAME to every series (use honor_labels in "
                   "the scrape config to keep it)")
    p.set_defaults(func=cmd_serve_metrics)


def cmd_serve_metrics(args: argparse.Namespace) -> Result:
    import signal
    import threading

    from .storage import MetricsEndpoint

    with open_store(args.db, read_only=True) as store:
        endpoint = MetricsEndpoint(store, args.listen, instance=args.instance,
                                   backups_dir=store.backups_dir)
        endpoint.start()
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            print(f"serving {args.db} at {endpoint.address} (Ctrl+C to stop)", file=sys.stderr,
                  flush=True)
            while not stopping.wait(0.5):
                if not endpoint.running:
                    raise errors.StorageError("the metrics endpoint stopped unexpectedly")
        finally:
            endpoint.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        state = endpoint.state()
    args.json = False
    return Result(None, f"stopped after {state.scrapes:,} scrapes")


# -- demo -----------------------------------------------------------------------------

def _add_demo(sub: argparse._SubParsersAction) -> None:
    from .demo import generator as demo

    p = sub.add_parser("demo", help="write a deterministic demo database")
    p.add_argument("db", help="path of the new database (must not exist)")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="same seed, same content")
    p.add_argument("--sandboxes", type=int, default=demo.DEFAULT_SANDBOXES, metavar="N")
    p.add_argument("--files", type=int, default=demo.DEFAULT_FILES, metavar="N",
                   help="file rows, versions included")
    p.add_argument("--metrics", type=int, default=demo.DEFAULT_METRICS, metavar="N",
                   help="raw metric samples (about)")
    p.add_argument("--now", metavar="T", help="the demo's present (default: this UTC hour); "
                   "with the same seed and --now the content is identical")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> Result:
    from .demo import generator as demo
    from .storage import parse_timestamp

    now = None
    if args.now:
        now = parse_timestamp(args.now)
        if now is None:
            raise UsageError(f"--now {args.now!r} is not a timestamp; use e.g. 2026-11-26 12:00:00")
        if not 1971 <= now.year <= 9000:  # the demo reaches a year back and stays inside datetime
            raise UsageError(f"--now {args.now!r} is out of range: use a time between the years "
                             "1971 and 9000")
    counts = demo.create_demo(args.db, seed=args.seed, sandboxes=args.sandboxes, files=args.files,
                              metrics=args.metrics, now=now)
    data = {"path": str(Path(args.db).expanduser()), "seed": args.seed, "tables": counts}
    text = f"wrote {data['path']} (seed {args.seed})\n" + _table(sorted(counts.items()), ["table", "rows"])
    return Result(data, text)


# -- templates, workflows, workflow, cache ---------------------------------------------

def _add_templates(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("templates", help="sandbox templates: default, uses, image, tags; read-only")
    p.add_argument("db")
    p.set_defaults(func=cmd_templates)


def cmd_templates(args: argparse.Namespace) -> Result:
    with open_store(args.db, read_only=True) as store:
        rows = store.templates.list()
    text = _table([("*" if t.is_default else "", t.id, t.name, t.base_image, t.usage_count,
                    ",".join(t.tags), to_iso(t.updated_at) or "") for t in rows],
                  ["default", "id", "name", "base image", "used", "tags", "updated (UTC)"])
    return Result([t.as_dict() for t in rows], text + f"\n{len(rows)} templates")


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _add_workflows(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflows", help="workflow executions, newest first; read-only")
    p.add_argument("db")
    p.add_argument("--status", action="append", default=[], metavar="S",
                   help="only this status (repeat, or separate with commas)")
    p.add_argument("--sandbox", metavar="ID", help="only runs in this sandbox")
    p.add_argument("--name", metavar="N", help="only this workflow")
    p.add_argument("--from", dest="start", metavar="T", help="started at or after T")
    p.add_argument("--to", dest="end", metavar="T", help="started before T")
    p.add_argument("--limit", type=_positive, default=100, metavar="N",
                   help="at most N executions (default 100)")
    p.set_defaults(func=cmd_workflows)


def cmd_workflows(args: argparse.Namespace) -> Result:
    from .storage import WorkflowFilter

    statuses = frozenset(s.strip() for item in args.status for s in item.split(",") if s.strip())
    flt = WorkflowFilter(statuses=statuses, sandbox_id=args.sandbox, workflow_name=args.name,
                         started_from=_cli_time(args.start, "--from"), started_to=_cli_time(args.end, "--to"))
    with open_store(args.db, read_only=True) as store:
        page = store.workflows.page(flt, limit=min(args.limit, 2000))
        total = len(page.rows) if page.next_cursor is None else store.workflows.count(flt)
    rows = [(r.id, r.workflow_name, r.status, f"{min(r.current_step + 1, r.step_count)}/{r.step_count}",
             to_iso(r.started_at) or "", _duration_text(r.duration()), r.sandbox_id or "",
             r.error_message) for r in page.rows]
    text = _table(rows, ["id", "workflow", "status", "step", "started (UTC)", "duration", "sandbox", "error"])
    return Result([r.as_dict() for r in page.rows], text + f"\n{len(rows)} of {total} executions")


def _add_workflow(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflow", help="one workflow execution and its steps; read-only")
    p.add_argument("db")
    p.add_argument("id", help="the execution's id")
    p.set_defaults(func=cmd_workflow)


def cmd_workflow(args: argparse.Namespace) -> Result:
    with open_store(args.db, read_only=True) as store:
        tl = store.workflows.timeline(args.id)
    e = tl.execution
    head = (f"{e.workflow_name} {e.id}: {e.status}, {_duration_text(e.duration()) or 'no duration'}"
            f", started {to_iso(e.started_at) or '?'}" + (f", sandbox {e.sandbox_id}" if e.sandbox_id else ""))
    if e.error_message:
        head += f"\nerror: {e.error_message}"
    rows = [(s.step_order, s.step_name, s.status, to_iso(s.started_at) or "", to_iso(s.completed_at) or "",
             _duration_text(s.duration()), s.retry_count or "", s.error_message) for s in tl.steps]
    text = head + "\n" + _table(rows, ["#", "step", "status", "started (UTC)", "completed (UTC)",
                                       "duration", "retries", "error"])
    return Result([s.as_dict() for s in tl.steps], text, 1 if e.status == "failed" else 0)


def _size_arg(text: str) -> int:
    """Bytes: ``1048576``, ``512K``, ``64M``, ``1G`` (binary units)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    factor = 1
    if value and value[-1] in "KMGT":
        factor = 1024 ** ("KMGT".index(value[-1]) + 1)
        value = value[:-1]
    try:
        n = int(float(value) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size in bytes (e.g. 1048576, 512K, 64M)") from None
    if n < 0:
        raise argparse.ArgumentTypeError("a size is 0 or more bytes")
    return n


def _add_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="the file content cache: statistics and the least recently "
                       "used entries; --clear or --budget evict")
    p.add_argument("db")
    p.add_argument("--limit", type=_positive, default=20, metavar="N",
                   help="list the N least recently used entries (default 20)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--clear", action="store_true", help="delete every cached entry")
    group.add_argument("--budget", type=_size_arg, metavar="BYTES",
                       help="evict least recently accessed entries until the cache fits (e.g. 64M)")
    p.set_defaults(func=cmd_cache)


def cmd_cache(args: argparse.Namespace) -> Result:
    writing = args.clear or args.budget is not None
    with open_store(args.db, read_only=not writing) as store:
        evicted = None
        if args.clear:
            evicted = store.cache.clear()
        elif args.budget is not None:
            evicted = store.cache.evict_to(args.budget)
        stats = store.cache.stats()
        entries = store.cache.entries(limit=min(args.limit, 10_000))
    lines = []
    if evicted is not None:
        lines.append(f"evicted {evicted.removed} entries ({_human_size(evicted.freed_bytes)}); "
                     f"budget {_human_size(evicted.budget)}")
    lines += [f"entries: {stats.entries}", f"bytes: {_human_size(stats.bytes)} ({stats.bytes})",
              f"compressed: {stats.compressed}", f"hits: {stats.hits}",
              f"oldest access: {to_iso(stats.oldest_access) or '-'}",
              f"newest access: {to_iso(stats.newest_access) or '-'}"]
    if entries:
        lines += ["", "least recently used first:", _table(
            [(e.file_id, e.file_path, _human_size(e.size_bytes), e.access_count,
              to_iso(e.last_accessed or e.cached_at) or "") for e in entries],
            ["file", "path", "size", "reads", "last access (UTC)"])]
    data: dict[str, Any] = {"stats": stats.as_dict(), "entries": [e.as_dict() for e in entries]}
    if evicted is not None:
        data["evicted"] = {k: v for k, v in evicted.as_dict().items() if k != "removed_ids"}
    return Result(data, "\n".join(lines))


# -- gui ------------------------------------------------------------------------------

def _add_gui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="the desktop app (the default with no subcommand)")
    _gui_arguments(p)
    p.set_defaults(func=None)


def _gui_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", nargs="?", help="database to open (default: the demo database "
                   "in your data folder, created on first run)")
    p.add_argument("--read-only", action="store_true", help="open without writing")
    p.add_argument("--demo", action="store_true", help="open a fresh demo database")
    p.add_argument("--smoke", action="store_true",
                   help="check this installation: open a demo database, show every pane, run "
                   "one job of each kind, quit (0: all worked); QT_QPA_PLATFORM=offscreen "
                   "runs it without a display")


def run_gui(args: argparse.Namespace) -> int:
    if args.smoke:
        from .gui.smoke import run_smoke

        return run_smoke()
    from .gui.app import run

    return run(db=args.db, read_only=args.read_only, demo=args.demo)


# -- init -----------------------------------------------------------------------------

def _add_init(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="a new, empty database at the latest schema")
    p.add_argument("db", help="path of the new database (must not exist)")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> Result:
    path = Path(args.db).expanduser()
    if os.path.lexists(path):
        raise UsageError(f"{path} already exists; init makes a new database and never "
                         "overwrites one. Choose a new path.")
    if not path.parent.is_dir():
        raise UsageError(f"The folder {path.parent} does not exist; create it first.")
    # Built under a hidden name and linked into place at the end: a kill part-way
    # leaves no half-made database at the path.
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with create_store(partial) as store:
            version = store.schema_version()
            tables = len(store.table_names())
        try:
            os.link(partial, path)  # fails if the path was taken meanwhile
        except FileExistsError as exc:
            raise UsageError(f"{path} appeared while it was being created; it was left alone.") from exc
    finally:
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    return Result({"path": str(path.resolve()), "schema_version": version},
                  f"Created {path}: an empty SandboxRunner database at schema version {version} "
                  f"({tables} tables). The Go server can use it as it is.")


# -- plumbing -------------------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_gui,
    _add_info,
    _add_init,
    _add_migrate,
    _add_check,
    _add_backup,
    _add_backups,
    _add_verify,
    _add_restore,
    _add_vacuum,
    _add_reindex,
    _add_search,
    _add_export_file,
    _add_sandboxes,
    _add_metrics,
    _add_metrics_rollup,
    _add_export_metrics,
    _add_templates,
    _add_workflows,
    _add_workflow,
    _add_cache,
    _add_serve_metrics,
    _add_demo,
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse also prints usage)
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Look after SandboxRunner databases. With no command, starts the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    for name, p in sub.choices.items():
        if name != "gui":
            p.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _normalise_argv(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``sandbox-admin``, ``sandbox-admin DB`` and ``sandbox-admin --demo`` mean ``gui``."""
    commands = set(next(a for a in parser._subparsers._group_actions).choices)  # type: ignore[union-attr]
    if not argv:
        return ["gui"]
    first = argv[0]
    if first in commands or first in ("-h", "--help", "--version"):
        return argv
    return ["gui", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(list(sys.argv[1:] if argv is None else argv), parser))
    if args.command == "gui":
        return run_gui(args)
    try:
        result = args.func(args)
        out = _Stdout()
        if getattr(args, "json", False):
            out.write(json.dumps(result.data, indent=2, default=_json_default, ensure_ascii=False) + "\n")
        elif result.text:
            out.write(result.text + "\n")
        out.flush()
    except ReaderGone:
        _silence_stdout()
        return 0
    except errors.StorageError as exc:
        _error_line(str(exc) + (f" ({exc.cli_hint})" if exc.cli_hint else ""))
        return exc.exit_code
    except KeyboardInterrupt:
        _error_line("interrupted; nothing more was changed")
        return 1
    except Exception as exc:  # a person should still get one readable line
        err = errors.translate(exc, getattr(args, "db", "") or "")
        _error_line(str(err))
        return err.exit_code
    return result.exit_code


def _error_line(message: str) -> None:
    """One line on stderr; a closed or full stderr is not worth a traceback."""
    try:
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass


def _silence_stdout() -> None:
    """After the reader went away: send what is still buffered nowhere, so that the
    interpreter's final flush does not fail with a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


def gui_main() -> int:
    """Entry point of the ``sandbox-admin-gui`` launcher (desktop files)."""
    return main(sys.argv[1:] or [])
