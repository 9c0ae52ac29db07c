"""``python -m benchmarks [p1] [p2] [--rounds N] [--quick] [--json-out FILE]`` (``make bench``).

Prints one table per benchmark, then ONE last line of JSON with every figure. Progress goes to
stderr. All files live in a fresh temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import p1_workflow, p2_load
from benchmarks.harness import BenchResult, goals_met, json_line, log

BENCHMARKS = (
    "p1",
    "p2",
    "p3",
    "p4",
    "p5",
    "p5-audit",
    "p6",
    "p8",
    "p9-export",
    "p9-anchors",
    "p9-bundle",
    "p9-browser",
    "p9-asof",
)
STANDALONE = {
    "p3": "p3_rebuild",
    "p4": "p4_freshness",
    "p5": "p5_gui",
    "p5-audit": "p5_audit",
    "p6": "p6_scaling",
    "p8": "p8_postgres",
    "p9-export": "p9_export",
    "p9-anchors": "p9_anchors",
    "p9-bundle": "p9_bundle",
    "p9-browser": "p9_browser",
    "p9-asof": "p9_asof",
}
"""Benchmarks with their own runner: ``run(quick, rounds) -> dict`` prints its table."""
CONTENDERS = ("project", "projector", "raw", "eventsourcing")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Order Desk benchmarks: the project beside raw sqlite3 and eventsourcing, "
        "alternating in the same run; medians and min–max of paired ratios.",
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="BENCH",
        help=f"which to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--rounds", type=int, help="measured rounds (default 7; --quick 3)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up rounds, dropped (1)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--orders", type=int, help="P1 orders per round (200; --quick 20)")
    parser.add_argument("--events", type=int, help="P2 events in the order (10000; --quick 1000)")
    parser.add_argument("--reps", type=int, help="P2 loads per round (5; --quick 3)")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help="comma-separated subset of project,projector,raw,eventsourcing (default: all)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON summary to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (prints it)")
    parser.add_argument(
        "--p3-log",
        type=Path,
        help="P3: keep the generated log in FILE and use it again in later runs (made if absent)",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    wrong = set(args.benchmarks) - set(BENCHMARKS)
    if wrong:
        parser.error(f"unknown benchmarks: {', '.join(sorted(wrong))}")
    unknown = set(args.contenders.split(",")) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; print tables and the JSON line."""
    args = parse_args(argv)
    chosen = list(dict.fromkeys(args.benchmarks)) or list(BENCHMARKS)
    contenders = tuple(args.contenders.split(","))
    rounds = args.rounds or (3 if args.quick else 7)
    orders = args.orders or (20 if args.quick else 200)
    events = args.events or (1_000 if args.quick else 10_000)
    reps = args.reps or (3 if args.quick else 5)
    results: list[BenchResult] = []
    standalone: dict[str, object] = {}
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-bench-"))
    log(f"temp folder: {folder}")
    try:
        if "p1" in chosen:
            results.append(
                p1_workflow.run(
                    folder, orders=orders, rounds=rounds, warmup=args.warmup, contenders=contenders
                )
            )
            print(results[-1].render(), end="\n\n", flush=True)
        if "p2" in chosen:
            results.append(
                p2_load.run(
                    folder,
                    events=events,
                    reps=reps,
                    rounds=rounds,
                    warmup=args.warmup,
                    contenders=contenders,
                )
            )
            print(results[-1].render(), end="\n\n", flush=True)
        for bench in chosen:
            if bench in STANDALONE:
                module = importlib.import_module(f"benchmarks.{STANDALONE[bench]}")
                extra = {"keep_log": args.p3_log} if bench == "p3" and args.p3_log else {}
                standalone[bench] = module.run(quick=args.quick, rounds=args.rounds or 3, **extra)
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    summary: dict[str, Any] = {
        "benchmarks": {**{r.id: r.to_json() for r in results}, **standalone},
        "goals_met": goals_met(
            g for r in results for section in r.sections for g in section.goal_results()
        ),
        "run": {
            "rounds": rounds,
            "warmup": args.warmup,
            "quick": args.quick,
            "contenders": list(contenders),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(),
            "seconds": round(time.perf_counter() - started, 1),
            "argv": list(sys.argv[1:] if argv is None else argv),
        },
    }
    line = json_line(summary)
    if args.json_out is not None:
        args.json_out.write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
