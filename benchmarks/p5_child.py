"""P5 helper, one fresh process per round: launch the real GUI and measure it.

``python -m benchmarks.p5_child --db FILE --long-order ID --spawn-ns NS [--catchup N]`` starts
Order Desk exactly as ``python -m desktop_app`` does (``desktop_app.__main__.run``: bootstrap,
background jobs, MainWindow), under whatever ``QT_QPA_PLATFORM`` the parent set (offscreen),
then drives it from a timer inside the running event loop and prints ONE line
``P5-RESULT {json}``. ``--baseline`` instead shows a bare QTableView of 50 rows (the floor:
interpreter + PySide6 + one painted window).

Every latency runs from the UI action (a checked status, a header click, a scroll bar move,
``HistoryView.show_order``) to the end of the first paint of the affected viewport that follows
the new data (an event filter sees the Paint; a zero timer queued from it fires once the paint
is done).
"""

from __future__ import annotations

import time

_START_NS = time.perf_counter_ns()  # before any other import: "launch" as the child sees it

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

from PySide6.QtCore import (  # noqa: E402
    QCoreApplication,
    QEvent,
    QEventLoop,
    QObject,
    QPoint,
    Qt,
    QTimer,
)
from PySide6.QtWidgets import QWidget  # noqa: E402

MARK = "P5-RESULT "


def now() -> int:
    return time.perf_counter_ns()


def ms(ns: int) -> float:
    return ns / 1e6


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    values: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class PaintWatcher(QObject):
    """Records when a widget starts painting and (via a zero timer) when the paint is done."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.starts: list[int] = []
        self.ends: list[int | None] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            index = len(self.starts)
            self.starts.append(now())
            self.ends.append(None)
            QTimer.singleShot(0, lambda: self._done(index))
        return False

    def _done(self, index: int) -> None:
        self.ends[index] = now()

    def painted_after(self, moment: int) -> int | None:
        """End of the first paint that started at or after ``moment``."""
        for start, end in zip(self.starts, self.ends, strict=True):
            if start >= moment and end is not None:
                return end
        return None


def wait(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``predicate()`` (polled every ms) or the timeout."""
    if predicate():
        return True
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(1)
    poll.timeout.connect(lambda: loop.quit() if predicate() else None)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(timeout_s * 1000))
    poll.start()
    loop.exec()
    poll.stop()
    guard.stop()
    return predicate()


def pause(seconds: float) -> None:
    """Let the event loop run for a while."""
    wait(lambda: False, seconds)


class Ticker(QObject):
    """A 5 ms PreciseTimer on the GUI thread; records the gaps between its ticks."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = 0
        self.gaps: list[int] = []

    def start(self) -> None:
        self.gaps = []
        self.last = now()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self._tick()

    def _tick(self) -> None:
        t = now()
        self.gaps.append(t - self.last)
        self.last = t

    def max_ms(self) -> float:
        return ms(max(self.gaps)) if self.gaps else 0.0

    def over(self, threshold_ms: float) -> int:
        return sum(1 for g in self.gaps if ms(g) > threshold_ms)


# ------------------------------------------------------------------------------ the app run


class Probe:
    """Attached to the MainWindow by ``run(on_window=…)``; measures, prints, quits."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.window: Any = None
        self.result: dict[str, Any] = {}
        self.loaded_at: list[int] = []
        self.pages_at: list[int] = []
        self.refreshed_at: list[int] = []
        self.history_at: list[int] = []
        self.statuses: list[Any] = []
        self.window_ns = 0

    def attach(self, window: Any) -> None:
        self.window_ns = now()
        self.window = window
        model = window.orders.model
        self.table_paint = PaintWatcher(window.orders.table.viewport())
        model.loaded.connect(lambda: self.loaded_at.append(now()))
        model.page_loaded.connect(lambda _n: self.pages_at.append(now()))
        model.refreshed.connect(lambda: self.refreshed_at.append(now()))
        window.bridge.projector_status.connect(self.statuses.append)
        QTimer.singleShot(0, self.scenario)

    # --- helpers

    def _latency(
        self,
        action: Callable[[], None],
        stamps: list[int],
        watcher: PaintWatcher,
        ready: Callable[[], bool] | None = None,
        timeout_s: float = 30.0,
    ) -> float:
        """ms from ``action()`` to the end of the first paint after a new ``stamps`` entry
        (and ``ready()``)."""
        pause(0.05)
        before = len(stamps)
        t0 = now()
        action()
        ok = wait(lambda: len(stamps) > before and (ready is None or ready()), timeout_s)
        if not ok:
            return float("nan")
        arrived = stamps[-1]
        widget = watcher.parent()
        if isinstance(widget, QWidget):
            widget.update()
        wait(lambda: watcher.painted_after(arrived) is not None, timeout_s)
        end = watcher.painted_after(arrived)
        return ms(end - t0) if end is not None else float("nan")

    def _click_header(self, column: int) -> None:
        from PySide6.QtTest import QTest

        header = self.window.orders.table.horizontalHeader()
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        QTest.mouseClick(
            header.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            QPoint(x, header.height() // 2),
        )

    def _clicker(self, column: int) -> Callable[[], None]:
        return lambda: self._click_header(column)

    def _top_row_loaded(self) -> bool:
        table = self.window.orders.table
        row = table.indexAt(QPoint(4, 4)).row()
        return row >= 0 and self.window.orders.model.row_at(row) is not None

    def _scroll(self, fraction: float) -> float:
        """ms from moving the scroll bar to the end of the first paint showing loaded rows
        at the top of the viewport (a page fetched on demand, or one still cached)."""
        bar = self.window.orders.table.verticalScrollBar()
        pause(0.05)
        t0 = now()
        bar.setValue(int(bar.maximum() * fraction))
        if not wait(self._top_row_loaded, 30):
            return float("nan")
        ready = now()
        self.window.orders.table.viewport().update()
        wait(lambda: self.table_paint.painted_after(ready) is not None, 30)
        end = self.table_paint.painted_after(ready)
        return ms(end - t0) if end is not None else float("nan")

    # --- the scenario

    def scenario(self) -> None:
        try:
            self._scenario()
        except Exception as exc:  # report, never hang
            self.result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            print(MARK + json.dumps(self.result), flush=True)
            QCoreApplication.quit()

    def _scenario(self) -> None:
        w = self.window
        model = w.orders.model
        r = self.result
        spawn = self.args.spawn_ns

        # 1. first paint showing rows
        ok = wait(lambda: bool(self.loaded_at) and model.total > 0, 60)
        if not ok:
            raise RuntimeError("the order list never loaded")
        first_loaded = self.loaded_at[0]
        wait(lambda: self.table_paint.painted_after(first_loaded) is not None, 30)
        painted = self.table_paint.painted_after(first_loaded)
        assert painted is not None
        r["first_paint_ms"] = ms(painted - spawn)
        r["first_paint_from_script_ms"] = ms(painted - _START_NS)
        r["interpreter_start_ms"] = ms(_START_NS - spawn)
        r["window_shown_ms"] = ms(self.window_ns - spawn)
        r["first_rows_arrived_ms"] = ms(first_loaded - spawn)
        r["rows_total"] = model.total
        pause(0.3)  # let the customer list and projector status settle

        # 2. filter changes (status drop-down, customer combo)
        sf = w.orders.status_filter
        combo = w.orders.customer_filter
        filters: dict[str, float] = {}

        def pick_customer(index: int) -> Callable[[], None]:
            def go() -> None:
                combo.setCurrentIndex(index)
                combo.activated.emit(index)

            return go

        wait(lambda: combo.count() > 5, 10)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("status=pending", lambda: sf.actions_by_status["pending"].setChecked(True)),
            ("+cancelled", lambda: sf.actions_by_status["cancelled"].setChecked(True)),
            ("status=delivered", lambda: sf.set_selected(frozenset({"delivered"}))),
            ("all statuses", sf.clear),
            ("one customer", pick_customer(min(5, combo.count() - 1))),
            ("all customers", pick_customer(0)),
        ]
        for name, step in steps:
            filters[name] = self._latency(step, self.loaded_at, self.table_paint)
        r["filter_changes_ms"] = filters

        # 3. sort changes (header clicks), then combined with a status filter
        sorts: dict[str, float] = {}
        for name, column in (
            ("Customer", 1),
            ("Total", 4),
            ("Last change", 5),
            ("Status", 2),
            ("Version", 6),
            ("Lines", 3),
            ("Number", 0),
        ):
            sorts[name] = self._latency(self._clicker(column), self.loaded_at, self.table_paint)
        filters["status=shipped (sorted by Number)"] = self._latency(
            lambda: sf.set_selected(frozenset({"shipped"})), self.loaded_at, self.table_paint
        )
        for name, column in (("Total, status=shipped", 4), ("Customer, status=shipped", 1)):
            sorts[name] = self._latency(self._clicker(column), self.loaded_at, self.table_paint)
        r["sort_changes_ms"] = sorts

        # 4. deep scrolls (filtered + sorted first, then the whole list by number)
        scrolls: dict[str, float] = {}
        scrolls["middle, status=shipped by Customer"] = self._scroll(0.5)
        scrolls["end, status=shipped by Customer"] = self._scroll(1.0)
        filters["all statuses (sorted by Customer)"] = self._latency(
            sf.clear, self.loaded_at, self.table_paint
        )
        sorts["Number (back)"] = self._latency(
            lambda: self._click_header(0), self.loaded_at, self.table_paint
        )
        scrolls["middle"] = self._scroll(0.5)
        r["rss_after_middle_mb"] = rss_mb()[0]
        scrolls["end"] = self._scroll(1.0)
        r["rss_after_end_mb"] = rss_mb()[0]
        scrolls["top"] = self._scroll(0.0)
        r["scrolls_ms"] = scrolls

        # 5. search (a full scan of the text columns; reported beside the filters)
        search = w.orders.search

        def type_search(text: str) -> Callable[[], None]:
            def go() -> None:
                search.setText(text)
                search.returnPressed.emit()

            return go

        r["search_ms"] = {
            "number 'SO-0500'": self._latency(
                type_search("SO-0500"), self.loaded_at, self.table_paint
            ),
            "clear": self._latency(type_search(""), self.loaded_at, self.table_paint),
        }

        # 6. GUI-thread stalls: idle floor, then while the projector catches up
        ticker = Ticker()
        ticker.start()
        pause(1.0)
        ticker.stop()
        r["idle_tick_max_ms"] = ticker.max_ms()
        if self.args.catchup > 0:
            self._catchup(ticker)

        # 7. the timeline of the 10,000-event order
        # (The History panel is built when its tab is first shown.)
        w.tabs.setCurrentWidget(w.history)
        pause(0.3)
        history = w.history
        history.history_loaded.connect(lambda _n: self.history_at.append(now()))
        tl_paint = PaintWatcher(history.timeline.viewport())
        times: list[float] = []
        for _ in range(3):
            history.show_order(None)
            pause(0.2)
            times.append(
                self._latency(
                    lambda: history.show_order(self.args.long_order), self.history_at, tl_paint
                )
            )
        r["timeline_10k_ms"] = times[0]
        r["timeline_10k_runs_ms"] = times
        r["timeline_rows"] = history.model.rowCount()
        pause(0.3)
        rss, hwm = rss_mb()
        r["rss_end_mb"] = rss
        r["rss_peak_mb"] = hwm
        r["resident_memory_mb"] = max(rss, r["rss_after_middle_mb"], r["rss_after_end_mb"])

    def _catchup(self, ticker: Ticker) -> None:
        r = self.result
        con = sqlite3.connect(f"file:{self.args.db}?mode=ro", uri=True)
        try:
            head = int(con.execute("SELECT max(position) FROM events").fetchone()[0])
        finally:
            con.close()
        target = head + self.args.catchup
        total_before = self.window.orders.model.total
        ticker.start()
        t0 = now()
        writer = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.p5_writer", self.args.db, str(self.args.catchup)],
            stdout=subprocess.PIPE,
            text=True,
        )

        def caught_up() -> bool:
            return any(
                getattr(s, "checkpoint", 0) >= target and not getattr(s, "running", True)
                for s in self.statuses
            )

        ok = wait(caught_up, 120)
        t_caught = now()
        model = self.window.orders.model
        wait(lambda: not model.is_busy() and model.total > total_before, 30)
        t_listed = now()
        pause(0.3)
        ticker.stop()
        out, _ = writer.communicate(timeout=60)
        r["catchup_events"] = self.args.catchup
        r["catchup_ok"] = ok
        r["catchup_seconds"] = ms(t_caught - t0) / 1000
        r["catchup_list_updated_seconds"] = ms(t_listed - t0) / 1000
        r["catchup_writer"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        r["gui_stall_ms"] = ticker.max_ms()
        r["gui_stalls_over_50ms"] = ticker.over(50)
        r["gui_stalls_over_16ms"] = ticker.over(16)
        r["ticks"] = len(ticker.gaps)
        r["tick_gap_p99_ms"] = (
            ms(int(statistics.quantiles(ticker.gaps, n=100)[98])) if len(ticker.gaps) > 100 else 0
        )
        r["rows_total_after_catchup"] = model.total


def _baseline(args: argparse.Namespace) -> int:
    """The floor: interpreter + PySide6 + a bare 50-row QTableView, first paint."""
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QTableView

    app = QApplication(sys.argv[:1])
    model = QStandardItemModel(50, 7)
    for row in range(50):
        for col in range(7):
            model.setItem(row, col, QStandardItem(f"{row}/{col}"))
    view = QTableView()
    view.setModel(model)
    watcher = PaintWatcher(view.viewport())
    view.resize(1280, 800)
    view.show()
    result: dict[str, Any] = {}

    def check() -> None:
        end = watcher.painted_after(0)
        if end is None:
            QTimer.singleShot(1, check)
            return
        result["first_paint_ms"] = ms(end - args.spawn_ns)
        result["first_paint_from_script_ms"] = ms(end - _START_NS)
        result["resident_memory_mb"] = rss_mb()[0]
        print(MARK + json.dumps(result), flush=True)
        app.quit()

    QTimer.singleShot(0, check)
    return int(app.exec())


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the GUI (or the baseline)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.p5_child")
    parser.add_argument("--db", default="")
    parser.add_argument("--long-order", default="")
    parser.add_argument("--spawn-ns", type=int, default=_START_NS)
    parser.add_argument("--catchup", type=int, default=20_000)
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args(argv)
    if args.baseline:
        return _baseline(args)
    from desktop_app.__main__ import run

    probe = Probe(args)
    rc = run(["--db", args.db, "--no-sample-offer"], on_window=probe.attach)
    # The figures are printed; skip interpreter finalisation, where PySide6 6.12 sometimes
    # aborts ("none_dealloc") while garbage-collecting Qt wrappers.
    sys.stdout.flush()
    os._exit(rc)


if __name__ == "__main__":
    sys.exit(main())
