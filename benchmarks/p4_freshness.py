"""P4: freshness — how soon a command's effect is in the read model and signalled to the GUI.

Goal (design/PERFORMANCE.md): p99 ≤ 50 ms when the command runs in the same process, ≤ 300 ms
when another process writes to the same file.

The app runs as the GUI runs it: the real background ``Jobs`` (``build_jobs``: the projector
job polling every ``projector_poll_seconds``, woken at once by an in-process commit, plus the
snapshot sweep and WAL checkpoint jobs) on a file that already holds a generated history
(P3's generator) and its read model. "Signalled" is the moment a projector listener — what the
GUI bridge subscribes to — fires with ``checkpoint >= result.position``.

* in-process: commands dispatched one at a time (a user's pace: a short random pause between
  them); latency = listener time − the moment ``dispatch`` returned;
* cross-process: a child process (``python -m benchmarks.p4_freshness --child …``) dispatches
  commands on the same file and prints each result's position with ``time.monotonic_ns()``
  (CLOCK_MONOTONIC: one clock for both processes on Linux); the parent's polling job notices
  through ``has_news`` (``PRAGMA data_version``); latency = listener time − child's time.

Workload: alternately a new order (two events) and a product price change (one event).
``run(quick, rounds)`` prints a table and returns the figures.
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from benchmarks.harness import log, render_table
from benchmarks.p3_rebuild import generate
from desktop_app.application import commands as c
from desktop_app.application.buses import CommandBus
from desktop_app.application.queries import ProjectorStatus
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.jobs import JobsConfig, build_jobs

GOAL_IN_PROCESS_MS = 50.0
GOAL_CROSS_PROCESS_MS = 300.0
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ workload


@dataclass
class Catalog:
    """The customers and products the measured commands use."""

    customers: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)


def seed_catalog(bus: CommandBus, count: int = 10) -> Catalog:
    """A few customers and products through the command bus."""
    catalog = Catalog()
    for i in range(count):
        catalog.customers.append(
            bus.dispatch(c.RegisterCustomer(name=f"P4 Kunde {i}")).aggregate_id
        )
        product = c.AddProduct(
            sku=f"P4-{i:03d}", name=f"P4 Ware {i}", price=Decimal("3.20"), currency="EUR"
        )
        catalog.products.append(bus.dispatch(product).aggregate_id)
    return catalog


def one_command(bus: CommandBus, catalog: Catalog, rnd: random.Random, i: int) -> int:
    """Dispatch the i-th measured command; returns the position of its last event."""
    if i % 2 == 0:
        line = c.LineInput(product_id=rnd.choice(catalog.products), quantity=rnd.randint(1, 5))
        command: c.Command = c.PlaceOrder(customer_id=rnd.choice(catalog.customers), lines=(line,))
    else:
        price = Decimal(rnd.randrange(100, 9999)) / 100
        command = c.ChangeProductPrice(product_id=rnd.choice(catalog.products), price=price)
    return bus.dispatch(command).position


# ------------------------------------------------------------------------------ measuring


class Signals:
    """Every projector status the listener saw, with ``time.monotonic_ns()``."""

    def __init__(self) -> None:
        self._seen: list[tuple[int, int]] = []
        self._changed = threading.Condition()

    def __call__(self, status: ProjectorStatus) -> None:
        now = time.monotonic_ns()
        with self._changed:
            self._seen.append((status.checkpoint, now))
            self._changed.notify_all()

    def first_at_or_after(self, position: int, *, since: int = 0) -> int | None:
        """monotonic_ns of the first signal (from index ``since``) with checkpoint ≥ position."""
        with self._changed:
            seen = list(self._seen)
        for checkpoint, at in seen[since:]:
            if checkpoint >= position:
                return at
        return None

    def mark(self) -> int:
        """An index to search from later (signals before it are ignored)."""
        with self._changed:
            return len(self._seen)

    def wait(self, position: int, timeout: float, *, since: int = 0) -> int | None:
        """Block until a signal with checkpoint ≥ position arrives; its time, or None."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for checkpoint, at in self._seen[since:]:
                    if checkpoint >= position:
                        return at
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def in_process(app: App, catalog: Catalog, signals: Signals, count: int, seed: int) -> list[float]:
    """Latencies (ms) from dispatch return to the listener signal, one command at a time."""
    rnd = random.Random(seed)
    out: list[float] = []
    for i in range(count):
        since = signals.mark()
        position = one_command(app.commands, catalog, rnd, i)
        returned = time.monotonic_ns()
        at = signals.wait(position, 5.0, since=since)
        if at is None:
            raise RuntimeError(f"in-process: position {position} never signalled")
        out.append(max(0, at - returned) / 1e6)
        time.sleep(rnd.uniform(0.005, 0.03))
    return out


def cross_process(
    db: Path, catalog: Catalog, signals: Signals, count: int, seed: int
) -> list[float]:
    """Latencies (ms) from a child's commit to this process's listener signal."""
    since = signals.mark()
    args = [
        sys.executable,
        "-m",
        "benchmarks.p4_freshness",
        "--child",
        str(db),
        str(count),
        str(seed),
        ",".join(catalog.customers),
        ",".join(catalog.products),
    ]
    child = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"P4 child failed: {child.stderr[-2000:]}")
    stamps = [tuple(int(x) for x in line.split()) for line in child.stdout.split("\n") if line]
    out: list[float] = []
    for position, committed in stamps:
        at = signals.wait(position, 5.0, since=since)
        if at is None:
            raise RuntimeError(f"cross-process: position {position} never signalled")
        out.append(max(0, at - committed) / 1e6)
    return out


def child_main(argv: list[str]) -> int:
    """The writer process: dispatch commands, print ``position monotonic_ns`` after each."""
    db, count, seed = Path(argv[0]), int(argv[1]), int(argv[2])
    catalog = Catalog(customers=argv[3].split(","), products=argv[4].split(","))
    app = bootstrap(Settings(db_path=db), source="bench-child", create=False)
    try:
        rnd = random.Random(seed)
        for i in range(count):
            position = one_command(app.commands, catalog, rnd, i)
            print(position, time.monotonic_ns(), flush=True)
            time.sleep(rnd.uniform(0.02, 0.08))  # commits arrive at random phases of the poll
    finally:
        app.close()
    return 0


# ------------------------------------------------------------------------------ run


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "n": float(len(values)),
    }


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Measure both latencies ``rounds`` times (pooled); print the table, return the figures."""
    history = 20_000 if quick else 100_000
    per_round_in = 50 if quick else 200
    per_round_cross = 25 if quick else 100
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p4-"))
    try:
        db = folder / "p4.sqlite3"
        log(f"P4: generating a {history:,}-event history")
        generate(db, history)
        settings = Settings(db_path=db)
        app = bootstrap(settings, source="bench")
        try:
            assert app.projector is not None
            app.projector.rebuild()
            catalog = seed_catalog(app.commands)
            signals = Signals()
            app.projector.add_listener(signals)
            config = JobsConfig.from_settings(settings)
            jobs = build_jobs(app, config, backups=False)
            jobs.start()
            try:
                if not app.projector.wait_until(app.events.head_position(), 10.0):
                    raise RuntimeError("P4: the projector did not catch up before measuring")
                inside: list[float] = []
                across: list[float] = []
                p99_in: list[float] = []
                p99_cross: list[float] = []
                for index in range(rounds):
                    a = in_process(app, catalog, signals, per_round_in, seed=100 + index)
                    b = cross_process(db, catalog, signals, per_round_cross, seed=200 + index)
                    inside += a
                    across += b
                    p99_in.append(percentile(a, 99))
                    p99_cross.append(percentile(b, 99))
                    log(
                        f"  P4 round {index + 1}/{rounds}: in-process p50 "
                        f"{statistics.median(a):.1f} ms p99 {p99_in[-1]:.1f} ms; cross-process "
                        f"p50 {statistics.median(b):.1f} ms p99 {p99_cross[-1]:.1f} ms"
                    )
            finally:
                jobs.shutdown(wait=True)
        finally:
            app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _report(
        inside, across, p99_in, p99_cross, history, config.projector_poll_seconds, rounds
    )


def _report(
    inside: list[float],
    across: list[float],
    p99_in: list[float],
    p99_cross: list[float],
    history: int,
    poll: float,
    rounds: int,
) -> dict[str, object]:
    s_in, s_cross = _summary(inside), _summary(across)
    met_in = s_in["p99"] <= GOAL_IN_PROCESS_MS
    met_cross = s_cross["p99"] <= GOAL_CROSS_PROCESS_MS
    rows = []
    for label, s, goal, met, per_round in (
        ("in-process (woken)", s_in, GOAL_IN_PROCESS_MS, met_in, p99_in),
        ("cross-process (polled)", s_cross, GOAL_CROSS_PROCESS_MS, met_cross, p99_cross),
    ):
        rows.append(
            [
                label,
                f"{s['n']:.0f}",
                f"{s['p50']:.1f}",
                f"{s['p90']:.1f}",
                f"{s['p99']:.1f}",
                f"{s['max']:.1f}",
                f"{min(per_round):.1f}–{max(per_round):.1f}",
                f"p99 <= {goal:.0f} ms: " + ("MET" if met else "MISSED"),
            ]
        )
    print(f"## P4 — freshness (ms from commit to listener signal; {history:,}-event history)")
    print(
        render_table(
            ("path", "n", "p50", "p90", "p99", "max", "p99 per round", "goal"),
            rows,
        )
    )
    print(f"  projector poll interval {poll:.2f} s; {rounds} rounds pooled", flush=True)
    return {
        "history_events": history,
        "poll_seconds": poll,
        "rounds": rounds,
        "in_process_ms": s_in | {"p99_per_round": p99_in},
        "cross_process_ms": s_cross | {"p99_per_round": p99_cross},
        "goals": {
            "P4_in_process_p99": {"threshold": GOAL_IN_PROCESS_MS, "met": met_in},
            "P4_cross_process_p99": {"threshold": GOAL_CROSS_PROCESS_MS, "met": met_cross},
        },
        "goals_met": met_in and met_cross,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        raise SystemExit(child_main(sys.argv[2:]))
    run(quick="--quick" in sys.argv, rounds=3)
