"""P5 list queries over a 1,000,000-order read model: sort x filter x paging, search, counts,
date ranges (a day and a month of placed orders, a week of last changes).

    python -m benchmarks.p5_list_queries /tmp/perf/p5.db [--orders 1000000]

Builds the file with :func:`benchmarks.p5_build.build` when it does not exist yet, then times
``ListOrders`` through the query bus (best of 3, after one warm-up) and prints one line each.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from desktop_app.application import queries as q
from desktop_app.application.queries import ORDER_SORT_COLUMNS
from desktop_app.store.read_model_file import read_model_path

SORTS = sorted(ORDER_SORT_COLUMNS)
DEEP = 70_000


def _best(fn: object, rounds: int = 3) -> float:
    assert callable(fn)
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="fewer combinations")
    args = parser.parse_args()
    if not args.path.exists():
        from benchmarks.p5_build import build

        built = build(args.path, args.orders)
        print(f"built {built.orders:,} orders in {built.seconds:.1f} s")

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    con = sqlite3.connect(read_model_path(Path(args.path)))  # the read model's own file
    customer = con.execute(
        "SELECT customer_id FROM rm_orders GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    # Date ranges end at the middle of the synthetic span (most rows there are synthetic).
    low, high = con.execute("SELECT min(placed_at), max(placed_at) FROM rm_orders").fetchone()
    con.close()
    t0, t1 = datetime.fromisoformat(low), datetime.fromisoformat(high)
    middle = t0 + (t1 - t0) / 2
    app = bootstrap(Settings(db_path=args.path), source="bench")
    try:
        ask = app.queries.ask
        filters: dict[str, dict[str, Any]] = {
            "none": {},
            "status": {"statuses": frozenset({"pending", "confirmed"})},
            "customer": {"customer_id": customer},
            "day": {"date_from": middle - timedelta(days=1), "date_to": middle},
            "month": {"date_from": middle - timedelta(days=30), "date_to": middle},
            "month+st": {
                "date_from": middle - timedelta(days=30),
                "date_to": middle,
                "statuses": frozenset({"pending", "confirmed"}),
            },
            "chg-week": {
                "date_column": "updated_at",
                "date_from": middle - timedelta(days=7),
                "date_to": middle,
            },
        }
        narrow = {"customer", "day", "month", "month+st", "chg-week"}
        sorts = ["placed_at", "customer_name", "total"] if args.quick else SORTS
        for sort in sorts:
            for fname, f in filters.items():
                for desc in (True, False):
                    first_q = q.ListOrders(sort=sort, descending=desc, limit=200, **f)
                    first = ask(first_q)
                    t_first = _best(partial(ask, first_q))
                    next_q = q.ListOrders(
                        sort=sort,
                        descending=desc,
                        limit=200,
                        after=first.next_after,
                        with_total=False,
                        **f,
                    )
                    t_next = _best(partial(ask, next_q))
                    deep_q = q.ListOrders(
                        sort=sort,
                        descending=desc,
                        limit=200,
                        offset=DEEP if fname not in narrow else 1000,
                        with_total=False,
                        **f,
                    )
                    t_deep = _best(partial(ask, deep_q), rounds=1)
                    print(
                        f"sort={sort:14} desc={desc!s:5} filter={fname:8} "
                        f"first+count={t_first * 1000:8.1f} ms  keyset-next={t_next * 1000:8.1f}"
                        f" ms  offset-deep={t_deep * 1000:8.1f} ms  total={first.total}",
                        flush=True,
                    )
        for status in ("delivered", "pending"):
            t = _best(partial(ask, q.ListOrders(statuses=frozenset({status}), limit=1)))
            print(f"count status={status}: {t * 1000:.1f} ms")
        t = _best(lambda: ask(q.ListOrders(limit=1)))
        print(f"count unfiltered: {t * 1000:.1f} ms")
        for pattern in ("SO-0123", "smith", "a", "%", "zz_none_zz", "sku", "Müller"):
            page = ask(q.ListOrders(search=pattern, limit=200))
            t = _best(partial(ask, q.ListOrders(search=pattern, limit=200)), rounds=1)
            print(f"search {pattern!r:14}: {t * 1000:8.1f} ms  total={page.total}", flush=True)
    finally:
        app.close()


if __name__ == "__main__":
    main()
