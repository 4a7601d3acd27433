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
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .storage import errors, open_store
from .storage.fields import to_iso

PROG = "sandbox-admin"


@dataclass
class Result:
    """What a command produced: ``data`` for ``--json``, ``text`` for people."""

    data: Any
    text: str = ""
    exit_code: int = 0


class UsageError(errors.StorageError):
    exit_code = 2


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
    p.add_argument("--to", type=int, metavar="N", help="migrate up or down to schema version N")
    p.add_argument("--status", action="store_true", help="only list applied and pending versions")
    p.set_defaults(func=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> Result:
    from .storage.migrations import by_version

    with open_store(args.db, read_only=args.status) as store:
        done: list[int] = []
        if not args.status:
            if store.read_only:  # newer schema: open_store fell back to read-only
                raise errors.SchemaTooNew(store.notices[0])
            done = store.migrate(args.to)
        status = store.migration_status()
    data = status.as_dict() | {"changed": done}
    known = by_version()
    rows = [
        (v, "applied" if v in status.applied else "pending", known[v].description if v in known else "(unknown: newer)")
        for v in sorted(set(status.applied) | set(known))
    ]
    head = f"schema version {status.current}"
    if done:
        head += f" (changed: {', '.join(map(str, done))})"
    text = head + "\n" + _table(rows, ["version", "state", "description"])
    for problem in status.problems:
        text += f"\nproblem: {problem}"
    return Result(data, text, 1 if status.problems else 0)


# -- check ----------------------------------------------------------------------------

def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="integrity, foreign keys, full-text index, migrations")
    p.add_argument("db")
    p.add_argument("--quick", action="store_true", help="quick_check instead of integrity_check")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> Result:
    with open_store(args.db, read_only=True) as store:
        report = store.maintenance.check(quick=args.quick)
    if report.ok:
        text = f"ok ({', '.join(report.checks)})"
    else:
        text = "problems found:\n" + "\n".join(f"  - {p}" for p in report.problems)
    return Result(report.as_dict(), text, 0 if report.ok else 1)


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


def run_gui(args: argparse.Namespace) -> int:
    from .gui.app import run

    return run(db=args.db, read_only=args.read_only, demo=args.demo)


# -- plumbing -------------------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_gui,
    _add_info,
    _add_migrate,
    _add_check,
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
    except errors.StorageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted; nothing more was changed", file=sys.stderr)
        return 1
    except Exception as exc:  # a person should still get one readable line
        err = errors.translate(exc, getattr(args, "db", "") or "")
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    if getattr(args, "json", False):
        print(json.dumps(result.data, indent=2, default=_json_default, ensure_ascii=False))
    elif result.text:
        print(result.text)
    return result.exit_code


def gui_main() -> int:
    """Entry point of the ``sandbox-admin-gui`` launcher (desktop files)."""
    return main(sys.argv[1:] or [])
