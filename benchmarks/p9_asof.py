"""P9 (as of): the whole desk as of a past moment, at 100,000+ orders.

Goal (design/PERFORMANCE.md P9): the desk as of a past date (100k orders) ≤ 2 s.

File: P3's generator (``p3_rebuild.generate``: realistic order lifecycles interleaved with
catalog events, the store's own encoding and hash chain), 650,000 events ≈ 108,000 orders
(``--quick``: 60,000 events), then a full projector rebuild so the read model is at the head,
as on a desk in use. Moments: the times of the events at 10 %, 50 %, 90 % and 100 % of the log.

Per moment and round, alternating (A B, B A, …):

- **project**: ``GetDeskAsOf`` through the real query bus (the position search, the read
  model's unchanged rows, the changed orders and the catalog replayed by the projections);
- **raw**: a plain ``sqlite3`` scan of the same events (every event up to that position, in
  position order, ``json.loads`` of each payload) — what any replay from the log must at least
  read; the ratio project / raw is reported per round.

Once per moment (not alternated, for the record): **full replay**, the same rows made by
folding every event up to the position with the projections (no read model), the approach the
project does not take because of this figure.

``run(quick, rounds)`` prints a table and returns the figures.
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, fmt, log, paired_ratios, render_table
from benchmarks.p3_rebuild import generate

EVENTS = 650_000
QUICK_EVENTS = 60_000
GOAL_SECONDS = 2.0
FRACTIONS = (0.1, 0.5, 0.9, 1.0)


def _raw_scan(path: Path, position: int) -> float:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        gc.collect()
        started = time.perf_counter()
        cursor = con.execute(
            "SELECT position, stream_id, version, type_name, schema_version, payload, "
            "recorded_at FROM events WHERE position <= ? ORDER BY position",
            (position,),
        )
        cursor.arraysize = 20_000
        loads = json.loads
        while rows := cursor.fetchmany():
            for row in rows:
                loads(row[5])
        return time.perf_counter() - started
    finally:
        con.close()


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Generate and project the desk, time the as-of query beside the raw scan, print, return."""
    from desktop_app.application.as_of import GetDeskAsOf
    from desktop_app.application.queries import ListOrders
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.projector.as_of import fold_desk
    from desktop_app.store.as_of_log import SqliteDeskHistory

    count = QUICK_EVENTS if quick else EVENTS
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-asof-"))
    try:
        path = folder / "p9-asof.sqlite3"
        log(f"P9 as-of: generating {count:,} events into {path}")
        generate(path, count)
        settings = Settings(db_path=path, key_dir=folder / "keys", anchor_dir=folder / "anchors")
        app = bootstrap(settings, source="bench", create=False)
        try:
            assert app.projector is not None
            log("P9 as-of: projecting (full rebuild)")
            app.projector.rebuild(None)
            orders = app.queries.ask(ListOrders(limit=1)).total or 0
            history = SqliteDeskHistory(app.database)  # type: ignore[arg-type]
            moments = []
            for fraction in FRACTIONS:
                at = history.recorded_at(max(1, int(count * fraction)))
                assert at is not None
                moments.append((fraction, at))
            results: list[dict[str, Any]] = []
            for fraction, at in moments:
                project: list[float] = []
                raw: list[float] = []
                shown = 0
                position = 0
                for index in range(rounds + 1):
                    order = ("project", "raw") if index % 2 == 0 else ("raw", "project")
                    figures: dict[str, float] = {}
                    for name in order:
                        if name == "project":
                            gc.collect()
                            started = time.perf_counter()
                            answer = app.queries.ask(GetDeskAsOf(at=at))
                            figures[name] = time.perf_counter() - started
                            shown, position = len(answer.rows), answer.position
                        else:
                            figures[name] = _raw_scan(path, position or count)
                    if index:  # round 0 warms the caches
                        project.append(figures["project"])
                        raw.append(figures["raw"])
                # The road not taken: fold everything up to the position (no read model).
                no_read_model = SqliteDeskHistory(app.database, projector_name="-")  # type: ignore[arg-type]
                gc.collect()
                started = time.perf_counter()
                parts = no_read_model.desk_at(position)
                replayed = fold_desk(parts)
                full_replay = time.perf_counter() - started
                assert len(replayed) == shown
                log(
                    f"  {fraction:.0%}: {shown:,} orders at event #{position:,}: "
                    f"{Stats.of(project).median:.2f} s (raw scan {Stats.of(raw).median:.2f} s, "
                    f"full replay {full_replay:.2f} s)"
                )
                results.append(
                    {
                        "fraction": fraction,
                        "position": position,
                        "orders_shown": shown,
                        "project_s": Stats.of(project).to_json(),
                        "raw_scan_s": Stats.of(raw).to_json(),
                        "ratio_project_to_raw": Stats.of(paired_ratios(project, raw)).to_json(),
                        "full_replay_s": full_replay,
                    }
                )
        finally:
            app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    worst = max(r["project_s"]["median"] for r in results)
    rows = [
        [
            f"{r['fraction']:.0%} (#{r['position']:,})",
            f"{r['orders_shown']:,}",
            f"{fmt(r['project_s']['median'])} s",
            f"{fmt(r['raw_scan_s']['median'])} s",
            f"{fmt(r['ratio_project_to_raw']['median'])}",
            f"{fmt(r['full_replay_s'])} s",
        ]
        for r in results
    ]
    print(f"## P9 — the desk as of a date: {orders:,} orders, {count:,} events")
    print(
        render_table(
            (
                "moment (log position)",
                "orders then",
                "as-of query",
                "raw scan",
                "ratio",
                "full replay",
            ),
            rows,
        )
    )
    verdict = "met" if worst <= GOAL_SECONDS else "NOT met"
    print(f"goal ≤ {GOAL_SECONDS:g} s: {verdict} (worst {fmt(worst)} s)")
    print()
    return {
        "events": count,
        "orders": orders,
        "moments": results,
        "worst_s": worst,
        "goal_s": GOAL_SECONDS,
        "goal_met": worst <= GOAL_SECONDS,
    }
