"""The position of "as of T" (store/as_of_log.search_position): the last event recorded at or
before T, found by a binary search over positions that may have gaps and equal stamps."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator

import pytest

from desktop_app.store.as_of_log import search_position


@pytest.fixture
def con() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, recorded_at TEXT)")
    yield connection
    connection.close()


def _stamp(second: int) -> str:
    return f"2026-03-12T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000000Z"


def _fill(con: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
    con.execute("DELETE FROM events")
    con.executemany("INSERT INTO events VALUES (?, ?)", rows)


def test_an_empty_log_and_moments_outside_it(con: sqlite3.Connection) -> None:
    assert search_position(con, _stamp(10)) == 0
    _fill(con, [(3, _stamp(5)), (4, _stamp(6))])
    assert search_position(con, _stamp(4)) == 0
    assert search_position(con, _stamp(5)) == 3  # at the event's own time: included
    assert search_position(con, _stamp(99)) == 4


def test_rising_stamps_with_gaps_and_ties_match_a_plain_scan(con: sqlite3.Connection) -> None:
    rnd = random.Random(5)
    for _ in range(200):
        rows, position, second = [], 0, 0
        for _ in range(rnd.randint(1, 60)):
            position += rnd.choice((1, 1, 1, 2, 7))  # gaps: numbers never reused
            second += rnd.choice((0, 0, 1, 3))  # ties: one append's events share a stamp
            rows.append((position, _stamp(second)))
        _fill(con, rows)
        for probe in range(-1, second + 2):
            moment = _stamp(max(probe, 0)) if probe >= 0 else "2026-03-11T00:00:00.000000Z"
            expected = max((p for p, stamp in rows if stamp <= moment), default=0)
            assert search_position(con, moment) == expected, (rows, moment)


def test_a_clock_that_stepped_back_still_gives_one_consistent_prefix(
    con: sqlite3.Connection,
) -> None:
    rnd = random.Random(8)
    for _ in range(200):
        rows = [(p, _stamp(rnd.randint(0, 50))) for p in range(1, rnd.randint(2, 40))]
        _fill(con, rows)
        for probe in range(52):
            moment = _stamp(probe)
            found = search_position(con, moment)
            stamps = dict(rows)
            if found == 0:
                assert stamps[1] > moment  # the log started after the moment
                continue
            assert stamps[found] <= moment  # the last event kept was recorded by then
            if found + 1 in stamps:
                assert stamps[found + 1] > moment  # and the next one after it
