"""Guard against the PySide6 6.12.0 bug that corrupts None's reference count.

On Python 3.10/3.11, PySide6 6.12.0 loses a reference to ``None`` on calls that
return it; after a few thousand Qt calls None is freed and the interpreter aborts.
The calls run in a child process so that an abort is a failed test, not a dead session.
Each kind of call is measured on its own: a harmless leak of None references by one
call (PySide 6.11's QStandardItemModel.setItem gains a few) must not hide a loss in
another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import PySide6

CALLS = 50_000

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QLabel

    class Emitter(QObject):
        ping = Signal(object)

    app = QApplication([])
    label = QLabel()
    model = QStandardItemModel(1, 1)
    emitter = Emitter()
    received = [0]

    def slot(value):  # a Python slot returning None, given None
        received[0] += value is None

    emitter.ping.connect(slot)
    kinds = {
        "setText": lambda: label.setText("x"),
        "setObjectName": lambda: label.setObjectName("l"),
        "text": lambda: label.text(),
        "setProperty(None)": lambda: label.setProperty("k", None),
        "property -> None": lambda: label.property("missing"),
        "setToolTip": lambda: label.setToolTip(""),
        "emit(None)": lambda: emitter.ping.emit(None),
        "data -> None": lambda: model.data(model.index(0, 0)),
        "update": lambda: label.update(),
        "processEvents": lambda: app.processEvents(),
    }
    per_kind = int(sys.argv[1]) // len(kinds)
    deltas, calls = {}, 0
    for name, call in kinds.items():
        before = sys.getrefcount(None)
        for _ in range(per_kind):
            call()
        deltas[name] = sys.getrefcount(None) - before
        calls += per_kind
    print(json.dumps({"calls": calls, "deltas": deltas, "received": received[0],
                      "final": sys.getrefcount(None)}))
    """
)


def test_many_pyside_calls_keep_none_alive():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(CALLS)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"interpreter died ({proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["calls"] == CALLS
    assert result["received"] == CALLS // 10  # every emit(None) arrived as None
    # The bug loses one reference per call: 5,000 calls of a kind would drop by ~5,000.
    lost = {k: d for k, d in result["deltas"].items() if d < -10}
    assert not lost, f"None lost references: {lost}"
    assert result["final"] > 100


def test_pyside_is_not_the_broken_release_on_old_python():
    version = tuple(int(p) for p in PySide6.__version__.split(".")[:2])
    if sys.version_info < (3, 12):
        assert version < (6, 12), "PySide6 6.12 corrupts None's refcount on Python < 3.12; pin <6.12"
