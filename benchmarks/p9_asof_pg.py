"""P9 (as of) on a server (``python -m benchmarks.p9_asof_pg``): the whole desk as of a past
moment on a PostgreSQL server, beside the same question on the SQLite file (issues 10, 11).
Goal (design/PERFORMANCE.md P9): ≤ 2 s at 100k orders.

The data: P9 as-of's file (``p3_rebuild.generate``, 650,000 events ≈ 108,000 orders; ``--events``
to change), projected by a full rebuild on the file, then copied row for row into a fresh
server database made by ``init``: events, commands and every read-model table with its
checkpoint (the same rows a server projector would have made: the read-model contract holds
both backends to the same answers). The server: ``--url`` or a throwaway cluster.

Per moment (the times of the events at 10 %, 50 %, 90 % and 100 % of the log) and round,
alternating (sqlite, postgres): ``GetDeskAsOf`` through each app's query bus; medians.
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Stats, fmt, log, render_table
from benchmarks.p3_rebuild import generate
from benchmarks.p9_asof import FRACTIONS
from benchmarks.p9_browser_pg import _server, copy_to_server
from desktop_app.application.as_of import GetDeskAsOf
from desktop_app.application.ports import OrderRow
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.as_of_log import SqliteDeskHistory
from desktop_app.store.schema import read_model_metadata

EVENTS = 650_000
GOAL_S = 2.0


def copy_read_model(file: Path, url: str) -> None:
    """Replace the server's read-model rows by the file's (``rm_meta`` keeps the server's)."""
    import psycopg

    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        with psycopg.connect(url) as con:
            for table in read_model_metadata.sorted_tables:
                if table.name == "rm_meta":
                    continue
                columns = ", ".join(f'"{c.name}"' for c in table.columns)
                con.execute(f"DELETE FROM {table.name}")  # noqa: S608
                rows = src.execute(f"SELECT {columns} FROM {table.name}")  # noqa: S608
                with con.cursor().copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            con.commit()
            con.autocommit = True
            con.execute("VACUUM ANALYZE")
    finally:
        src.close()


def run(count: int, rounds: int, url: str | None) -> dict[str, object]:
    """Generate, project, copy, time every moment on both backends, print the table."""
    rounds = max(rounds, 3)
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-asof-pg-"))
    path = folder / "p9-asof.sqlite3"
    table: list[list[str]] = []
    figures: dict[str, object] = {}
    try:
        log(f"P9 as-of (server): generating {count:,} events into {path}")
        generate(path, count)
        file_app = bootstrap(Settings(db_path=path, key_dir=folder / "keys"), source="bench")
        try:
            assert file_app.projector is not None
            log("  projecting the file (full rebuild)")
            file_app.projector.rebuild(None)
        finally:
            file_app.close()
        with _server(url) as db_url:
            started = time.perf_counter()
            copied = copy_to_server(path, db_url)
            copy_read_model(path, db_url)
            log(f"  copied {copied:,} events + read model in {time.perf_counter() - started:.1f} s")
            apps: dict[str, App] = {
                "sqlite": bootstrap(
                    Settings(db_path=path, key_dir=folder / "keys"), source="bench", create=False
                ),
                "postgres": bootstrap(
                    Settings.for_location(ServerLocation(db_url), key_dir=folder / "keys"),
                    source="bench",
                ),
            }
            try:
                history = SqliteDeskHistory(apps["sqlite"].database)  # type: ignore[arg-type]
                for fraction in FRACTIONS:
                    at = history.recorded_at(max(1, int(copied * fraction)))
                    assert at is not None
                    times: dict[str, list[float]] = {name: [] for name in apps}
                    shown: dict[str, int] = {}
                    answers: dict[str, list[OrderRow]] = {}
                    for i in range(rounds + 1):  # round 0 warms the caches: dropped
                        for name in list(apps) if i % 2 == 0 else list(reversed(apps)):
                            gc.collect()
                            started = time.perf_counter()
                            answer = apps[name].queries.ask(GetDeskAsOf(at=at))
                            if i:
                                times[name].append(time.perf_counter() - started)
                            shown[name] = len(answer.rows)
                            answers[name] = sorted(answer.rows)
                    # The same desk from both backends, row for row.
                    assert answers["sqlite"] == answers["postgres"], shown
                    p, s = Stats.of(times["postgres"]), Stats.of(times["sqlite"])
                    figures[f"{fraction:.0%}"] = {
                        "orders_shown": shown["postgres"],
                        "postgres_s": p.to_json(),
                        "sqlite_s": s.to_json(),
                    }
                    table.append(
                        [
                            f"{fraction:.0%}",
                            f"{shown['postgres']:,}",
                            f"{fmt(p.median)} s ({fmt(p.min)}–{fmt(p.max)})",
                            f"{fmt(s.median)} s",
                            "yes" if p.median <= GOAL_S else "NO",
                        ]
                    )
            finally:
                for app in apps.values():
                    app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"## P9 as-of on a server — the desk as of a moment over {copied:,} events")
    headers = ("moment", "orders", "PostgreSQL (bus)", "SQLite (bus)", f"≤ {GOAL_S:.0f} s")
    print(render_table(headers, table))
    print()
    return figures


def main() -> None:
    """``python -m benchmarks.p9_asof_pg [--events N] [--rounds N] [--url URL]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.p9_asof_pg")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="an empty server database (default: a throwaway cluster)")
    args = parser.parse_args()
    print(json.dumps(run(args.events, args.rounds, args.url), default=str))


if __name__ == "__main__":
    main()
