"""P8: the shared PostgreSQL store, on a throwaway local server started for the run.

Goal (design/PERFORMANCE.md): the order workflow with 1 and 4 writer processes ≥ 1.5 ×
``eventsourcing``'s PostgreSQL recorder; a commit on one workstation → lists refreshed on
another p99 ≤ 150 ms; the copy rate SQLite → PostgreSQL at 1M events reported.

The server is ``tests/pg_cluster.py``'s throwaway cluster (``initdb`` + ``pg_ctl`` in a
temporary folder, as an unprivileged user when run as root), restarted with ``fsync`` and
full-page writes ON (the test cluster turns them off): commits are durable, as an office's
server would be. It is stopped and its folder removed at the end, also after a failure.

* **Workflow** (P1's: place with 1 line + 3 × add line + confirm = 5 commands per order, one
  transaction each): N writer processes (``benchmarks.p8_writer``) set up untimed, wait at a
  start line, then run ORDERS/N orders each at once; commands/s = all commands / (last end −
  first start). Order Desk goes through the full command bus (validation, de-duplication,
  snapshot policy, append under the advisory lock with the hash chain, command record);
  eventsourcing through ``repository.get`` + method + ``save`` (its recorder locks the table
  around each insert to keep notification ids in commit order). Fresh databases per round;
  rounds alternate the order of the contenders; ratios are paired per round.
* **Freshness across workstations**: workstation B (this process) runs Order Desk on the
  server with its projector driven as the projector job drives it (woken at once when the
  store signals news, else every ``projector_poll_seconds``) and a listener on the projector;
  workstation A (a child process) dispatches commands at a user's pace and prints each
  position with its commit time; latency = B's listener signal − A's commit.
* **Copy**: ``desktop-app-admin copy``'s engine (``store.postgres.copy``) on a generated file
  of 1M events (P3's generator; ``--quick``: 100k), copy and verification timed apart.

``run(quick, rounds) -> dict`` prints the tables and returns the figures.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, paired_ratios, render_table
from benchmarks.p4_freshness import Signals, percentile
from benchmarks.p8_writer import PRODUCTS, EsPgOrders, open_app
from desktop_app.application import commands as c
from desktop_app.store.postgres.copy import copy_to_server
from desktop_app.store.postgres.database import init_postgres

ROOT = Path(__file__).resolve().parents[1]
# The test suite's throwaway-cluster helper (tests/pg_cluster.py), loaded by name: it is test
# code outside mypy's files, and its pytest fixtures are not needed here.
_cluster: Any = importlib.import_module("tests.pg_cluster")
PgServer = Any
GOAL_RATIO = 1.5
GOAL_FRESH_P99_MS = 150.0
WRITERS = (1, 4)
CONTENDERS = ("project", "eventsourcing")


# ------------------------------------------------------------------------------ server


def start_server() -> PgServer:
    """The throwaway cluster, restarted with durable commits (fsync, full-page writes)."""
    bin_dir = _cluster.find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("P8 needs PostgreSQL (initdb/pg_ctl): `make system-deps` installs it")
    server = _cluster.start_cluster(bin_dir)
    try:
        assert server.folder is not None
        owner = server._proc_owner
        as_owner: dict[str, Any] = (
            {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={server.port} "
            f"-c unix_socket_directories='{server.folder}' -c fsync=on -c full_page_writes=on "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        subprocess.run(
            [
                *(str(bin_dir / "pg_ctl"), "-D", str(server.folder / "data"), "-o", options),
                *("-l", str(server.folder / "server.log"), "-w", "-t", "60", "restart"),
            ],
            capture_output=True,
            check=True,
            **as_owner,
        )
    except BaseException:
        server.stop()
        raise
    return server


def _settings(server: PgServer) -> dict[str, str]:
    import psycopg

    with psycopg.connect(server.admin_url) as con:
        rows = con.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'full_page_writes', 'server_version')"
        ).fetchall()
    return {str(k): str(v) for k, v in rows}


# ------------------------------------------------------------------------------ workflow


def _catalog(url: str) -> tuple[str, list[str]]:
    app = open_app(url)
    try:
        dispatch = app.commands.dispatch
        customer = dispatch(c.RegisterCustomer(name="Bench Customer")).aggregate_id
        products = [
            dispatch(
                c.AddProduct(
                    sku=f"SKU-{p:04d}",
                    name=f"Product {p}",
                    price=Decimal(f"{p + 1}.50"),
                    currency="EUR",
                )
            ).aggregate_id
            for p in range(PRODUCTS)
        ]
    finally:
        app.close()
    return customer, products


def _server_cpu(server: PgServer) -> float | None:
    """CPU seconds (user + system) of the cluster's processes now: the postmaster and its
    children (backends, WAL writer, …), from ``/proc``; None where that cannot be read."""
    try:
        assert server.folder is not None
        pid_file = server.folder / "data" / "postmaster.pid"
        postmaster = pid_file.read_text().split()[0]
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            fields = stat[stat.rindex(")") + 2 :].split()
            if entry.name == postmaster or fields[1] == postmaster:
                total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError, AssertionError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def _writers(server: PgServer, args: list[list[str]]) -> tuple[float, float, float | None]:
    """Start the writer processes, wait until each is ready, start them together; cmds/s and
    the CPU per command in µs of the writers (client) and of the server while they ran."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.p8_writer", *a],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for a in args
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            ready = proc.stdout.readline().strip()
            if ready != "ready":
                raise RuntimeError(f"a P8 writer did not start: {ready!r}")
        server_before = _server_cpu(server)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a P8 writer failed (exit {proc.wait()})")
            reports.append(json.loads(line))
        # Read while the writers' sessions still exist (a backend's counters go with it).
        server_after = _server_cpu(server)
        for proc in procs:
            proc.communicate("bye\n", timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"a P8 writer failed (exit {proc.returncode})")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    start = min(r["start"] for r in reports)
    end = max(r["end"] for r in reports)
    commands = sum(r["commands"] for r in reports)
    client = sum(r["cpu_s"] for r in reports) / commands * 1e6
    server_us = (
        None
        if server_before is None or server_after is None
        else (server_after - server_before) / commands * 1e6
    )
    return float(commands / ((end - start) / 1e9)), client, server_us


def _one(
    server: PgServer, contender: str, writers: int, orders: int
) -> tuple[float, float, float | None]:
    url = server.create_database()
    try:
        per_writer = max(1, orders // writers)
        if contender == "project":
            init_postgres(url)
            customer, products = _catalog(url)
            args = [
                ["project", url, str(per_writer), customer, ",".join(products)]
                for _ in range(writers)
            ]
        else:
            EsPgOrders(url).close()  # its tables, made once before the writers start
            args = [["eventsourcing", url, str(per_writer)] for _ in range(writers)]
        return _writers(server, args)
    finally:
        server.drop_database(url)


def workflow(server: PgServer, orders: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Commands/s of both contenders with 1 and 4 writers; paired ratios."""
    out: dict[str, Any] = {}
    for writers in WRITERS:
        figures: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        client: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        serving: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for index in range(warmup + rounds):
            order = CONTENDERS if index % 2 == 0 else tuple(reversed(CONTENDERS))
            for name in order:
                value, client_us, server_us = _one(server, name, writers, orders)
                on_server = "?" if server_us is None else f"{server_us:.0f}"
                log(
                    f"  P8 {writers} writer(s) round {index + 1}: {name} {fmt(value)} cmds/s "
                    f"(CPU per command: writers {client_us:.0f} µs, server {on_server} µs)"
                )
                if index >= warmup:
                    figures[name].append(value)
                    client[name].append(client_us)
                    if server_us is not None:
                        serving[name].append(server_us)
        ratios = paired_ratios(figures["project"], figures["eventsourcing"])
        out[f"{writers}_writers"] = {
            "project": Stats.of(figures["project"]).to_json(),
            "eventsourcing": Stats.of(figures["eventsourcing"]).to_json(),
            "ratio": Stats.of(ratios).to_json(),
            "goal": {"threshold": GOAL_RATIO, "met": statistics.median(ratios) >= GOAL_RATIO},
            # CPU per command (µs, medians): with every writer CPU-bound on a small machine,
            # throughput follows the writers' and the server's CPU together.
            "cpu_us_per_command": {
                name: {
                    "writers": statistics.median(client[name]),
                    "server": statistics.median(serving[name]) if serving[name] else None,
                }
                for name in CONTENDERS
            },
        }
    return out


# ------------------------------------------------------------------------------ freshness


def _drive(projector: Any, stop: threading.Event, poll: float) -> None:
    """The projector job's loop: run at once when woken (a commit signalled by the store),
    else every ``poll`` seconds."""
    while not stop.is_set():
        projector.woken.wait(poll)
        projector.woken.clear()
        projector.run_once()


def freshness(server: PgServer, count: int, rounds: int) -> dict[str, Any]:
    """Workstation A commits, workstation B's lists are refreshed: latencies in ms."""
    url = server.create_database()
    try:
        init_postgres(url)
        app = open_app(url)
        stop = threading.Event()
        try:
            customers = [
                app.commands.dispatch(c.RegisterCustomer(name=f"P8 Kunde {i}")).aggregate_id
                for i in range(5)
            ]
            products = [
                app.commands.dispatch(
                    c.AddProduct(
                        sku=f"P8-{i:03d}",
                        name=f"P8 Ware {i}",
                        price=Decimal("3.20"),
                        currency="EUR",
                    )
                ).aggregate_id
                for i in range(5)
            ]
            projector = app.projector
            assert projector is not None and app.settings is not None
            signals = Signals()
            projector.add_listener(signals)
            poll = app.settings.projector_poll_seconds
            driver = threading.Thread(target=_drive, args=(projector, stop, poll), daemon=True)
            driver.start()
            if not projector.wait_until(app.events.head_position(), 30.0):
                raise RuntimeError("P8: workstation B's projector did not catch up")
            latencies: list[float] = []
            p99s: list[float] = []
            for index in range(rounds):
                since = signals.mark()
                child = subprocess.run(
                    [
                        *(sys.executable, "-m", "benchmarks.p8_writer", "fresh", url),
                        *(str(count), str(300 + index), ",".join(customers), ",".join(products)),
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                if child.returncode != 0:
                    raise RuntimeError(f"P8 workstation A failed: {child.stderr[-2000:]}")
                values = []
                for line in child.stdout.splitlines():
                    position, committed = (int(x) for x in line.split())
                    at = signals.wait(position, 10.0, since=since)
                    if at is None:
                        raise RuntimeError(f"P8: position {position} never reached workstation B")
                    values.append(max(0, at - committed) / 1e6)
                latencies += values
                p99s.append(percentile(values, 99))
                log(
                    f"  P8 freshness round {index + 1}: p50 {statistics.median(values):.1f} ms "
                    f"p99 {p99s[-1]:.1f} ms"
                )
        finally:
            stop.set()
            app.close()
    finally:
        server.drop_database(url)
    p99 = percentile(latencies, 99)
    return {
        "p50_ms": statistics.median(latencies),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": p99,
        "max_ms": max(latencies),
        "n": len(latencies),
        "p99_per_round": p99s,
        "poll_seconds": poll,
        "goal": {"threshold": GOAL_FRESH_P99_MS, "met": p99 <= GOAL_FRESH_P99_MS},
    }


# ------------------------------------------------------------------------------ copy


def copy_rate(server: PgServer, events: int, rounds: int) -> dict[str, Any]:
    """``desktop-app-admin copy``'s engine on a generated file of ``events`` events."""
    from benchmarks.p3_rebuild import generate

    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p8-"))
    try:
        path = folder / "office.sqlite3"
        log(f"P8: generating a {events:,}-event file")
        generate(path, events)
        copy_rates: list[float] = []
        verify_rates: list[float] = []
        totals: list[float] = []
        for index in range(rounds):
            url = server.create_database()
            try:
                init_postgres(url)
                started = time.perf_counter()
                result = copy_to_server(path, url, batch=10_000)
                total = time.perf_counter() - started
            finally:
                server.drop_database(url)
            if not result.identical or result.events != events:
                raise RuntimeError(f"P8: the copy is not identical: {result.problems}")
            copy_rates.append(events / result.copy_seconds)
            verify_rates.append(events / result.verify_seconds)
            totals.append(total)
            log(
                f"  P8 copy round {index + 1}: copy {fmt(copy_rates[-1])} ev/s, verify "
                f"{fmt(verify_rates[-1])} ev/s, {total:.1f} s in all"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "events": events,
        "copy_events_per_s": Stats.of(copy_rates).to_json(),
        "verify_events_per_s": Stats.of(verify_rates).to_json(),
        "total_seconds": Stats.of(totals).to_json(),
    }


# ------------------------------------------------------------------------------ run


def run(quick: bool, rounds: int) -> dict[str, object]:
    """All three parts on one throwaway server (removed at the end)."""
    orders = 40 if quick else 200
    fresh_count = 25 if quick else 100
    copy_events = 100_000 if quick else 1_000_000
    log("P8: starting a throwaway PostgreSQL cluster")
    server = start_server()
    try:
        facts = _settings(server)
        log(f"P8: server {facts}")
        flow = workflow(server, orders, rounds, warmup=1)
        fresh = freshness(server, fresh_count, rounds)
        copied = copy_rate(server, copy_events, 1)
    finally:
        server.stop()
    return _report(flow, fresh, copied, facts, orders, rounds)


def _range(stats: dict[str, float]) -> str:
    return f"{fmt(stats['median'])} ({fmt(stats['min'])}–{fmt(stats['max'])})"


def _report(
    flow: dict[str, Any],
    fresh: dict[str, Any],
    copied: dict[str, Any],
    facts: dict[str, str],
    orders: int,
    rounds: int,
) -> dict[str, object]:
    met: Callable[[bool], str] = lambda ok: "MET" if ok else "MISSED"  # noqa: E731
    rows = []
    for writers in WRITERS:
        part = flow[f"{writers}_writers"]
        rows.append(
            [
                f"{writers} writer{'s' if writers > 1 else ''}",
                _range(part["project"]),
                _range(part["eventsourcing"]),
                _range(part["ratio"]),
                f">= {GOAL_RATIO}: {met(part['goal']['met'])}",
            ]
        )
    print(
        f"## P8 — shared PostgreSQL store (server {facts.get('server_version')}, fsync "
        f"{facts.get('fsync')}, synchronous_commit {facts.get('synchronous_commit')})"
    )
    print(f"order workflow, {orders * 5} commands per round, {rounds} rounds (cmds/s):")
    print(
        render_table(("writers", "Order Desk", "eventsourcing (PostgreSQL)", "ratio", "goal"), rows)
    )
    for writers in WRITERS:
        cpu = flow[f"{writers}_writers"]["cpu_us_per_command"]
        parts = []
        for name in CONTENDERS:
            on_server = cpu[name]["server"]
            shown = "?" if on_server is None else f"{on_server:.0f}"
            parts.append(f"{name} writers {cpu[name]['writers']:.0f} + server {shown}")
        print(f"CPU per command, {writers} writer(s) (µs): " + "; ".join(parts))
    print(
        "freshness across workstations (ms, commit on A → listener on B): "
        f"p50 {fresh['p50_ms']:.1f}, p90 {fresh['p90_ms']:.1f}, p99 {fresh['p99_ms']:.1f}, "
        f"max {fresh['max_ms']:.1f} (n={fresh['n']}, poll {fresh['poll_seconds']} s); "
        f"p99 <= {GOAL_FRESH_P99_MS:.0f} ms: {met(fresh['goal']['met'])}"
    )
    print(
        f"copy SQLite → PostgreSQL, {copied['events']:,} events: copy "
        f"{_range(copied['copy_events_per_s'])} ev/s, verify "
        f"{_range(copied['verify_events_per_s'])} ev/s, "
        f"{copied['total_seconds']['median']:.1f} s in all",
        flush=True,
    )
    goals_ok = all(flow[f"{w}_writers"]["goal"]["met"] for w in WRITERS) and bool(
        fresh["goal"]["met"]
    )
    return {
        "server": facts,
        "orders_per_round": orders,
        "rounds": rounds,
        "workflow": flow,
        "freshness": fresh,
        "copy": copied,
        "goals_met": goals_ok,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv, rounds=3)))
