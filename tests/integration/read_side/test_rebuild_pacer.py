"""The rebuild's paced writes: work that needs no lock runs in the free time between the write
steps (never inside one), and all of it is done once asked for."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from desktop_app.store.read_model_rebuild import Pacer


def _connection(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    return con


def test_idle_work_runs_between_steps_never_under_the_lock(tmp_path: Path) -> None:
    con = _connection(tmp_path / "pace.sqlite3")
    other = sqlite3.connect(tmp_path / "pace.sqlite3", isolation_level=None, timeout=0)
    seen: list[tuple[bool, int]] = []

    def pieces() -> Iterator[None]:
        for _ in range(10_000):
            # The write lock is free: another connection can take it right now.
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append((con.in_transaction, con.execute("SELECT count(*) FROM t").fetchone()[0]))
            yield

    try:
        pacer = Pacer(con)
        pacer.idle = pieces()
        steps = 0

        def advance(rows: float) -> None:
            nonlocal steps
            steps += 1

        pacer.insert("INSERT INTO t (n) VALUES (?)", [(n,) for n in range(3000)], advance)
        during = len(seen)
        pacer.finish_idle()
        assert pacer.idle is None
        assert len(seen) == 10_000  # all of it, once asked for
        assert during >= steps >= 1  # at least one piece after each step
        assert not any(in_transaction for in_transaction, _ in seen)
        # Pieces ran after steps had committed rows, none before the first step.
        assert seen[0][1] > 0
    finally:
        other.close()
        con.close()


def test_without_idle_work_a_step_only_waits(tmp_path: Path) -> None:
    con = _connection(tmp_path / "plain.sqlite3")
    try:
        pacer = Pacer(con)
        with pacer.step():
            con.execute("INSERT INTO t (n) VALUES (1)")
        pacer.finish_idle()  # nothing to do
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        assert not con.in_transaction
    finally:
        con.close()
