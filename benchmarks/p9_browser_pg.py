"""P9-browser on a server (``python -m benchmarks.p9_browser_pg``): the log-wide event browser's
pages on a PostgreSQL server beside the same pages on the SQLite file (issues 10 and 11).

The data: P9-browser's generated file (``benchmarks.p9_browser.generate``: five clerks, ~10 s
between events, a commands row per event, a refusal every ~500 events), then copied row for
row (events with positions, metadata and hashes; commands; rejections) into a fresh server
database made by ``init`` (so it has the browser's index, ``ix_events_browse``), ANALYZEd.
The server: ``--url`` (an empty database the role may ``init``), or else a throwaway cluster
(tests/pg_cluster.py's ``start_cluster``: initdb + pg_ctl in a temporary folder, removed after).

Each figure is one page of 100 rows through the whole query bus of a bootstrapped app
(``BrowseLog``) on each backend, alternating (sqlite, postgres) per round; medians and
min–max. Both stores bound a filtered page's search the same way (``SCAN_BUDGET``), so the
"rows" columns agree.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, render_table
from benchmarks.p9_browser import GOAL_MS, PAGE, _cases, generate
from desktop_app.application.event_browser import BrowseLog
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.rejection_log import COLUMNS

EVENTS = 200_000
_EVENT_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)
_COMMAND_COLUMNS = "command_id, stream_id, version, first_position, last_position, fingerprint"


@contextmanager
def _server(url: str | None) -> Iterator[str]:
    """The database to use: ``url`` as given, or a fresh one on a throwaway cluster."""
    if url is not None:
        yield url
        return
    # The test suite's throwaway cluster (by name: the benchmarks are not type-checked against
    # the tests' plugin).
    cluster: Any = importlib.import_module("tests.pg_cluster")
    bin_dir = cluster.find_pg_bin()
    if bin_dir is None:
        raise SystemExit("no initdb/pg_ctl found: install PostgreSQL or pass --url")
    server = cluster.start_cluster(bin_dir)
    try:
        yield str(server.create_database())
    finally:
        server.stop()


def copy_to_server(file: Path, url: str) -> int:
    """``init`` the server database, then COPY the file's events, commands and rejections."""
    import psycopg

    from desktop_app.store.postgres.database import init_postgres

    init_postgres(url)
    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    rejection_columns = ", ".join(f'"{c}"' for c in COLUMNS)
    try:
        with psycopg.connect(url) as con:
            for table, columns in (
                ("events", _EVENT_COLUMNS),
                ("commands", _COMMAND_COLUMNS),
                ("rejections", rejection_columns),
            ):
                rows = src.execute(f"SELECT {columns} FROM {table}")  # noqa: S608
                with con.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            con.commit()
            con.autocommit = True
            con.execute("VACUUM ANALYZE events")
            con.execute("VACUUM ANALYZE rejections")
            found = con.execute("SELECT count(*) FROM events").fetchone()
    finally:
        src.close()
    return int(found[0]) if found else 0


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    n = fn()
    return (time.perf_counter() - started) * 1000, n


def run(count: int, rounds: int, url: str | None) -> dict[str, object]:
    """Generate, copy, time every case on both backends, print the table."""
    rounds = max(rounds, 5)
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-browser-pg-"))
    file = folder / "p9-browser.sqlite3"
    try:
        log(f"P9-browser (server): generating {count:,} events into {file}")
        generate(file, count)
        with _server(url) as db_url:
            started = time.perf_counter()
            copied = copy_to_server(file, db_url)
            log(
                f"  copied {copied:,} events to the server in {time.perf_counter() - started:.1f} s"
            )
            apps: dict[str, App] = {
                "sqlite": bootstrap(Settings(db_path=file), source="bench", create=False),
                "postgres": bootstrap(
                    Settings.for_location(ServerLocation(db_url), key_dir=folder / "keys"),
                    source="bench",
                ),
            }
            raw = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
            figures: dict[str, object] = {"events": copied, "page_rows": PAGE}
            table: list[list[str]] = []
            worst = 0.0
            try:
                for case in _cases(raw):
                    query = BrowseLog(
                        where=case.where,
                        cursor=case.cursor,
                        direction=case.direction,  # type: ignore[arg-type]
                        limit=PAGE,
                    )
                    times: dict[str, list[float]] = {name: [] for name in apps}
                    shown: dict[str, int] = {}
                    for i in range(rounds + 1):  # the first round warms the caches: dropped
                        for name in list(apps) if i % 2 == 0 else list(reversed(apps)):
                            app = apps[name]
                            ms, n = _timed(lambda a=app, q=query: len(a.queries.ask(q).rows))  # type: ignore[misc]
                            if i:
                                times[name].append(ms)
                            shown[name] = n
                    s, p = Stats.of(times["sqlite"]), Stats.of(times["postgres"])
                    worst = max(worst, p.median)
                    figures[case.label] = {
                        "postgres_ms": p.to_json(),
                        "sqlite_ms": s.to_json(),
                        "rows": shown,
                    }
                    table.append(
                        [
                            case.label,
                            f"{shown['postgres']} / {shown['sqlite']}",
                            f"{fmt(p.median)} ms ({fmt(p.min)}–{fmt(p.max)})",
                            f"{fmt(s.median)} ms",
                            "yes" if p.median <= GOAL_MS else "NO",
                        ]
                    )
            finally:
                raw.close()
                for app in apps.values():
                    app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures["P9_browser_pg_worst_page_ms"] = worst
    print(f"## P9-browser on a server — a page of {PAGE} rows over {copied:,} events")
    headers = ("page", "rows pg / file", "PostgreSQL (bus)", "SQLite (bus)", f"≤ {GOAL_MS:.0f} ms")
    print(render_table(headers, table))
    print()
    return figures


def main() -> None:
    """``python -m benchmarks.p9_browser_pg [--events N] [--rounds N] [--url URL]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.p9_browser_pg")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--url", help="an empty server database (default: a throwaway cluster)")
    args = parser.parse_args()
    figures = run(args.events, args.rounds, args.url)
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
