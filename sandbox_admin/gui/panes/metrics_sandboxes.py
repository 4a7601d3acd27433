"""Which sandboxes the Metrics pane charts: all of them, one, or a chosen few.

Both the filter's choices and the picker are list models answered on demand, so 20,000
sandboxes cost nothing until they are shown, and both match any part of a sandbox's id
or container name.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import display

ALL_SANDBOXES = "All sandboxes"
#: (sandbox id, samples, container name or "")
Row = tuple[str, int, str]
#: a choice of the filter: None (all), one sandbox id, or a tuple of chosen ids
Choice = str | tuple[str, ...] | None


def describe(sid: str, count: int, container: str) -> str:
    name = f"{container}  ·  {sid}" if container and container not in sid else sid
    return f"{name}  ({display.count(count)})"


class SandboxChoices(QAbstractListModel):
    """"All sandboxes", the chosen few (when there are), then each sandbox with its
    container and sample count, formatted when shown."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self.chosen: tuple[str, ...] = ()

    @property
    def _first(self) -> int:
        """Rows before the sandboxes: "All sandboxes" and, when there is one, the chosen few."""
        return 2 if self.chosen else 1

    def set_rows(self, rows: Iterable[Row], chosen: Sequence[str] | None = None,
                 positions: dict[str, int] | None = None) -> None:
        """The sandboxes (in order) and, when known, each one's place among them (built by
        the worker that listed them, so 16,000 cost the GUI thread no loop)."""
        self.beginResetModel()
        self._rows = rows if isinstance(rows, list) else list(rows)
        if chosen is not None:
            self.chosen = tuple(chosen)
        self._index = positions if positions is not None else {row[0]: i for i, row in enumerate(self._rows)}
        self.endResetModel()

    def set_chosen(self, chosen: Sequence[str]) -> None:
        self.set_rows(self._rows, chosen, self._index)

    @property
    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_of(self, choice: Choice) -> int:
        if isinstance(choice, tuple):
            return 1 if choice and choice == self.chosen else 0
        at = self._index.get(choice) if choice else None
        return 0 if at is None else at + self._first

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: N802 (Qt)
        return 0 if parent.isValid() else len(self._rows) + self._first

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or not 0 <= row < self.rowCount():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if row == 0:
                return ALL_SANDBOXES
            if row == 1 and self.chosen:
                return f"{len(self.chosen)} chosen sandbox{'es' if len(self.chosen) != 1 else ''}"
            return describe(*self._rows[row - self._first])
        if role == Qt.ItemDataRole.UserRole:
            if row == 0:
                return None
            if row == 1 and self.chosen:
                return self.chosen
            return self._rows[row - self._first][0]
        return None


class PickModel(QAbstractListModel):
    """Every sandbox with a box to tick."""

    changed = Signal()

    def __init__(self, rows: Sequence[Row], chosen: Iterable[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows = list(rows)
        self.checked: set[str] = set(chosen)

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: N802 (Qt)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        sid, count, container = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return describe(sid, count, container)
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if sid in self.checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.UserRole:
            return sid
        return None

    def flags(self, index: Any) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsUserCheckable

    def setData(self, index: Any, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        sid = self._rows[index.row()][0]
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.checked.add(sid)
        else:
            self.checked.discard(sid)
        self.dataChanged.emit(index, index, [role])
        self.changed.emit()
        return True

    def in_order(self) -> list[str]:
        return [sid for sid, _, _ in self._rows if sid in self.checked]


class SandboxPicker(QDialog):
    """Tick the sandboxes to chart, one line per series; type to find them."""

    def __init__(self, rows: Sequence[Row], chosen: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose Sandboxes")
        self.resize(560, 520)
        self.model = PickModel(rows, chosen, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_edit = QLineEdit(placeholderText="Type part of a sandbox id or container name")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setUniformItemSizes(True)  # 20,000 rows lay out without measuring each
        self.count_label = QLabel()
        clear = QPushButton("Clear")
        clear.clicked.connect(self._clear)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Chart These")
        self.buttons.addButton(clear, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.buttons)
        self.model.changed.connect(self._update)
        self._update()

    def chosen(self) -> list[str]:
        return self.model.in_order()

    def _clear(self) -> None:
        self.model.beginResetModel()
        self.model.checked.clear()
        self.model.endResetModel()
        self._update()

    def _update(self) -> None:
        n = len(self.model.checked)
        self.count_label.setText(f"{n} chosen: one line per series of each" if n else
                                 "None chosen: the chart shows every sandbox")
