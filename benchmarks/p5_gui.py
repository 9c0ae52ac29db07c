"""P5: the GUI over 1,000,000 orders (``--quick``: 100,000).

Goals (design/PERFORMANCE.md): first paint ≤ 1 s from launch, a filter or sort change
≤ 150 ms, no GUI-thread stall > 50 ms while the projector catches up, the timeline of a
10,000-event order ≤ 300 ms, resident memory ≤ 300 MB.

The file is built once per run (``benchmarks.p5_build``): a real database with the sample
catalog, a few hundred real orders and one 10,000-event order written through the application,
then **the remaining orders inserted directly into the read model** (``rm_orders`` + some
``rm_order_lines``), checkpoint at the log's head, ANALYZE. Every round copies that file and
launches the real program in a fresh interpreter (``benchmarks.p5_child``, offscreen Qt,
isolated settings folders) so "first paint from launch" includes interpreter start, imports,
bootstrap and the first query. In the same child it then measures filter and sort changes,
deep scrolls, resident memory, the longest GUI-thread stall (5 ms ticker) while its projector
catches up with 20,000 events appended by another process, and the history timeline of the
10,000-event order. Rounds alternate with a bare-PySide6 baseline child (a 50-row QTableView)
so the first paint can be read against the floor of this machine in the same run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, render_table
from benchmarks.p5_build import BuiltDatabase, build
from desktop_app.store.read_model_file import read_model_path

FULL_ORDERS = 1_000_000
QUICK_ORDERS = 100_000
CATCHUP_EVENTS = 20_000
CHILD_TIMEOUT_S = 600
MARK = "P5-RESULT "

# (figure, goal, unit, what) — names as in design/PERFORMANCE.md's P5 line.
GOALS: tuple[tuple[str, float, str, str], ...] = (
    ("first_paint_ms", 1000.0, "ms", "first paint from launch (rows shown)"),
    ("filter_change_ms", 150.0, "ms", "filter change (worst of the round)"),
    ("sort_change_ms", 150.0, "ms", "sort change (worst of the round)"),
    ("gui_stall_ms", 50.0, "ms", "longest GUI-thread stall while the projector catches up"),
    ("timeline_10k_ms", 300.0, "ms", "timeline of a 10,000-event order"),
    ("resident_memory_mb", 300.0, "MB", "resident memory (after deep scrolls + timeline)"),
)
INFO: tuple[tuple[str, str, str], ...] = (
    ("filter_change_median_ms", "ms", "filter change (median of the round)"),
    ("sort_change_median_ms", "ms", "sort change (median of the round)"),
    ("search_ms", "ms", "search 'SO-0500' (text search, full scan)"),
    ("scroll_middle_ms", "ms", "scroll to the middle (deep page)"),
    ("scroll_end_ms", "ms", "scroll to the end (deepest page)"),
    ("scroll_filtered_end_ms", "ms", "scroll to the end, status=shipped by Customer"),
    ("window_shown_ms", "ms", "launch → main window connected to the open database"),
    ("first_rows_arrived_ms", "ms", "launch → first page + total in the model"),
    ("interpreter_start_ms", "ms", "launch → first line of the child script"),
    ("idle_tick_max_ms", "ms", "longest ticker gap while idle (timer floor)"),
    ("gui_stalls_over_50ms", "", "ticker gaps > 50 ms during catch-up"),
    ("tick_gap_p99_ms", "ms", "p99 ticker gap during catch-up"),
    ("catchup_seconds", "s", "catch-up of 20,000 events (writer start → checkpoint)"),
    ("timeline_10k_warm_ms", "ms", "timeline of the 10,000-event order, median of 3 loads"),
    ("rss_peak_mb", "MB", "peak resident memory (VmHWM)"),
    ("baseline_first_paint_ms", "ms", "baseline: bare PySide6 QTableView first paint"),
    ("first_paint_over_baseline", "×", "first paint / baseline (paired per round)"),
)


def _child_env(home: Path) -> dict[str, str]:
    # Bytecode is cached as on a clerk's machine (an inherited PYTHONDONTWRITEBYTECODE would
    # make every child compile all the sources and "first paint" measure the compiler).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        env[var] = str(home / sub)
    return env


def _spawn(args: Sequence[str], home: Path) -> dict[str, Any]:
    """Run one child; its ``P5-RESULT`` line as a dict (``error`` on failure)."""
    home.mkdir(parents=True, exist_ok=True)
    spawn_ns = time.perf_counter_ns()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.p5_child", *args, "--spawn-ns", str(spawn_ns)],
        env=_child_env(home),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK) :])
            return result
    tail = "\n".join(proc.stderr.splitlines()[-15:])
    return {"error": f"child exited {proc.returncode} without figures:\n{tail}"}


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _round_figures(gui: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """The per-round figures (goal names + informational ones) from the child's JSON."""
    filters = _finite(list(gui.get("filter_changes_ms", {}).values()))
    sorts = _finite(list(gui.get("sort_changes_ms", {}).values()))
    scrolls = gui.get("scrolls_ms", {})
    out: dict[str, float] = {
        "first_paint_ms": gui["first_paint_ms"],
        "filter_change_ms": max(filters) if filters else math.nan,
        "sort_change_ms": max(sorts) if sorts else math.nan,
        "gui_stall_ms": gui.get("gui_stall_ms", math.nan),
        "timeline_10k_ms": gui.get("timeline_10k_ms", math.nan),
        "resident_memory_mb": gui.get("resident_memory_mb", math.nan),
        "filter_change_median_ms": statistics.median(filters) if filters else math.nan,
        "sort_change_median_ms": statistics.median(sorts) if sorts else math.nan,
        "search_ms": gui.get("search_ms", {}).get("number 'SO-0500'", math.nan),
        "scroll_middle_ms": scrolls.get("middle", math.nan),
        "scroll_end_ms": scrolls.get("end", math.nan),
        "scroll_filtered_end_ms": scrolls.get("end, status=shipped by Customer", math.nan),
        "timeline_10k_warm_ms": statistics.median(_finite(gui.get("timeline_10k_runs_ms", [])))
        if _finite(gui.get("timeline_10k_runs_ms", []))
        else math.nan,
    }
    for key in (
        "window_shown_ms",
        "first_rows_arrived_ms",
        "interpreter_start_ms",
        "idle_tick_max_ms",
        "gui_stalls_over_50ms",
        "tick_gap_p99_ms",
        "catchup_seconds",
        "rss_peak_mb",
    ):
        out[key] = float(gui.get(key, math.nan))
    out["baseline_first_paint_ms"] = float(base.get("first_paint_ms", math.nan))
    out["first_paint_over_baseline"] = out["first_paint_ms"] / out["baseline_first_paint_ms"]
    return out


def _stats(values: Sequence[float]) -> Stats | None:
    finite = _finite(values)
    return Stats.of(finite) if finite else None


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Build the file once, then ``rounds`` × (GUI child, baseline child), alternating order;
    print the table and return the figures."""
    orders = QUICK_ORDERS if quick else FULL_ORDERS
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p5-"))
    per_round: list[dict[str, float]] = []
    raw: list[dict[str, Any]] = []
    try:
        base_path = folder / "p5-base.sqlite3"
        log(f"P5: building {orders:,} orders into {base_path}")
        built = build(base_path, orders)
        log(
            f"P5: built in {built.seconds:.1f} s, {base_path.stat().st_size / 1e6:,.0f} MB "
            f"({built.synthetic_orders:,} orders inserted into the read model directly)"
        )
        for index in range(rounds):
            path = folder / f"round-{index}.sqlite3"
            shutil.copyfile(base_path, path)
            # ... and its read model's own file (bound to the same log: used as it is).
            shutil.copyfile(read_model_path(base_path), read_model_path(path))
            gui_args = [
                "--db",
                str(path),
                "--long-order",
                built.long_order_id,
                "--catchup",
                str(CATCHUP_EVENTS),
            ]
            pair: dict[str, dict[str, Any]] = {}
            order = ("gui", "baseline") if index % 2 == 0 else ("baseline", "gui")
            for kind in order:
                home = folder / f"home-{index}-{kind}"
                if kind == "gui":
                    pair[kind] = _spawn(gui_args, home)
                else:
                    pair[kind] = _spawn(["--baseline"], home)
            path.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            raw.append(pair)
            gui = pair["gui"]
            if "error" in gui or "first_paint_ms" not in gui:
                log(f"  P5 round {index + 1}/{rounds}: FAILED: {gui.get('error')}")
                continue
            figures = _round_figures(gui, pair["baseline"])
            per_round.append(figures)
            log(
                f"  P5 round {index + 1}/{rounds}: first paint {figures['first_paint_ms']:.0f} ms, "
                f"filter ≤ {figures['filter_change_ms']:.0f} ms, "
                f"sort ≤ {figures['sort_change_ms']:.0f} ms, "
                f"stall {figures['gui_stall_ms']:.0f} ms, "
                f"timeline {figures['timeline_10k_ms']:.0f} ms, "
                f"RSS {figures['resident_memory_mb']:.0f} MB"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _report(orders, built, per_round, raw)


def _report(
    orders: int,
    built: BuiltDatabase,
    per_round: list[dict[str, float]],
    raw: list[dict[str, Any]],
) -> dict[str, object]:
    rows: list[list[str]] = []
    figures: dict[str, Any] = {}
    goals: dict[str, Any] = {}
    for name, threshold, unit, what in GOALS:
        stats = _stats([r[name] for r in per_round])
        if stats is None:
            rows.append([what, "n/a", "", f"<= {threshold:g} {unit}: NOT MEASURED"])
            goals[name] = {"threshold": threshold, "median": None, "met": False}
            continue
        met = stats.median <= threshold
        every = stats.max <= threshold
        verdict = ("MET" if met else "MISSED") + ("" if every or not met else " (not every round)")
        rows.append(
            [
                what,
                f"{fmt(stats.median)} {unit}",
                f"{fmt(stats.min)}–{fmt(stats.max)}",
                f"<= {threshold:g} {unit}: {verdict}",
            ]
        )
        figures[name] = stats.to_json() | {"rounds": [r[name] for r in per_round]}
        goals[name] = {"threshold": threshold, "median": stats.median, "met": met}
    for name, unit, what in INFO:
        stats = _stats([r[name] for r in per_round])
        if stats is None:
            continue
        rows.append([what, f"{fmt(stats.median)} {unit}".strip(), f"{fmt(stats.min)}–"
                     f"{fmt(stats.max)}", ""])  # fmt: skip
        figures[name] = stats.to_json()
    title = f"## P5 — GUI over {orders:,} orders ({len(per_round)} rounds, fresh process each)"
    print(title, flush=True)
    print(render_table(("figure", "median", "min–max", "goal"), rows), flush=True)
    notes = [
        f"{built.synthetic_orders:,} of the {built.orders:,} orders (and "
        f"{built.synthetic_lines:,} order lines) were INSERTED INTO THE READ MODEL DIRECTLY "
        f"(no events); {built.real_orders:,} orders, the catalog and one "
        f"{built.long_order_events:,}-event order went through the application "
        f"(event log head #{built.head_position:,}); build {built.seconds:.0f} s",
        "each round: a fresh interpreter, QT_QPA_PLATFORM=offscreen, a copy of the file; "
        "latency = UI action → end of the first paint after the data arrived",
        f"stall: 5 ms PreciseTimer on the GUI thread while another process appends "
        f"{CATCHUP_EVENTS:,} events (1,000 per transaction) and the app's projector catches up",
    ]
    if per_round:
        last = raw[-1]["gui"]
        notes.append("last round, filters ms: " + _brief(last.get("filter_changes_ms", {})))
        notes.append("last round, sorts ms: " + _brief(last.get("sort_changes_ms", {})))
        notes.append("last round, scrolls ms: " + _brief(last.get("scrolls_ms", {})))
    errors = [p["gui"].get("error") for p in raw if "error" in p["gui"]]
    notes.extend(f"error: {e}" for e in errors)
    for note in notes:
        print(f"  {note}", flush=True)
    verdicts = [bool(g["met"]) for g in goals.values()]
    return {
        "orders": orders,
        "orders_inserted_into_read_model_directly": built.synthetic_orders,
        "rounds": len(per_round),
        "figures": figures,
        "goals": goals,
        "goals_met": all(verdicts) if verdicts else None,
        "per_round": per_round,
        "children": raw,
        "notes": notes,
    }


def _brief(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:.0f}" if isinstance(v, int | float) and math.isfinite(v) else f"{k} n/a"
        for k, v in values.items()
    )
