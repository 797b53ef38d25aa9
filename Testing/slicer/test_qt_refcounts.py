"""The Qt bindings the .ui tests load must keep Python's reference counts: PySide6 6.12.0 dropped one
reference to None at each call of a method returning void, and a run of the suite ended, after its last
test, in "Fatal Python error: none_dealloc" (or bool_dealloc) and exit 134 (pyproject.toml pins it out)."""
import sys

import pytest


def test_calling_a_qt_method_keeps_the_reference_counts_of_none_and_the_bools(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no display here
    pytest.importorskip("PySide6.QtWidgets")
    from PySide6.QtWidgets import QApplication, QCheckBox

    app = QApplication.instance() or QApplication(["test"])  # noqa: F841  (kept alive for the widget)
    box = QCheckBox()
    seen = []
    box.toggled.connect(seen.append)
    before = [sys.getrefcount(v) for v in (None, True, False)]
    for _ in range(100):
        box.setChecked(True)
        box.setChecked(False)
        box.isChecked()
    after = [sys.getrefcount(v) for v in (None, True, False)]
    assert len(seen) == 200
    # seen holds 100 True and 100 False; nothing else may move by more than a handful
    assert abs(after[0] - before[0]) < 10, f"None lost {before[0] - after[0]} references in 300 calls"
    assert abs(after[1] - before[1] - 100) < 10 and abs(after[2] - before[2] - 100) < 10, (before, after)
