"""Exporting what the Metrics pane shows: the visible lines over the visible range as
CSV or JSON (written in a worker, through :func:`storage.output_file`, which never
replaces a database), or the chart as PNG.

A mixin of :class:`.metrics.MetricsPane`."""

from __future__ import annotations

import io
from typing import Any

from PySide6.QtWidgets import QFileDialog

from ...storage import chart_rows, errors, output_file, write_chart
from ..jobs import Job, JobContext


class ChartExport:
    """See the module docstring."""

    def _ask_export(self, fmt: str) -> None:
        if self.answer is None or not self.answer.series:
            self.message_requested.emit("info", "There is no chart to export yet.", "")
            return
        name = self.answer.request.name
        filters = {"csv": "CSV files (*.csv)", "json": "JSON files (*.json)", "png": "PNG images (*.png)"}
        path, _ = QFileDialog.getSaveFileName(self, f"Export {name}", f"{name}.{fmt}", filters[fmt])
        if path:
            if fmt == "png":
                self.export_png(path)
            else:
                self.export_visible(path, fmt)

    def visible_rows(self) -> list[dict[str, Any]]:
        """The buckets of the shown lines inside the visible range (what an export writes)."""
        if self.answer is None:
            return []
        x0, x1 = self.visible_x_range()
        shown = [(s, label) for s, label, c in zip(self.answer.series, self._labels, self.curves) if c.isVisible()]
        return chart_rows([s for s, _ in shown], [label for _, label in shown], x0, x1)

    def export_visible(self, path: str, fmt: str) -> Job:
        """Write the visible data (:meth:`visible_rows`) to ``path`` as CSV or JSON, in a worker."""
        rows = self.visible_rows()

        def work(ctx: JobContext) -> int:
            # the save dialog asked before replacing a file; a database is never replaced
            with output_file(path, overwrite_plain=True) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                n = write_chart(rows, out, fmt)
                out.flush()
                out.detach()  # the file is output_file's to close (and rename into place)
            return n

        def done(n: int) -> None:
            self.message_requested.emit("info", f"Exported {n:,} buckets to {path}.", "")
            self.exported.emit(path)

        def failed(error: errors.StorageError) -> None:
            self.message_requested.emit("error", str(error), error.detail)

        return self.runner.submit(work, name=f"Export {fmt.upper()}", on_result=done, on_error=failed, store=None)

    def export_png(self, path: str) -> bool:
        """Save the chart as it is shown (the crosshair hidden)."""
        self._hide_crosshair()
        saved = self.plot.grab().save(path, "PNG")
        if saved:
            self.message_requested.emit("info", f"Saved the chart to {path}.", "")
            self.exported.emit(path)
        else:
            self.message_requested.emit("error", f"Could not save the chart to {path}.",
                                        "Check that the folder exists and can be written to.")
        return saved

