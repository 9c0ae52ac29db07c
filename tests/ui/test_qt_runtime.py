"""Guards against a Qt binding that corrupts Python's reference counts.

PySide6 6.12.0 under CPython 3.11 drops one reference to ``None``/``True``/``False``
on ordinary Qt calls; a running GUI then aborts in ``none_dealloc`` after a few
thousand calls. The lock file holds PySide6 below 6.12; this test fails if an
upgrade brings such a build back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication


class _Emitter(QObject):
    fired = Signal(object)


def test_qt_calls_keep_reference_counts_of_singletons(qapp: QApplication) -> None:
    emitter = _Emitter()
    received: list[object] = []
    emitter.fired.connect(received.append)
    before = {
        name: sys.getrefcount(obj)
        for name, obj in (("None", None), ("True", True), ("False", False))
    }
    for _ in range(2_000):
        emitter.fired.emit(None)
        emitter.blockSignals(False)
        emitter.signalsBlocked()
        qapp.processEvents()
    received.clear()
    after = {
        name: sys.getrefcount(obj)
        for name, obj in (("None", None), ("True", True), ("False", False))
    }
    # Immortal objects (3.12+) report a constant huge count; a leak shows as a drop.
    lost = {name: before[name] - after[name] for name in before if before[name] - after[name] > 100}
    assert not lost, f"Qt calls dropped references to {lost}; PySide6 build is unsafe"
