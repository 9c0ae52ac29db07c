"""P9 (export): CSV export of a 1,000,000-order list, and how responsive the window stays.

Goal (design/PERFORMANCE.md P9): CSV export of 1M orders ≤ 10 s with the GUI responsive.

File: P5's generator (``p5_build.build``: a real database whose read model holds 1,000,000
orders; ``--quick``: 50,000). Three contenders per round, alternating:

- **project**: ``application.export.export_orders_csv`` through the real query bus, the list's
  default sort (newest first), keyset pages of 5,000 — exactly what File ▸ Export list as CSV
  and ``desktop-app-admin export-orders`` run;
- **raw**: one ``sqlite3`` statement over ``rm_orders`` in the same order into ``csv.writer``
  with the same cell formatting — the physical limit;
- **gui**: the window's ``CsvExport`` (worker thread, progress dialog) under an offscreen
  ``QApplication`` while a 10 ms ``QTimer`` ticks on the GUI thread; the longest gap between
  ticks beyond the interval is the longest GUI-thread stall during the export.

``run(quick, rounds)`` prints a table and returns the figures.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, paired_ratios, render_table
from benchmarks.p5_build import build
from desktop_app.store.read_model_file import read_model_path

ORDERS = 1_000_000
QUICK_ORDERS = 50_000
GOAL_SECONDS = 10.0
TICK_MS = 10


def _project(app: Any, target: Path) -> tuple[float, int]:
    from desktop_app.application.export import export_orders_csv
    from desktop_app.application.queries import ListOrders

    started = time.perf_counter()
    with open(target, "w", encoding="utf-8", newline="") as out:
        rows = export_orders_csv(app.queries.ask, ListOrders(), out)
    return time.perf_counter() - started, rows


def _raw(path: Path, target: Path) -> tuple[float, int]:
    from desktop_app.application.export import CSV_HEADER, amount_text

    started = time.perf_counter()
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)  # the read model
    rows = 0
    try:
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(CSV_HEADER)
            cursor = con.execute(
                "SELECT order_number, customer_name, status, line_count, total_minor, currency,"
                " placed_at, updated_at, version FROM rm_orders"
                " ORDER BY placed_at DESC, order_id DESC"
            )
            while batch := cursor.fetchmany(5000):
                writer.writerows(
                    (n, c, s, str(lc), amount_text(t, cur), cur, p, u, str(v))
                    for n, c, s, lc, t, cur, p, u, v in batch
                )
                rows += len(batch)
    finally:
        con.close()
    return time.perf_counter() - started, rows


def _gui(app: Any, target: Path) -> tuple[float, int, float]:
    """(seconds, rows, longest GUI-thread stall in ms) for the window's export."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.application.queries import ListOrders
    from desktop_app.ui.orders.export_csv import CsvExport
    from desktop_app.ui.tasks import TaskRunner

    _qapp = QApplication.instance() or QApplication([])
    tasks = TaskRunner()
    export = CsvExport(app.queries, tasks, ListOrders(), target)
    loop = QEventLoop()
    result: dict[str, Any] = {}

    def finished(rows: int) -> None:
        result["rows"] = rows
        loop.quit()

    def failed(message: str) -> None:
        result["error"] = message
        loop.quit()

    export.finished.connect(finished)
    export.failed.connect(failed)
    gaps: list[float] = []
    clock = QElapsedTimer()
    ticker = QTimer()
    ticker.setInterval(TICK_MS)

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    ticker.timeout.connect(tick)
    clock.start()
    ticker.start()
    started = time.perf_counter()
    export.start()
    loop.exec()
    seconds = time.perf_counter() - started
    ticker.stop()
    tasks.wait_idle(60000)
    if "error" in result:
        raise RuntimeError(f"GUI export failed: {result['error']}")
    stall = max((g - TICK_MS for g in gaps), default=0.0)
    return seconds, int(result["rows"]), max(stall, 0.0)


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Build the file, export it ``rounds`` times per contender (alternating), report."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    orders = QUICK_ORDERS if quick else ORDERS
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-"))
    try:
        path = folder / "p9.sqlite3"
        log(f"P9 export: building a read model of {orders:,} orders")
        build(path, orders, long_events=100)
        app = bootstrap(Settings(db_path=path), source="bench")
        project: list[float] = []
        raw: list[float] = []
        gui: list[float] = []
        stalls: list[float] = []
        counted: set[int] = set()
        try:
            for number in range(rounds):
                log(f"P9 export: round {number + 1}/{rounds}")
                order = ("project", "raw", "gui") if number % 2 == 0 else ("gui", "raw", "project")
                for who in order:
                    target = folder / f"{who}.csv"
                    if who == "project":
                        seconds, rows = _project(app, target)
                        project.append(seconds)
                    elif who == "raw":
                        seconds, rows = _raw(path, target)
                        raw.append(seconds)
                    else:
                        seconds, rows, stall = _gui(app, target)
                        gui.append(seconds)
                        stalls.append(stall)
                    counted.add(rows)
                    target.unlink()
        finally:
            app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(counted) != 1:
        raise RuntimeError(f"the contenders exported different row counts: {sorted(counted)}")
    rows_exported = counted.pop()
    ratios = paired_ratios(project, raw)
    table = render_table(
        ("P9 export", "median s", "min–max s", "rows/s"),
        [
            (
                name,
                fmt(Stats.of(v).median),
                f"{fmt(min(v))}–{fmt(max(v))}",
                f"{rows_exported / statistics.median(v):,.0f}",
            )
            for name, v in (
                ("project (query bus)", project),
                ("raw sqlite3", raw),
                ("GUI export (worker)", gui),
            )
        ],
    )
    print(table)
    print(
        f"rows: {rows_exported:,}; project/raw time ratio median {statistics.median(ratios):.2f}; "
        f"longest GUI-thread stall during the GUI export: {max(stalls):.0f} ms "
        f"(median of rounds {statistics.median(stalls):.0f} ms); goal ≤ {GOAL_SECONDS:.0f} s: "
        f"{'met' if statistics.median(gui) <= GOAL_SECONDS else 'MISSED'}",
        flush=True,
    )
    return {
        "rows": rows_exported,
        "project_seconds": Stats.of(project).to_json(),
        "raw_seconds": Stats.of(raw).to_json(),
        "gui_seconds": Stats.of(gui).to_json(),
        "project_over_raw": Stats.of(ratios).to_json(),
        "gui_stall_ms_max": max(stalls),
        "gui_stall_ms": Stats.of(stalls).to_json(),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": statistics.median(gui) <= GOAL_SECONDS,
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
