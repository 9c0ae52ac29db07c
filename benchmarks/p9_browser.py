"""P9-browser (``python -m benchmarks p9-browser``): the log-wide event browser's pages over
1,000,000 events (issue 11). Goal (design/PERFORMANCE.md, P9): ≤ 150 ms a page.

The file: P3's generated log (realistic order lifecycles and catalog events, the store's own
encoding and hash chain) with five clerks on five workstations, ~10 s between events (1M
events ≈ four months), a ``commands`` row per event and a refused command every ~500 events.
Built once into ``--file`` (kept and reused when it exists; default: a temporary file).

Each figure is one page of 100 rows, newest first, through the whole query bus of a
bootstrapped app (``BrowseLog``: the store's index reads, the refusals merged in, order numbers
and business-language summaries) — beside the baseline, a plain ``sqlite3`` connection running
the same page by hand (the same index, ``json.loads`` of payload and metadata). Alternating
(project, raw) per round; medians, min–max and the paired ratio project/raw.

A filtered page (user, host, event type, correlation: checked on ``ix_events_browse``'s
entries) searches at most ``SCAN_BUDGET`` entries: a rare match may give a short or empty page
that says how far it searched (the "rows" column); the baseline scans until it has its rows.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, paired_ratios, render_table
from benchmarks.p3_rebuild import _INSERT, _Generator
from desktop_app.application.event_browser import EVENT, BrowseLog, LogFilter, LogKey
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.store.hashing import Row, parse_utc, to_json_text, utc_text
from desktop_app.store.records import build_rows
from desktop_app.store.schema import BROWSE_INDEXES

EVENTS = 1_000_000
QUICK_EVENTS = 100_000
PAGE = 100
GOAL_MS = 150.0
CLERKS = (("maria", "WS-3"), ("jonas", "WS-1"), ("li", "WS-2"), ("sam", "WS-4"), ("ahmed", "WS-5"))
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


@dataclass
class _ClerkGenerator(_Generator):
    """P3's log, written by several clerks at several workstations over months."""

    def row(self, stream_id: str, type_name: str, schema: int, payload: dict[str, Any]) -> Row:
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        self.moment += timedelta(microseconds=self.rnd.randrange(1_000_000, 20_000_000))
        user, host = CLERKS[self.rnd.randrange(len(CLERKS))]
        if self.rnd.random() < 0.05:  # a clerk at another desk now and then
            host = CLERKS[self.rnd.randrange(len(CLERKS))][1]
        command = self.new_id()
        meta = {
            **self.meta_base,
            "user": user,
            "host": host,
            "causation_id": command,
            "correlation_id": command,
        }
        encoded = [(self.new_id(), type_name, schema, to_json_text(payload), to_json_text(meta))]
        (row,) = build_rows(
            stream_id, version, self.position + 1, self.prev_hash, utc_text(self.moment), encoded
        )
        self.position = row[0]
        self.prev_hash = row[10]
        return row


_REFUSAL = (
    "INSERT INTO rejections (recorded_at, user, host, source, app_version, command_type, "
    "command_id, correlation_id, stream_id, content, error_class, message) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def generate(path: Path, count: int) -> None:
    """An Order Desk file holding ``count`` events by five clerks, with refusals."""
    bootstrap(Settings(db_path=path), source="bench").close()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        # Bulk load without the browser's indexes, then build them once (as step 6 would).
        for index in BROWSE_INDEXES:
            con.execute(f"DROP INDEX {index.name}")
        gen = _ClerkGenerator(random.Random(9), moment=START)
        rnd = random.Random(11)
        batch: list[Row] = []
        refusals: list[tuple[str, ...]] = []

        def flush() -> None:
            con.execute("BEGIN")
            con.executemany(_INSERT, batch)
            con.executemany(
                "INSERT INTO commands (command_id, stream_id, version, first_position, "
                "last_position) VALUES (?,?,?,?,?)",
                [(json.loads(r[7])["causation_id"], r[1], r[2], r[0], r[0]) for r in batch],
            )
            con.executemany(_REFUSAL, refusals)
            con.execute("COMMIT")
            batch.clear()
            refusals.clear()

        for row in gen.rows(count):
            batch.append(row)
            if rnd.random() < 0.002:
                user, host = CLERKS[rnd.randrange(len(CLERKS))]
                command = gen.new_id()
                refusals.append(
                    (row[8], user, host, "gui", "1.0.0", "ShipOrder", command, command, row[1],
                     "{}", "RuleViolation", "Only a confirmed order can be shipped.")
                )  # fmt: skip
            if len(batch) >= 50_000:
                flush()
                log(f"  generated {row[0]:,} events")
        if batch:
            flush()
        log("  indexing for the browser")
        for index in BROWSE_INDEXES:
            con.execute(str(_create(index)))
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _create(index: Any) -> str:
    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateIndex

    return str(CreateIndex(index).compile(dialect=sqlite_dialect.dialect()))


# ------------------------------------------------------------------------------ the pages


@dataclass(frozen=True)
class Case:
    """One page to time: a filter, a cursor and a direction (the raw page is the same)."""

    label: str
    where: LogFilter
    cursor: LogKey | None = None
    direction: str = "older"


def _cases(con: sqlite3.Connection) -> list[Case]:
    """Pages an auditor asks for, found on the file (a Friday afternoon in the middle, a deep
    cursor, a correlation id)."""
    first, last = con.execute("SELECT min(recorded_at), max(recorded_at) FROM events").fetchone()
    middle = parse_utc(first) + (parse_utc(last) - parse_utc(first)) / 2
    friday = middle + timedelta(days=(4 - middle.weekday()) % 7)
    since = friday.replace(hour=13, minute=0, second=0, microsecond=0)
    until = since.replace(hour=18)
    day = since.replace(hour=0)
    position, at = con.execute(
        "SELECT position, recorded_at FROM events WHERE position = "
        "(SELECT max(position) / 2 FROM events)"
    ).fetchone()
    deep = LogKey(parse_utc(at), EVENT, int(position))
    (correlation,) = con.execute(
        "SELECT json_extract(metadata, '$.correlation_id') FROM events WHERE position = ?",
        (int(position) // 3,),
    ).fetchone()
    return [
        Case("everything, newest page", LogFilter()),
        Case("everything, a page half-way back (keyset)", LogFilter(), deep),
        Case("everything, newer from half-way back", LogFilter(), deep, "newer"),
        Case("user maria", LogFilter(user="maria")),
        Case(
            f"user maria, Friday {since:%d %b} 13–18 h",
            LogFilter(user="maria", since=since, until=until),
        ),
        Case("host WS-5, that Friday", LogFilter(host="WS-5", since=day, until=day + timedelta(1))),
        Case("event type OrderShipped", LogFilter(event_type="OrderShipped")),
        Case("event type OrderShipped, half-way back", LogFilter(event_type="OrderShipped"), deep),
        Case(
            "one correlation id (a third of the way back)",
            LogFilter(correlation_id=str(correlation)),
        ),
        Case("event type ProductDiscontinued (rare)", LogFilter(event_type="ProductDiscontinued")),
        Case("time window: that Friday", LogFilter(since=day, until=day + timedelta(days=1))),
    ]


def _raw_page(con: sqlite3.Connection, case: Case) -> int:
    """The baseline: the same page by hand on a plain connection (same index, JSON decoded)."""
    where: list[str] = []
    params: list[object] = []
    f = case.where
    index = "ix_events_browse"

    def meta(name: str) -> str:  # the index's expression, written out
        return f"CASE WHEN (json_valid(metadata) = 1) THEN json_extract(metadata, '$.{name}') END"

    for value, expression in (
        (f.user, meta("user")),
        (f.host, meta("host")),
        (f.event_type, "type_name"),
        (f.correlation_id, meta("correlation_id")),
    ):
        if value is not None:
            where.append(f"{expression} = ?")
            params.append(value)
    if f.since is not None:
        where.append("recorded_at >= ?")
        params.append(utc_text(f.since))
    if f.until is not None:
        where.append("recorded_at < ?")
        params.append(utc_text(f.until))
    older = case.direction == "older"
    if case.cursor is not None:
        at = utc_text(case.cursor.recorded_at)
        op = "<" if older else ">"
        where.append(f"(recorded_at, position) {op} (?, ?)")
        params += [at, case.cursor.number]
    order = "DESC" if older else "ASC"
    sql = (
        f"SELECT position, stream_id, version, type_name, payload, metadata, recorded_at "  # noqa: S608
        f"FROM events INDEXED BY {index} {'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY recorded_at {order}, position {order} LIMIT {PAGE}"
    )
    rows = [
        (p, s, v, t, json.loads(payload), json.loads(meta), at)
        for p, s, v, t, payload, meta, at in con.execute(sql, params)
    ]
    return len(rows)


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    n = fn()
    return (time.perf_counter() - started) * 1000, n


def run(quick: bool, rounds: int, file: Path | None = None) -> dict[str, object]:
    """Build or reuse the file, time every case (project vs raw), print the table."""
    count = QUICK_EVENTS if quick else EVENTS
    rounds = max(rounds, 5)
    folder: Path | None = None
    if file is None:
        folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-browser-"))
        file = folder / "p9-browser.sqlite3"
    try:
        if not file.exists():
            log(f"P9-browser: generating {count:,} events into {file}")
            generate(file, count)
        else:
            log(f"P9-browser: reusing {file}")
        app: App = bootstrap(Settings(db_path=file), source="bench", create=False)
        raw = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            (events,) = raw.execute("SELECT count(*) FROM events").fetchone()
            cases = _cases(raw)
            figures: dict[str, object] = {"events": events, "page_rows": PAGE}
            rows: list[list[str]] = []
            worst = 0.0
            for case in cases:
                query = BrowseLog(
                    where=case.where,
                    cursor=case.cursor,
                    direction=case.direction,  # type: ignore[arg-type]
                    limit=PAGE,
                )
                times: dict[str, list[float]] = {"project": [], "raw": []}
                shown: list[int] = []
                contenders: dict[str, Callable[[], int]] = {
                    "project": lambda q=query: len(app.queries.ask(q).rows),  # type: ignore[misc]
                    "raw": lambda c=case: _raw_page(raw, c),  # type: ignore[misc]
                }
                for i in range(rounds + 1):  # the first round warms the caches: dropped
                    order = ("project", "raw") if i % 2 == 0 else ("raw", "project")
                    for name in order:
                        ms, n = _timed(contenders[name])
                        if i:
                            times[name].append(ms)
                        if name == "project":
                            shown.append(n)
                project, baseline = times["project"], times["raw"]
                shown_rows = shown[-1]
                p, r = Stats.of(project), Stats.of(baseline)
                ratio = Stats.of(paired_ratios(project, baseline))
                worst = max(worst, p.median)
                figures[case.label] = {
                    "project_ms": p.to_json(),
                    "raw_ms": r.to_json(),
                    "ratio": ratio.to_json(),
                    "rows": shown_rows,
                }
                rows.append(
                    [
                        case.label,
                        str(shown_rows),
                        f"{fmt(p.median)} ms ({fmt(p.min)}–{fmt(p.max)})",
                        f"{fmt(r.median)} ms",
                        f"{fmt(ratio.median)}×",
                        "yes" if p.median <= GOAL_MS else "NO",
                    ]
                )
            figures["P9_browser_worst_page_ms"] = worst
            figures["P9_browser_goal_met"] = worst <= GOAL_MS
        finally:
            raw.close()
            app.close()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"## P9-browser — a page of {PAGE} rows over {events:,} events (medians of {rounds})")
    headers = ("page", "rows", "BrowseLog (bus)", "raw sqlite3", "ratio", f"≤ {GOAL_MS:.0f} ms")
    print(render_table(headers, rows))
    print()
    return figures


def main() -> None:
    """``python -m benchmarks.p9_browser [--quick] [--rounds N] [--file PATH]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.p9_browser")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--file", type=Path, help="build the file here once, reuse it after")
    args = parser.parse_args()
    figures = run(args.quick, args.rounds, args.file)
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
