"""P3: rebuild every read model from 1,000,000 events, beside a raw scan+decode of the same events.

Goal (design/PERFORMANCE.md): ≥ 100k events/s (≤ 10 s for 1M), with progress; reported as a
ratio to a raw ``sqlite3`` scan of the same rows and columns with ``json.loads`` of each
payload, measured in the same run, alternating (A B, B A, …), paired per round.

The log is generated once per run into a temporary file: realistic order lifecycles (placed,
1–5 lines, some quantity changes and removals, confirmed/shipped/delivered/cancelled, a few
old-schema events that need upcasting), interleaved across in-flight orders, with catalog
events (registrations, renames, price changes, discontinuations) sprinkled in. Rows are built
by the store's own code (``records.encode``-style JSON text, ``build_rows`` for positions,
versions and the hash chain) and inserted directly, so the file is what the app would write.

During every timed rebuild a clerk in another process (``benchmarks.p3_clerk``) places, extends
and confirms orders, one command every 20 ms; the longest of its commands that overlapped the
rebuild is reported beside the rate (goal: ≤ 250 ms, none failed, R34).

``run(quick, rounds)`` prints a table and returns the figures; ``--quick`` uses 100k events.
"""

from __future__ import annotations

import gc
import itertools
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, paired_ratios, render_table
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.projector.runner import SCAN_SHARE
from desktop_app.store.hashing import GENESIS_HASH, Row, to_json_text, utc_text
from desktop_app.store.records import build_rows

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
GOAL_EVENTS_PER_SECOND = 100_000.0
GOAL_SECONDS_PER_MILLION = 10.0

_COLUMNS = "position, stream_id, version, type_name, schema_version, payload, recorded_at"
_SCAN = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position"  # noqa: S608
_INSERT = (
    "INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_FIRST_NAMES = ("Müller", "Café", "Łódź", "Ørestad", "Åkesson", "Société", "Hernández", "Kovács")
_SUFFIXES = ("GmbH", "Ltd", "S.L.", "AB", "Oy", "BV", "Kft.", "& Co")
_PRODUCTS = ("Mug", "Tea Tin", "Espresso 1 kg", "Notebook A5", "Gel Pens", "Desk Lamp", "Cable")


# ------------------------------------------------------------------------------ the log


@dataclass
class _Order:
    """One in-flight order: its remaining events are produced one at a time."""

    order_id: str
    stream_id: str
    script: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    step: int = 0


@dataclass
class _Generator:
    """Builds realistic event rows with the store's own encoding and hash chain."""

    rnd: random.Random
    position: int = 0
    prev_hash: str = GENESIS_HASH
    moment: datetime = field(default_factory=lambda: datetime(2024, 1, 1, 8, 0, tzinfo=UTC))
    versions: dict[str, int] = field(default_factory=dict)
    customers: list[tuple[str, str]] = field(default_factory=list)
    products: list[tuple[str, str, str, str]] = field(default_factory=list)
    discontinued: set[str] = field(default_factory=set)
    order_number: int = 0
    meta_base: dict[str, str] = field(
        default_factory=lambda: {
            "app_version": "1.0.0",
            "host": "bench-host",
            "source": "gui",
            "user": "bench",
        }
    )

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    def row(self, stream_id: str, type_name: str, schema: int, payload: dict[str, Any]) -> Row:
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        self.moment += timedelta(microseconds=self.rnd.randrange(200, 5000))
        command = self.new_id()
        meta = to_json_text({**self.meta_base, "causation_id": command, "correlation_id": command})
        encoded = [(self.new_id(), type_name, schema, to_json_text(payload), meta)]
        (row,) = build_rows(
            stream_id, version, self.position + 1, self.prev_hash, utc_text(self.moment), encoded
        )
        self.position = row[0]
        self.prev_hash = row[10]
        return row

    # --- catalog

    def customer_registered(self) -> Row:
        cid = self.new_id()
        name = f"{self.rnd.choice(_FIRST_NAMES)} {len(self.customers)} {self.rnd.choice(_SUFFIXES)}"
        self.customers.append((cid, name))
        return self.row(
            f"customer-{cid}", "CustomerRegistered", 1, {"customer_id": cid, "name": name}
        )

    def product_added(self) -> Row:
        pid = self.new_id()
        sku = f"SKU-{len(self.products):05d}"
        name = f"{self.rnd.choice(_PRODUCTS)} {len(self.products)}"
        price = f"{self.rnd.randrange(99, 9999) / 100:.2f}"
        self.products.append((pid, sku, name, price))
        payload = {
            "product_id": pid,
            "sku": sku,
            "name": name,
            "price": {"amount": price, "currency": "EUR"},
        }
        return self.row(f"product-{pid}", "ProductAdded", 1, payload)

    def catalog_change(self) -> Row:
        roll = self.rnd.random()
        if roll < 0.35:
            return self.customer_registered()
        if roll < 0.6:
            i = self.rnd.randrange(len(self.customers))
            cid, old = self.customers[i]
            name = f"{old.split(' #')[0]} #{self.rnd.randint(1, 99)}"
            if name == old:  # the app refuses a rename to the same name (verify flags one)
                name = f"{old.split(' #')[0]} #{int(old.rsplit('#', 1)[1]) % 99 + 1}"
            self.customers[i] = (cid, name)
            payload: dict[str, Any] = {"customer_id": cid, "name": name}
            return self.row(f"customer-{cid}", "CustomerRenamed", 1, payload)
        i = self.rnd.randrange(len(self.products))
        pid, sku, name, price = self.products[i]
        # Only what the app would accept: no price change or second discontinuation of a
        # discontinued product (a rename instead), no rename or price change to the same value.
        if roll < 0.75 or pid in self.discontinued:
            old = name
            name = f"{old.split(' (')[0]} ({self.rnd.randint(1, 99)})"
            if name == old:
                name = f"{old.split(' (')[0]} ({int(old.rsplit('(', 1)[1][:-1]) % 99 + 1})"
            self.products[i] = (pid, sku, name, price)
            payload = {"product_id": pid, "name": name}
            return self.row(f"product-{pid}", "ProductRenamed", 1, payload)
        if roll < 0.97:
            old = price
            price = f"{self.rnd.randrange(99, 9999) / 100:.2f}"
            if price == old:
                price = f"{float(old) + 0.01:.2f}"
            self.products[i] = (pid, sku, name, price)
            payload = {"product_id": pid, "price": {"amount": price, "currency": "EUR"}}
            return self.row(f"product-{pid}", "ProductPriceChanged", 1, payload)
        self.discontinued.add(pid)
        payload = {"product_id": pid}
        return self.row(f"product-{pid}", "ProductDiscontinued", 1, payload)

    # --- orders

    def new_order(self) -> _Order:
        rnd = self.rnd
        oid = self.new_id()
        self.order_number += 1
        cid, cname = rnd.choice(self.customers)
        script: list[tuple[str, int, dict[str, Any]]] = [
            (
                "OrderPlaced",
                1,
                {
                    "order_id": oid,
                    "order_number": f"SO-{self.order_number:07d}",
                    "customer_id": cid,
                    "customer_name": cname,
                    "currency": "EUR",
                },
            )
        ]
        lines: list[str] = []
        quantities: dict[str, int] = {}
        for _ in range(rnd.choice((1, 1, 2, 2, 2, 3, 3, 4, 5))):
            pid, sku, pname, price = rnd.choice(self.products)
            line_id = self.new_id()
            lines.append(line_id)
            quantities[line_id] = quantity = rnd.randint(1, 9)
            script.append(
                (
                    "OrderLineAdded",
                    1,
                    {
                        "order_id": oid,
                        "line_id": line_id,
                        "product_id": pid,
                        "sku": sku,
                        "product_name": pname,
                        "quantity": quantity,
                        "unit_price": {"amount": price, "currency": "EUR"},
                    },
                )
            )
        if rnd.random() < 0.12:
            changed = rnd.choice(lines)
            new_quantity = rnd.randint(1, 20)
            if new_quantity == quantities[changed]:
                # The app refuses a change to the same quantity (verify would flag it).
                new_quantity = new_quantity % 20 + 1
            payload = {"order_id": oid, "line_id": changed, "quantity": new_quantity}
            script.append(("OrderLineQuantityChanged", 1, payload))
        if len(lines) > 1 and rnd.random() < 0.06:
            script.append(("OrderLineRemoved", 1, {"order_id": oid, "line_id": lines[-1]}))
        end = rnd.random()
        if end < 0.08:  # still pending
            pass
        elif end < 0.15:  # cancelled while pending
            script.append(self._cancelled(oid))
        else:
            script.append(("OrderConfirmed", 1, {"order_id": oid}))
            if end < 0.25:
                pass
            elif end < 0.30:
                script.append(self._cancelled(oid))
            else:
                tracking = f"TRK{rnd.randrange(10**9):09d}"
                if rnd.random() < 0.05:  # written by an older version: upcast on read
                    script.append(("OrderShipped", 1, {"order_id": oid, "tracking": tracking}))
                else:
                    payload = {"order_id": oid, "tracking_number": tracking, "carrier": "DHL"}
                    script.append(("OrderShipped", 2, payload))
                if end < 0.88:
                    script.append(("OrderDelivered", 1, {"order_id": oid}))
        return _Order(order_id=oid, stream_id=f"order-{oid}", script=script)

    def _cancelled(self, oid: str) -> tuple[str, int, dict[str, Any]]:
        if self.rnd.random() < 0.1:
            return ("OrderCancelled", 1, {"order_id": oid})
        return ("OrderCancelled", 2, {"order_id": oid, "reason": "customer asked"})

    def rows(self, count: int) -> Iterator[Row]:
        """``count`` rows: the catalog first, then interleaved order lifecycles."""
        rnd = self.rnd
        emitted = 0
        for _ in range(min(2_000, count // 200 + 20)):
            yield self.customer_registered()
            emitted += 1
        for _ in range(min(1_000, count // 400 + 10)):
            yield self.product_added()
            emitted += 1
        flying: list[_Order] = []
        while emitted < count:
            if rnd.random() < 0.004:
                yield self.catalog_change()
                emitted += 1
                continue
            if len(flying) < 64:
                flying.append(self.new_order())
            i = rnd.randrange(len(flying))
            order = flying[i]
            type_name, schema, payload = order.script[order.step]
            order.step += 1
            if order.step == len(order.script):
                flying[i] = flying[-1]
                flying.pop()
            yield self.row(order.stream_id, type_name, schema, payload)
            emitted += 1


def generate(path: Path, count: int, *, seed: int = 3) -> float:
    """Create an Order Desk file at ``path`` holding ``count`` generated events; seconds taken."""
    started = time.perf_counter()
    bootstrap(Settings(db_path=path), source="bench").close()  # schema + read-model tables
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        gen = _Generator(random.Random(seed))
        batch: list[Row] = []
        for row in gen.rows(count):
            batch.append(row)
            if len(batch) >= 50_000:
                con.execute("BEGIN")
                con.executemany(_INSERT, batch)
                con.execute("COMMIT")
                batch = []
                log(f"  generated {row[0]:,} events")
        if batch:
            con.execute("BEGIN")
            con.executemany(_INSERT, batch)
            con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------ contenders


CLERK_INTERVAL = 0.02
"""Seconds between two commands of the clerk process that works during every rebuild."""
GOAL_COMMAND_WAIT_SECONDS = 0.25


@dataclass
class RebuildRun:
    """One timed ``projector.rebuild``, with a clerk's commands in another process meanwhile."""

    seconds: float
    events: int
    progress_calls: int
    first_progress_s: float
    max_progress_gap_s: float
    scan_s: float = 0.0
    """Seconds of the scan and in-memory fold (the rest is the write: rows, indexes, copy)."""
    commands: int = 0
    """Commands of the clerk that overlapped the rebuild."""
    failed: int = 0
    longest_command_s: float = 0.0
    median_command_s: float = 0.0


class Clerk:
    """``benchmarks.p3_clerk`` in its own process: commands every CLERK_INTERVAL seconds."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.p3_clerk", str(path), str(CLERK_INTERVAL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if ready.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the clerk did not start: {ready!r}")

    def finish(self) -> list[tuple[float, float, str | None]]:
        """Stop it; every command as (wall-clock start, seconds, error or None)."""
        out, _ = self.proc.communicate("", timeout=120)
        return [(float(a), float(b), e) for a, b, e in json.loads(out.strip().splitlines()[-1])]


def scan_seconds(started: float, calls: list[tuple[float, int, int]], seconds: float) -> float:
    """Seconds from ``started`` until the rebuild's write began: the first progress call
    ``(time, done, total)`` at or past the scan's share of the total (the scan reports less,
    the write starts at that share, see ``ProjectorRunner.rebuild``); ``seconds`` (all of it)
    if the write never reported."""
    for stamp, done, total in calls:
        if total > 0 and done >= int(total * SCAN_SHARE):
            return stamp - started
    return seconds


def time_rebuild(path: Path) -> RebuildRun:
    """Open the app (untimed), start the clerk, then time ``projector.rebuild(progress)``;
    the clerk's commands that overlapped the rebuild are reported with it."""
    app = bootstrap(Settings(db_path=path), source="bench", create=False)
    clerk: Clerk | None = None
    try:
        clerk = Clerk(path)
        projector = app.projector
        assert projector is not None
        calls: list[tuple[float, int, int]] = []

        def progress(done: int, total: int) -> None:
            calls.append((time.perf_counter(), done, total))

        gc.collect()
        wall = time.time()
        started = time.perf_counter()
        applied = projector.rebuild(progress)
        seconds = time.perf_counter() - started
        status = projector.status()
        if status.last_error is not None or status.checkpoint < applied:
            raise RuntimeError(f"rebuild failed: {status.last_error}")
        timings = clerk.finish()
        clerk = None
        during = [(t, e) for w, t, e in timings if w < wall + seconds and w + t > wall]
        waits = sorted(t for t, _ in during)
        stamps = [stamp for stamp, _, _ in calls]
        marks = [started, *stamps]
        gaps = [b - a for a, b in itertools.pairwise(marks)]
        return RebuildRun(
            seconds=seconds,
            events=applied,
            progress_calls=len(stamps),
            first_progress_s=(stamps[0] - started) if stamps else seconds,
            max_progress_gap_s=max(gaps) if gaps else seconds,
            scan_s=scan_seconds(started, calls, seconds),
            commands=len(during),
            failed=sum(1 for _, e in during if e is not None),
            longest_command_s=waits[-1] if waits else 0.0,
            median_command_s=waits[len(waits) // 2] if waits else 0.0,
        )
    finally:
        if clerk is not None:
            clerk.proc.kill()
            clerk.proc.wait()
        app.close()


def time_raw_scan(path: Path) -> tuple[float, int]:
    """Raw sqlite3: SELECT the same columns in position order, ``json.loads`` each payload."""
    con = sqlite3.connect(path)
    try:
        gc.collect()
        started = time.perf_counter()
        cursor = con.execute(_SCAN, (0,))
        cursor.arraysize = 50_000
        loads = json.loads
        count = 0
        while True:
            rows = cursor.fetchmany()
            if not rows:
                break
            for row in rows:
                loads(row[5])
            count += len(rows)
        return time.perf_counter() - started, count
    finally:
        con.close()


# ------------------------------------------------------------------------------ run


def log_file(folder: Path, keep_at: Path | None, count: int) -> tuple[Path, float, int]:
    """The log to rebuild from, its generation's seconds and its events: generated into
    ``folder``; or kept at ``keep_at`` to be used again: generated there if it is not there
    yet, else used as it is (0 s; its events counted: the clerks of earlier runs added some).
    """
    if keep_at is not None and keep_at.exists():
        con = sqlite3.connect(keep_at)
        try:
            events = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            con.close()
        log(f"P3: using the log kept at {keep_at}: {events:,} events")
        return keep_at, 0.0, events
    path = keep_at if keep_at is not None else folder / "p3.sqlite3"
    log(f"P3: generating {count:,} events into {path}")
    gen_seconds = generate(path, count)
    log(f"P3: generated in {gen_seconds:.1f} s; {path.stat().st_size / 1e6:.0f} MB")
    return path, gen_seconds, count


def run(quick: bool, rounds: int, keep_log: Path | None = None) -> dict[str, object]:
    """Generate the log (or use the one kept at ``keep_log``, see :func:`log_file`), then
    alternate rebuild / raw scan for ``rounds`` rounds (after one warm-up pair); print the
    table and return the figures."""
    count = QUICK_EVENTS if quick else FULL_EVENTS
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p3-"))
    try:
        path, gen_seconds, count = log_file(folder, keep_log, count)
        project: list[float] = []
        raw: list[float] = []
        seconds: list[float] = []
        runs: list[RebuildRun] = []
        for index in range(rounds + 1):
            order = ("rebuild", "raw") if index % 2 == 0 else ("raw", "rebuild")
            figures: dict[str, float] = {}
            for name in order:
                if name == "rebuild":
                    result = time_rebuild(path)
                    figures[name] = result.events / result.seconds
                    if index:
                        runs.append(result)
                        seconds.append(result.seconds)
                else:
                    elapsed, scanned = time_raw_scan(path)
                    figures[name] = scanned / elapsed
            tag = f"round {index}/{rounds}" if index else "warm-up"
            log(
                f"  P3 {tag}: rebuild {figures['rebuild']:,.0f} ev/s, "
                f"raw scan+decode {figures['raw']:,.0f} ev/s"
            )
            if index:
                project.append(figures["rebuild"])
                raw.append(figures["raw"])
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _report(count, gen_seconds, project, raw, seconds, runs, peak_rss_mb)


def _report(
    count: int,
    gen_seconds: float,
    project: list[float],
    raw: list[float],
    seconds: list[float],
    runs: list[RebuildRun],
    peak_rss_mb: float,
) -> dict[str, object]:
    ratios = paired_ratios(project, raw)
    s_project, s_raw, s_ratio = Stats.of(project), Stats.of(raw), Stats.of(ratios)
    per_million = [s * 1_000_000 / count for s in seconds]
    s_seconds, s_million = Stats.of(seconds), Stats.of(per_million)
    rate_met = s_project.median >= GOAL_EVENTS_PER_SECOND
    time_met = s_million.median <= GOAL_SECONDS_PER_MILLION
    gaps = Stats.of([r.max_progress_gap_s for r in runs])
    scans = Stats.of([r.scan_s for r in runs])
    writes = Stats.of([r.seconds - r.scan_s for r in runs])
    calls = Stats.of([float(r.progress_calls) for r in runs])
    longest = Stats.of([r.longest_command_s for r in runs])
    median_command = Stats.of([r.median_command_s for r in runs])
    failed = sum(r.failed for r in runs)
    commands = sum(r.commands for r in runs)
    wait_met = longest.max <= GOAL_COMMAND_WAIT_SECONDS and failed == 0

    def verdict(met: bool) -> str:
        return "MET" if met else "MISSED"

    rows = [
        ["rebuild (projector.rebuild)", f"{fmt(s_project.median)} ev/s",
         f"{fmt(s_project.min)}–{fmt(s_project.max)}",
         f">= {GOAL_EVENTS_PER_SECOND:,.0f}: {verdict(rate_met)}"],
        ["raw scan+decode (sqlite3 + json.loads)", f"{fmt(s_raw.median)} ev/s",
         f"{fmt(s_raw.min)}–{fmt(s_raw.max)}", ""],
        ["ratio rebuild/raw (paired)", f"{s_ratio.median:.2f}",
         f"{s_ratio.min:.2f}–{s_ratio.max:.2f}", ""],
        [f"rebuild seconds ({count:,} events)", f"{s_seconds.median:.2f} s",
         f"{s_seconds.min:.2f}–{s_seconds.max:.2f}", ""],
        ["rebuild seconds per 1M events", f"{s_million.median:.2f} s",
         f"{s_million.min:.2f}–{s_million.max:.2f}",
         f"<= {GOAL_SECONDS_PER_MILLION:.0f} s: {verdict(time_met)}"],
        ["  of which scan + fold / write (rows, indexes, copy)",
         f"{scans.median:.2f} s / {writes.median:.2f} s",
         f"{scans.min:.2f}–{scans.max:.2f} s / {writes.min:.2f}–{writes.max:.2f} s", ""],
        ["progress calls / longest gap", f"{calls.median:.0f} / {gaps.median:.2f} s",
         f"{gaps.min:.2f}–{gaps.max:.2f} s", ""],
        ["longest command wait during a rebuild (other process)",
         f"{longest.median * 1e3:,.0f} ms", f"{longest.min * 1e3:,.0f}–{longest.max * 1e3:,.0f} ms",
         f"<= {GOAL_COMMAND_WAIT_SECONDS * 1e3:.0f} ms, none failed: {verdict(wait_met)}"],
        ["commands during the rebuilds / failed / median time",
         f"{commands:,} / {failed:,} / {median_command.median * 1e3:,.1f} ms", "", ""],
    ]  # fmt: skip
    print(f"## P3 — rebuild all read models from {count:,} events", flush=True)
    print(render_table(("figure", "median", "min–max", "goal"), rows), flush=True)
    print(
        f"  {f'generated in {gen_seconds:.1f} s' if gen_seconds else 'a kept log'}; "
        f"{len(project)} rounds, alternating; "
        f"peak RSS of the process {peak_rss_mb:,.0f} MB",
        flush=True,
    )
    return {
        "events": count,
        "rounds": len(project),
        "generate_seconds": gen_seconds,
        "rebuild_events_per_second": s_project.to_json() | {"rounds": project},
        "raw_events_per_second": s_raw.to_json() | {"rounds": raw},
        "ratio_rebuild_to_raw": s_ratio.to_json() | {"rounds": ratios},
        "rebuild_seconds": s_seconds.to_json() | {"rounds": seconds},
        "rebuild_seconds_per_million": s_million.to_json(),
        "scan_fold_seconds": scans.to_json() | {"rounds": [r.scan_s for r in runs]},
        "write_seconds": writes.to_json(),
        "progress_calls": calls.to_json(),
        "progress_max_gap_seconds": gaps.to_json(),
        "peak_rss_mb": peak_rss_mb,
        "longest_command_wait_seconds": longest.to_json()
        | {"rounds": [r.longest_command_s for r in runs]},
        "median_command_seconds": median_command.to_json(),
        "commands_during_rebuild": commands,
        "commands_failed_during_rebuild": failed,
        "goals": {
            "P3_command_wait": {
                "threshold": GOAL_COMMAND_WAIT_SECONDS,
                "max": longest.max,
                "failed": failed,
                "met": wait_met,
            },
            "P3_rate": {
                "threshold": GOAL_EVENTS_PER_SECOND,
                "median": s_project.median,
                "met": rate_met,
            },
            "P3_seconds_per_million": {
                "threshold": GOAL_SECONDS_PER_MILLION,
                "median": s_million.median,
                "met": time_met,
            },
        },
        "goals_met": rate_met and time_met and wait_met,
    }
