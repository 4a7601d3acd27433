"""The Metrics pane on the big demo database (20,000 sandboxes, 2M samples; about
16,700 series per metric), with a 10 ms heartbeat timer measuring the event loop.

Figures:
- open the pane, switch metric, change the range preset, zoom: each from the click to
  the chart shown (a fleet: its aggregate and band; its top lines follow), against
  the 300 ms budget (the longest of each kind), and when the top lines are drawn too;
- the longest event-loop stall over all of it, against the 50 ms budget;
- listing a metric's series: from the rollup tables vs grouping its raw samples;
- the same open/switch without rollups (raw samples only), for reference.

The demo database is built once and cached (``sandbox-admin-bench-cache/``, as
bench_scrape), with a copy whose rollups are built.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sandbox_admin.gui.app import keep_gui_responsive  # noqa: E402
from sandbox_admin.gui.jobs import JobRunner  # noqa: E402
from sandbox_admin.gui.panes.metrics import MetricsPane  # noqa: E402
from sandbox_admin.gui.panes.metrics_chart import ALL_DATA  # noqa: E402
from sandbox_admin.storage import latest_version, open_store  # noqa: E402

from .bench_scrape import cached_demo  # noqa: E402
from .harness import Figure, best_of, scratch_dir  # noqa: E402
from .heartbeat import Heartbeat, run_until  # noqa: E402

BUDGET, STALL = 0.300, 0.050
PRESETS = ("24 h", "7 d", "1 h", ALL_DATA)


def with_rollups(quick: bool) -> Path:
    """The cached demo with its rollups built (once)."""
    source = cached_demo(quick)
    path = source.with_name(source.stem + "-rollups.db")
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        shutil.copyfile(source, partial)
        print(f"building the rollups of {path} (once; minutes)…", file=sys.stderr, flush=True)
        with open_store(partial) as store:
            store.metrics.build_rollups()
            store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(partial, path)
    with open_store(path) as store:  # a cache made before a newer migration (e.g. fleet rollups)
        if store.schema_version() < latest_version():
            began = time.perf_counter()
            store.migrate()
            store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"migrated {path.name} in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    return path


class Session:
    """A Metrics pane on one database, and the time from each action to its chart."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self.app = QApplication.instance() or QApplication([])
        settings = QSettings(str(tmp / f"{path.stem}.ini"), QSettings.Format.IniFormat)
        self.runner = JobRunner()
        self.pane = MetricsPane(self.runner, settings=settings)
        self.pane.resize(1280, 800)
        self.pane.show()
        self.app.processEvents()
        self.store = open_store(path, read_only=True)
        keep_gui_responsive()  # as the app does once its window is up
        self.drawn = self.shown = 0
        self.pane.chart_drawn.connect(self._count)
        self.pane.chart_shown.connect(self._count_shown)
        self.times: dict[str, list[float]] = {"open": [], "switch": [], "preset": [], "zoom": []}
        self.whole: dict[str, list[float]] = {k: [] for k in self.times}  # top lines drawn too
        self.worker: dict[str, list[float]] = {k: [] for k in self.times}  # the chart jobs' own time

    def _count(self) -> None:
        self.drawn += 1
        self.drawn_at = time.perf_counter()

    def _count_shown(self) -> None:
        self.shown += 1
        self.shown_at = time.perf_counter()

    def _until_drawn(self, kind: str, action, timeout_s: float = 600) -> None:  # type: ignore[no-untyped-def]
        before = self.drawn
        start = time.perf_counter()
        action()
        # the chart shown is the figure (a fleet's aggregate and band, its top lines after);
        # then the pane's follow-up work (the top lines, listing the series for the sandbox
        # filter) finishes before the next click, as a person reads the chart
        run_until(lambda: self.drawn > before and not self.pane.busy(), timeout_s)
        self.times[kind].append(self.shown_at - start)
        self.whole[kind].append(self.drawn_at - start)
        answer = self.pane.answer
        self.worker[kind].append(answer.seconds if answer is not None else 0.0)

    def run(self, names_wanted: int | None = None) -> None:
        pane = self.pane
        start = time.perf_counter()
        pane.set_store(self.store)
        run_until(lambda: pane.names_list.count() > 0, 120)
        names = [pane.names_list.item(i).data(256) for i in range(pane.names_list.count())]
        self._until_drawn("open", lambda: pane.select_metric(names[0]))
        self.times["open"][-1] = self.shown_at - start
        self.whole["open"][-1] = self.drawn_at - start
        for name in names[1:names_wanted]:
            self._until_drawn("switch", lambda n=name: pane.select_metric(n))
        for preset in PRESETS:
            self._until_drawn("preset", lambda p=preset: pane.set_preset(p))
        x0, x1 = pane.visible_x_range()
        for part in (0.5, 0.25):  # zoom into the newest part; the debounce is not the chart's time
            before = len(pane.requests)
            pane.set_x_range(x1 - (x1 - x0) * part, x1)
            run_until(lambda b=before: len(pane.requests) > b, 10)
            self._until_drawn("zoom", lambda: None)

    def close(self) -> None:
        self.pane.set_store(None)
        self.runner.wait_idle(60000)
        self.store.close()
        self.pane.close()
        self.pane.deleteLater()
        self.app.processEvents()


def _listing(path: Path) -> tuple[float, float, int]:
    with open_store(path, read_only=True) as store:
        name = sorted(store.metrics.names())[0]
        quick = best_of(lambda: store.metrics.catalogue(name), 3)
        exact = best_of(lambda: store.metrics.series(name, include_rollups=False), 1)
        return quick, exact, len(store.metrics.catalogue(name))


def run(quick: bool = False) -> list[Figure]:
    path = with_rollups(quick)
    listed, grouped, n_series = _listing(path)
    figures = [Figure(f"list a metric's {n_series:,} series: rollup tables vs GROUP BY raw", listed, grouped,
                      target="< 1.0x", note="MetricsStore.catalogue vs series() over the raw samples")]
    with scratch_dir() as tmp:
        session = Session(path, tmp)
        heartbeat = Heartbeat(10)
        heartbeat.start()
        try:
            session.run()
        finally:
            max_gap = heartbeat.stop()
            session.close()
        for kind, times in session.times.items():
            figures.append(Figure(f"metrics pane, rollups built: {kind} → chart shown (slowest of {len(times)})",
                                  max(times), BUDGET, target="<= 1.0x (300 ms)",
                                  note="all: " + ", ".join(f"{t * 1000:.0f}" for t in times) + " ms; the top "
                                  "lines drawn too: " + ", ".join(f"{t * 1000:.0f}" for t in session.whole[kind])
                                  + " ms; in the chart jobs: "
                                  + ", ".join(f"{t * 1000:.0f}" for t in session.worker[kind])))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        figures.append(Figure("metrics pane: longest event-loop stall over all of the above", max_gap, STALL,
                              target="<= 1.0x (50 ms)",
                              note=f"{heartbeat.max_stall * 1000:.0f} ms less the GUI thread's waits for a "
                                   f"CPU; most GUI-thread CPU between ticks {heartbeat.max_busy * 1000:.0f} ms; "
                                   f"load average {load:.1f}"))
        if not quick:  # without rollups every chart reads raw samples: for reference
            raw = Session(cached_demo(quick), tmp)
            heartbeat.start()
            try:
                raw.run(names_wanted=1)
            finally:
                raw_gap = heartbeat.stop()
                raw.close()
            figures.append(Figure("metrics pane, no rollups: open → first chart", raw.times["open"][0], BUDGET,
                                  note=f"reference: raw samples only; longest stall {raw_gap * 1000:.0f} ms"))
    return figures
