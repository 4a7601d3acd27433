"""Choose and reorder a table's columns; the layout is kept in QSettings.

Right-click the header: tick columns on or off, or reset. Drag a header to reorder.
Order, visibility and widths are saved with ``QHeaderView.saveState`` under one key.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QObject, QPoint, QSettings, Qt, QTimer
from PySide6.QtWidgets import QHeaderView, QMenu, QTableView


@dataclass(frozen=True)
class ColumnSpec:
    title: str
    visible: bool = True
    width: int = 0  # 0: leave Qt's default


class ColumnChooser(QObject):
    """Header context menu + persistence for ``view``'s horizontal header."""

    def __init__(self, view: QTableView, columns: list[ColumnSpec], settings: QSettings,
                 key: str) -> None:
        super().__init__(view)
        self.view = view
        self.columns = columns
        self.settings = settings
        self.key = key
        header = self.header
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._menu)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(300)
        self._save_timer.timeout.connect(self.save)
        header.sectionMoved.connect(lambda *_: self._save_timer.start())
        header.sectionResized.connect(lambda *_: self._save_timer.start())

    @property
    def header(self) -> QHeaderView:
        return self.view.horizontalHeader()

    # -- state -------------------------------------------------------------------------------
    def restore(self) -> bool:
        """Apply the saved layout (True) or the defaults (False)."""
        state = self.settings.value(self.key)
        if isinstance(state, (QByteArray, bytes)) and self.header.restoreState(QByteArray(state)):
            if self.header.count() == len(self.columns) and self.visible_count():
                return True
        self.reset()
        return False

    def reset(self) -> None:
        header = self.header
        for logical in range(len(self.columns)):  # natural order
            visual = header.visualIndex(logical)
            if visual != logical:
                header.moveSection(visual, logical)
        for i, spec in enumerate(self.columns):
            header.setSectionHidden(i, not spec.visible)
            if spec.width:
                header.resizeSection(i, spec.width)
        self.save()

    def save(self) -> None:
        self._save_timer.stop()
        self.settings.setValue(self.key, self.header.saveState())
        self.settings.sync()

    def visible_count(self) -> int:
        return sum(not self.header.isSectionHidden(i) for i in range(self.header.count()))

    def set_visible(self, logical: int, visible: bool) -> None:
        if not visible and self.visible_count() <= 1:
            return  # keep at least one column
        self.header.setSectionHidden(logical, not visible)
        if visible and self.header.sectionSize(logical) < 30:
            self.header.resizeSection(logical, self.columns[logical].width or 100)
        self.save()

    def visible_titles(self) -> list[str]:
        """Visible column titles in the order shown."""
        header = self.header
        order = sorted(range(header.count()), key=header.visualIndex)
        return [self.columns[i].title for i in order if not header.isSectionHidden(i)]

    # -- menu --------------------------------------------------------------------------------
    def build_menu(self) -> QMenu:
        menu = QMenu(self.view)
        header = self.header
        for logical in sorted(range(len(self.columns)), key=header.visualIndex):
            action = menu.addAction(self.columns[logical].title)
            action.setCheckable(True)
            shown = not header.isSectionHidden(logical)
            action.setChecked(shown)
            action.setEnabled(not (shown and self.visible_count() <= 1))
            action.toggled.connect(lambda on, i=logical: self.set_visible(i, on))
        menu.addSeparator()
        menu.addAction("Reset columns", self.reset)
        return menu

    def _menu(self, pos: QPoint) -> None:
        self.build_menu().exec(self.header.mapToGlobal(pos))
