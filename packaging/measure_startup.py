"""Measure P7: package sizes and start-to-first-paint of the builds beside running from source.

    python packaging/measure_startup.py [--rounds 7] [--platform offscreen|xcb]

Each round starts every variant once, alternating (source, one-folder, one-file, source, …), on
the same small database, with ``ORDER_DESK_EXIT_AFTER_FIRST_PAINT=1`` (see
``desktop_app/startup_probe.py``): the time is from just before the process is started until
the main window's first paint event, as the program reports it. A one-file build's unpacking is
included. Variants that were not built are skipped. Prints a table (median, min-max, ratio to
source) and a last line of JSON. The home, config, data and state folders point into a
temporary folder so a clerk's settings and logs are not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
PROBE_ENV = "ORDER_DESK_EXIT_AFTER_FIRST_PAINT"
GOALS_S = {"one-folder": 0.6, "one-file": 1.5}
DOWNLOAD_GOAL_MB = 70.0


def variants() -> dict[str, list[str]]:
    """Name -> command line, for the builds that exist."""
    found = {"source": [sys.executable, str(ROOT / "packaging" / "launcher.py")]}
    folder = DIST / "OrderDesk" / f"OrderDesk{EXE_SUFFIX}"
    onefile = DIST / f"OrderDesk-onefile{EXE_SUFFIX}"
    if folder.is_file():
        found["one-folder"] = [str(folder)]
    if onefile.is_file():
        found["one-file"] = [str(onefile)]
    return found


def prepare_database(folder: Path) -> Path:
    """A small database (the self-test's kind of data: a few customers, products, orders)."""
    sys.path.insert(0, str(ROOT))
    from decimal import Decimal

    from desktop_app.application import commands as c
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    path = folder / "orders.sqlite3"
    app = bootstrap(Settings(db_path=path, backup_dir=folder / "backups"), source="measure")
    try:
        customer = app.commands.dispatch(c.RegisterCustomer(name="Measure Ltd")).aggregate_id
        product = app.commands.dispatch(
            c.AddProduct(sku="M-1", name="Mug", price=Decimal("6.90"), currency="EUR")
        ).aggregate_id
        for _ in range(20):
            app.commands.dispatch(
                c.PlaceOrder(
                    customer_id=customer, lines=(c.LineInput(product_id=product, quantity=2),)
                )
            )
        if app.projector is not None:
            app.projector.run_once()
    finally:
        app.close()
    return path


def environment(home: Path, platform: str) -> dict[str, str]:
    # A clerk's ``make run`` caches bytecode; with PYTHONDONTWRITEBYTECODE inherited (a shell or
    # CI setting) every start would compile all the sources again and the figure would measure
    # the compiler. The warm-up round writes the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            PROBE_ENV: "1",
            "QT_QPA_PLATFORM": platform,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
        }
    )
    return env


def start_once(command: list[str], db: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from just before starting the process to its first paint, and the CPU seconds
    the program's Python process had used by then."""
    started = time.time()
    done = subprocess.run(
        [*command, "--db", str(db), "--no-sample-offer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("first-paint "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            return float(fields["epoch"]) - started, float(fields["cpu_ms"]) / 1000
    raise RuntimeError(
        f"{command[0]} exited {done.returncode} without a first paint:\n{done.stderr[-2000:]}"
    )


def sizes() -> dict[str, float]:
    """Megabytes (10^6 bytes) of what was built."""
    result: dict[str, float] = {}
    folder = DIST / "OrderDesk"
    if folder.is_dir():
        total = sum(
            p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
        )
        result["one-folder (unpacked)"] = total / 1e6
    for archive in sorted(DIST.glob("OrderDesk-*.tar.gz")) + sorted(DIST.glob("OrderDesk-*.zip")):
        result[f"archive {archive.name}"] = archive.stat().st_size / 1e6
    onefile = DIST / f"OrderDesk-onefile{EXE_SUFFIX}"
    if onefile.is_file():
        result["one-file"] = onefile.stat().st_size / 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="P7: sizes and start-to-first-paint")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    parser.add_argument("--warm-up", type=int, default=1, help="unrecorded rounds first")
    args = parser.parse_args(argv)

    found = variants()
    print("sizes:")
    measured_sizes = sizes()
    for name, mb in measured_sizes.items():
        print(f"  {name:<50} {mb:7.1f} MB")

    times: dict[str, list[float]] = {name: [] for name in found}
    cpu: dict[str, list[float]] = {name: [] for name in found}
    with tempfile.TemporaryDirectory(prefix="order-desk-measure-") as tmp:
        folder = Path(tmp)
        db = prepare_database(folder)
        env = environment(folder / "home", args.platform)
        for round_no in range(args.warm_up + args.rounds):
            order = list(found) if round_no % 2 == 0 else list(reversed(found))
            for name in order:
                seconds, cpu_seconds = start_once(found[name], db, env)
                if round_no >= args.warm_up:
                    times[name].append(seconds)
                    cpu[name].append(cpu_seconds)

    base = statistics.median(times["source"])
    print(
        f"\nstart to first paint, QT_QPA_PLATFORM={args.platform}, {args.rounds} rounds "
        "alternating (after a warm-up):"
    )
    print(
        f"  {'variant':<11} {'median':>8} {'min':>7} {'max':>7} {'÷ source':>9} "
        f"{'CPU med':>8}  goal"
    )
    summary: dict[str, object] = {"platform": args.platform, "rounds": args.rounds}
    for name, values in times.items():
        median = statistics.median(values)
        goal = GOALS_S.get(name)
        verdict = f"≤ {goal:.1f} s {'met' if median <= goal else 'MISSED'}" if goal else ""
        print(
            f"  {name:<11} {median:7.3f}s {min(values):6.3f}s {max(values):6.3f}s "
            f"{median / base:8.2f}× {statistics.median(cpu[name]):7.3f}s  {verdict}"
        )
        summary[name] = {
            "median_s": round(median, 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
            "ratio_to_source": round(median / base, 2),
            "runs_s": [round(v, 3) for v in values],
            "cpu_median_s": round(statistics.median(cpu[name]), 3),
        }
    summary["sizes_mb"] = {k: round(v, 1) for k, v in measured_sizes.items()}
    archives = [v for k, v in measured_sizes.items() if k.startswith("archive")]
    if archives:
        verdict = "met" if max(archives) <= DOWNLOAD_GOAL_MB else "MISSED"
        print(f"  download ≤ {DOWNLOAD_GOAL_MB:.0f} MB: {verdict}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
