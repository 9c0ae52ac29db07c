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


class _Clock:
    """A clock that moves only when told to (each inserted row, each idle piece)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_steps_are_sized_by_the_time_they_hold_the_lock(tmp_path: Path) -> None:
    # Each row takes 0.1 ms under the lock, each idle piece 50 ms after a step: a step of
    # 1000 rows holds the lock for the whole budget (0.1 s). The free time after a step must
    # not count as write time (it did: steps came out several times smaller than the budget,
    # and each step costs a gap).
    con = _connection(tmp_path / "sized.sqlite3")
    clock = _Clock()
    con.create_function("tick", 0, lambda: clock.advance(0.0001), deterministic=False)
    con.execute("CREATE TABLE r (n INTEGER PRIMARY KEY, x)")

    def pieces() -> Iterator[None]:
        while True:
            clock.advance(0.05)
            yield

    try:
        pacer = Pacer(con, hold=0.1, clock=clock)
        pacer.idle = pieces()
        sizes: list[int] = []
        pacer.insert(
            "INSERT INTO r (n, x) VALUES (?, tick())",
            [(n,) for n in range(20_000)],
            lambda rows: sizes.append(int(rows)),
        )
        assert sum(sizes) == 20_000
        assert con.execute("SELECT count(*) FROM r").fetchone()[0] == 20_000
        assert all(990 <= size <= 1010 for size in sizes[:-1]), sizes
        assert 0.099 <= pacer.longest <= 0.102
    finally:
        con.close()
