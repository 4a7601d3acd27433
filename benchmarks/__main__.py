"""``python -m benchmarks [--quick] [--only NAME ...] [--json]``: run and print the table."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from .harness import format_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    parser.add_argument("--only", nargs="*", default=[], help="modules to run, e.g. open metrics")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    figures = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name}…", file=sys.stderr, flush=True)
        figures.extend(module.run(quick=args.quick))
    if args.json:
        print(json.dumps([f.__dict__ | {"ratio": f.ratio} for f in figures], indent=2))
    else:
        print(format_table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
