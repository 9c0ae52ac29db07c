"""P9 (``python -m benchmarks p9``): what anchors (R28) and the trigger check (R29) cost.

On a generated file of 1,000,000 events (``--quick``: 100,000): writing one anchor (the exit
and daily anchor: head, event count and the hash of event 1 read in one snapshot, one fsynced
line appended), checking the file against 1,000 anchors (what ``verify`` adds to the chain
check), the exact trigger comparison every writable open now makes, and a whole writable open
beside it. Medians of ``rounds`` rounds; no goal is set (the issue asks to report the cost).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import fmt, log, render_table
from benchmarks.p3_rebuild import generate
from desktop_app.store.anchors import check_file
from desktop_app.store.engine import open_database, trigger_reason
from desktop_app.store.maintenance import write_anchor

EVENTS = 1_000_000
QUICK_EVENTS = 100_000
ANCHORS = 1_000


def _median_ms(action: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Generate the file, time each operation, print the table, return the figures."""
    events = QUICK_EVENTS if quick else EVENTS
    rounds = max(rounds, 5)
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-"))
    try:
        path = folder / "p9.sqlite3"
        anchor_log = folder / "anchors" / "anchors.jsonl"
        log(f"P9: generating {events:,} events into {path}")
        generate(path, events)
        database = open_database(path)
        try:
            write = _median_ms(lambda: write_anchor(database, anchor_log, "exit"), rounds)
            for _ in range(ANCHORS):
                write_anchor(database, anchor_log, "exit")

            def check() -> None:
                with database.raw_read() as con:
                    report = check_file(con, db_path=path, log=anchor_log, sidecar_of=path)
                assert report.ok and len(report.checked) >= ANCHORS

            checked = _median_ms(check, rounds)
        finally:
            database.close()
        triggers = _median_ms(lambda: trigger_reason(path), rounds * 4)
        opened = _median_ms(lambda: open_database(path).close(), rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures: dict[str, object] = {
        "events": events,
        "anchor_write_ms": write[0],
        "anchor_check_1000_ms": checked[0],
        "trigger_check_ms": triggers[0],
        "writable_open_ms": opened[0],
    }
    rows = [
        [f"write one anchor ({events:,} events)", f"{fmt(write[0])} ms",
         f"{fmt(write[1])}–{fmt(write[2])} ms"],
        [f"check against {ANCHORS:,} anchors", f"{fmt(checked[0])} ms",
         f"{fmt(checked[1])}–{fmt(checked[2])} ms"],
        ["exact trigger check (every writable open)", f"{fmt(triggers[0])} ms",
         f"{fmt(triggers[1])}–{fmt(triggers[2])} ms"],
        ["whole writable open, for comparison", f"{fmt(opened[0])} ms",
         f"{fmt(opened[1])}–{fmt(opened[2])} ms"],
    ]  # fmt: skip
    print(f"## P9 — anchors and the append-only trigger check on {events:,} events")
    print(render_table(("figure", "median", "min–max"), rows))
    print()
    return figures
