"""The small widgets of the sandboxes pane: JSON tree, audit diff, badges, columns, display."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QTableView

from sandbox_admin.gui import display
from sandbox_admin.gui.widgets.audit_diff import AuditTrail, Change, diff
from sandbox_admin.gui.widgets.badges import BadgeLabel
from sandbox_admin.gui.widgets.columns import ColumnChooser, ColumnSpec
from sandbox_admin.gui.widgets.json_tree import MAX_INLINE, JsonTree


def test_json_tree_shows_unescaped_text_nested_json_and_elides_long_values(qtbot):
    tree = JsonTree()
    qtbot.addWidget(tree)
    long = "x" * 5000
    # As the Go server stores it: \u003cb\u003e\u0026 escapes; json.loads gives the characters.
    import json

    env = json.loads('{"GREETING":"h\\u00e9llo \\u003cb\\u003e\\u0026\\u003c/b\\u003e","LONG":"%s",'
                     '"NESTED":"{\\"a\\": [1, 2]}","MULTI":"one\\ntwo"}' % long)
    tree.set_value({"environment": env, "metadata": None, "config": {"n": 3, "ok": True}})
    greeting = tree.item_for_path("environment.GREETING")
    assert greeting.text(1) == "héllo <b>&</b>"
    long_item = tree.item_for_path("environment.LONG")
    assert len(long_item.text(1)) == MAX_INLINE and long_item.text(1).endswith("…")
    assert tree.value_text("environment.LONG") == long  # copy gives the whole value
    assert "x" * 100 in long_item.toolTip(1)
    # A string holding JSON text is expanded as JSON.
    assert tree.item_for_path("environment.NESTED.a[1]").text(1) == "2"
    assert tree.item_for_path("environment.MULTI").text(1) == "one ⏎ two"
    assert tree.item_for_path("metadata").text(1) == "null"
    assert tree.item_for_path("config").text(1) == "{2 keys}"
    assert tree.item_for_path("config.ok").text(1) == "true"
    assert tree.item_for_path("environment").isExpanded()


def test_diff_reports_only_changed_keys_and_ignores_same_instants():
    old = {"status": "running", "config": {"image": "a", "mounts": [1, 2]}, "env": {"A": "1"},
           "created_at": "2026-11-24T06:26:46.03Z", "gone": 1}
    new = {"status": "stopped", "config": {"image": "a", "mounts": [1, 3]}, "env": {"A": "1"},
           "created_at": "2026-11-24 06:26:46.03+00:00", "added": [1]}
    changes = diff(old, new)
    assert [(c.path, c.kind) for c in changes] == [
        ("status", "changed"), ("config.mounts[1]", "changed"), ("gone", "removed"), ("added", "added"),
    ]
    # Go writes '' for a create's old state: the new state's keys come back as values.
    assert diff("", {"a": 1}) == [Change("a", "value", new=1, side="new")]
    assert diff(None, "") == []
    assert diff({"e": {}}, {"e": {"X": "1"}}) == [Change("e.X", "added", new="1")]


@dataclass
class _Entry:
    id: int
    action: str
    old_data: Any
    new_data: Any
    user_id: str
    timestamp: datetime | None
    metadata: Any


def test_audit_trail_lists_newest_first_with_old_to_new_rows(qtbot):
    view = AuditTrail()
    qtbot.addWidget(view)
    t = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    view.set_entries([
        _Entry(1, "create", "", {"id": "s1", "status": "running"}, "", t, ""),
        _Entry(2, "update", {"id": "s1", "status": "running", "version": 1},
               {"id": "s1", "status": "stopped", "version": 2}, "admin", t + timedelta(minutes=1), ""),
        _Entry(3, "checkpoint", "", {"snap": "x"}, "", t, {"reason": "before risky exec"}),
    ])
    texts = view.entry_texts()
    assert "checkpoint" in texts[0] and "reason: before risky exec" in texts[0]
    assert "update by admin" in texts[1] and "status running → stopped" in texts[1]
    assert ("status", "running", "stopped") in view.change_rows(1)
    assert ("version", "1", "2") in view.change_rows(1)
    assert view.change_rows(2) == [("id", "—", "s1"), ("status", "—", "running")]
    assert view.topLevelItem(0).isExpanded() and not view.topLevelItem(1).isExpanded()


def test_display_formats():
    assert display.size(0) == "0 B"
    assert display.size(1536) == "1.5 KiB"
    assert display.size(3 * 1024**3) == "3.0 GiB"
    assert display.seconds(1234.56) == "1,234.6"
    t = datetime(2026, 11, 25, 13, 2, 49, 760398, tzinfo=timezone.utc)
    assert display.local_time(t) == t.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert display.utc_tooltip(t).startswith("2026-11-25 13:02:49.760398 UTC (")
    assert display.local_time(datetime(1, 1, 1, tzinfo=timezone.utc)) == "—"
    assert display.plural(1, "sandbox", "sandboxes") == "1 sandbox"
    assert display.plural(2000, "sandbox", "sandboxes") == "2,000 sandboxes"
    # Badge text stays readable on every status colour.
    for colour in display.STATUS_COLOURS.values():
        from PySide6.QtGui import QColor

        assert display.text_colour_on(QColor(colour)).name() == "#ffffff"


def test_badge_label_sizes_to_its_badges(qtbot):
    label = BadgeLabel()
    qtbot.addWidget(label)
    label.set_badges([("running", "#2e7d32")])
    one = label.sizeHint().width()
    label.set_badges([("running", "#2e7d32"), ("deleted", "#424242")])
    assert label.sizeHint().width() > one + 20
    assert label.toolTip() == "running, deleted"


def test_column_chooser_hides_reorders_and_persists(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    specs = [ColumnSpec("A"), ColumnSpec("B"), ColumnSpec("C", visible=False)]

    def make() -> tuple[QTableView, ColumnChooser]:
        model = QStandardItemModel(2, 3)
        model.setHorizontalHeaderLabels(["A", "B", "C"])
        view = QTableView()
        view.setModel(model)
        model.setParent(view)
        qtbot.addWidget(view)
        chooser = ColumnChooser(view, specs, settings, "t/header")
        return view, chooser

    view, chooser = make()
    assert chooser.restore() is False  # nothing saved yet: defaults
    assert chooser.visible_titles() == ["A", "B"]
    menu = chooser.build_menu()
    titles = [a.text() for a in menu.actions() if a.isCheckable()]
    assert titles == ["A", "B", "C"]
    next(a for a in menu.actions() if a.text() == "C").setChecked(True)  # as a click would
    view.horizontalHeader().moveSection(2, 0)  # drag C to the front
    chooser.set_visible(0, False)
    chooser.save()
    assert chooser.visible_titles() == ["C", "B"]

    view2, chooser2 = make()
    assert chooser2.restore() is True
    assert chooser2.visible_titles() == ["C", "B"]
    chooser2.set_visible(1, False)
    chooser2.set_visible(2, False)  # the last visible column cannot be hidden
    assert chooser2.visible_titles() == ["C"]
    chooser2.reset()
    assert chooser2.visible_titles() == ["A", "B"]
    assert view2.horizontalHeader().isSectionHidden(2)
    assert Qt.ContextMenuPolicy.CustomContextMenu == view2.horizontalHeader().contextMenuPolicy()
