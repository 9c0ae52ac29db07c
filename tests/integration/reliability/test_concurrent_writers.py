"""R6: several processes race for the same order; R7: two writers append while a reader tails.

Real SQLite files, real child processes (``children.py``), nothing mocked.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application.ports import StoredEvent
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.integration.reliability.children import seed_order
from tests.integration.reliability.support import (
    child,
    finish,
    integrity_ok,
    plain,
    read_json_line,
    reaped,
    stream_versions_contiguous,
)

ORDER_ID = "order-race"


def _seed(path: Path) -> tuple[int, str]:
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        base = seed_order(app, ORDER_ID)
        return base, app.deps.orders.stream_id(ORDER_ID)
    finally:
        app.close()


def _check_stream(path: Path, stream: str, winners: dict[int, str], losers: list[str]) -> None:
    """The stream holds exactly the winners' events, one per version; losers left no trace."""
    integrity_ok(path)
    con = plain(path)
    try:
        stream_versions_contiguous(con)
        by_version = dict(
            con.execute(
                "SELECT version, json_extract(metadata, '$.causation_id') FROM events "
                "WHERE stream_id = ?",
                (stream,),
            ).fetchall()
        )
        for version, command_id in winners.items():
            assert by_version[version] == command_id, version
        assert max(by_version) == max(winners)
        recorded = {cid for (cid,) in con.execute("SELECT command_id FROM commands")}
        assert set(winners.values()) <= recorded
        assert not recorded & set(losers)
        assert not set(by_version.values()) & set(losers)
    finally:
        con.close()
    db = open_database(path, create=False)
    try:
        assert SqliteEventStore(db).verify().ok
    finally:
        db.close()


def _no_raw_errors(lines: list[dict[str, Any]]) -> None:
    bad = [line for line in lines if line["outcome"] not in ("ok", "conflict")]
    assert not bad, json.dumps(bad[:3], indent=1)
    for line in lines:
        if line["outcome"] == "conflict":
            assert "changed by someone else" in line["message"]
            assert "locked" not in line["message"] and "UNIQUE" not in line["message"]


def _race_in_rounds(tmp_path: Path, processes: int, rounds: int) -> None:
    path = tmp_path / "orders.sqlite3"
    base, stream = _seed(path)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    children = [
        child("r6-rounds", str(path), ORDER_ID, str(k), str(rounds), str(barrier), str(base))
        for k in range(processes)
    ]
    with reaped(children):
        for proc in children:
            assert read_json_line(proc).get("ready")
        lines: list[dict[str, Any]] = []
        for r in range(rounds):
            (barrier / f"go-{r}").touch()  # every child pinned to version base + r
            round_lines = [read_json_line(proc) for proc in children]
            _no_raw_errors(round_lines)
            won = [line for line in round_lines if line["outcome"] == "ok"]
            assert len(won) == 1, round_lines  # each version is won exactly once
            assert won[0]["version"] == base + r + 1
            assert not won[0]["duplicate"]
            lines += round_lines
        for proc in children:
            assert finish(proc) == []
    winners = {line["version"]: line["command_id"] for line in lines if line["outcome"] == "ok"}
    losers = [line["command_id"] for line in lines if line["outcome"] == "conflict"]
    assert sorted(winners) == list(range(base + 1, base + rounds + 1))
    assert len(losers) == rounds * (processes - 1)
    # Most losers passed the handler's check and lost inside the store's BEGIN IMMEDIATE
    # transaction: the race really reached the database.
    assert any(line.get("where") == "store" for line in lines)
    _check_stream(path, stream, winners, losers)


def test_r6_processes_racing_in_rounds_each_version_won_once(tmp_path: Path) -> None:
    _race_in_rounds(tmp_path, processes=4, rounds=20)


@pytest.mark.slow
def test_r6_many_processes_racing_in_many_rounds(tmp_path: Path) -> None:
    _race_in_rounds(tmp_path, processes=8, rounds=150)


def _race_free_running(tmp_path: Path, processes: int, attempts: int) -> None:
    """Each child loops: load the version, dispatch pinned to it (no coordination per try)."""
    path = tmp_path / "orders.sqlite3"
    base, stream = _seed(path)
    go = tmp_path / "go"
    children = [
        child("r6-free", str(path), ORDER_ID, str(k), str(attempts), str(go))
        for k in range(processes)
    ]
    with reaped(children):
        for proc in children:
            assert read_json_line(proc).get("ready")
        go.touch()
        lines = [line for proc in children for line in finish(proc)]
    assert len(lines) == processes * attempts
    _no_raw_errors(lines)
    won = [line for line in lines if line["outcome"] == "ok"]
    for line in won:
        assert line["version"] == line["expected"] + 1
    versions = sorted(line["version"] for line in won)
    assert versions == list(range(base + 1, base + len(won) + 1)), "a version won twice or lost"
    winners = {line["version"]: line["command_id"] for line in won}
    losers = [line["command_id"] for line in lines if line["outcome"] == "conflict"]
    assert losers, "the children never collided: the test proves nothing"
    _check_stream(path, stream, winners, losers)


def test_r6_processes_racing_free_running(tmp_path: Path) -> None:
    _race_free_running(tmp_path, processes=4, attempts=40)


@pytest.mark.slow
def test_r6_many_processes_racing_free_running(tmp_path: Path) -> None:
    _race_free_running(tmp_path, processes=8, attempts=300)


# ---------------------------------------------------------------------------- R7


class _Tail(threading.Thread):
    """Tails ``read_all`` with its own Database until told to stop and nothing is left."""

    LIMIT = 1_000_000  # larger than the whole log: every read returns all that is visible

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.reads: list[list[StoredEvent]] = []
        self.seen = 0  # the last position read
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        db = open_database(self.path, create=False)
        store = SqliteEventStore(db)
        after = 0
        try:
            while True:
                stopping = self.stop.is_set()
                batch = store.read_all(after_position=after, limit=self.LIMIT)
                if batch:
                    # What a reader can see is always a prefix of the log: no holes to skip.
                    assert [e.position for e in batch] == list(
                        range(after + 1, after + 1 + len(batch))
                    ), (after, [e.position for e in batch][:10])
                    self.reads.append(batch)
                    after = self.seen = batch[-1].position
                elif stopping:
                    return
                else:
                    time.sleep(0.0005)
        except BaseException as exc:
            self.error = exc
        finally:
            db.close()


def _writers_and_tail(tmp_path: Path, appends: int) -> None:
    path = tmp_path / "events.sqlite3"
    open_database(path).close()
    go, resume = tmp_path / "go", tmp_path / "resume"
    writers = [
        child("r7-writer", str(path), name, str(appends), str(seed), str(go), str(resume))
        for seed, name in enumerate(("a", "b"))
    ]
    tail = _Tail(path)
    results: list[dict[str, Any]] = []
    try:
        with reaped(writers):
            for proc in writers:
                assert read_json_line(proc).get("ready")
            tail.start()
            go.touch()
            # Half-way both writers pause until the reader has caught up with them, so it sees
            # the log grow whatever the machine's speed (not only when the timing happens to
            # interleave reads and writes).
            for proc in writers:
                while "paused" not in (line := read_json_line(proc)):
                    results.append(line)
            head = max((r["last"] for r in results), default=0)
            deadline = time.monotonic() + 120
            while tail.seen < head and tail.is_alive():
                assert time.monotonic() < deadline, (tail.seen, head)
                time.sleep(0.005)
            resume.touch()
            results += [line for proc in writers for line in finish(proc)]
    finally:
        tail.stop.set()
        if tail.ident is not None:
            tail.join(timeout=60)
    assert tail.error is None, tail.error
    assert not tail.is_alive()

    assert [r for r in results if r["outcome"] != "ok"] == []
    assert len(results) == 2 * appends
    # Each batch occupies a contiguous block of positions, and blocks never overlap.
    owner: dict[int, str] = {}
    ends = set()
    for r in results:
        assert r["last"] - r["first"] + 1 == r["count"], r
        for p in range(r["first"], r["last"] + 1):
            assert p not in owner, f"position {p} given to {owner[p]} and {r['command_id']}"
            owner[p] = r["command_id"]
        ends.add(r["last"])
    head = max(owner)
    assert sorted(owner) == list(range(1, head + 1))

    # The reader saw every event exactly once, in order, with no gap at the end ...
    seen = [e for read in tail.reads for e in read]
    assert [e.position for e in seen] == list(range(1, head + 1))
    assert len({e.event_id for e in seen}) == len(seen)
    for e in seen:
        assert e.metadata.causation_id == owner[e.position]
    # ... and never part of a batch: every read ended on a batch boundary.
    assert all(read[-1].position in ends for read in tail.reads)
    assert len(tail.reads) > 1, "the reader never saw the log grow"

    integrity_ok(path)
    con = plain(path)
    try:
        stream_versions_contiguous(con)
        # The next position is head + 1 (positions 1..head were all taken, above): none is
        # ever reused, as the triggers refuse every DELETE.
        (top,) = con.execute("SELECT max(position) FROM events").fetchone()
        assert top == head
        counts = collections.Counter(
            cid for (cid,) in con.execute("SELECT command_id FROM commands")
        )
        assert len(counts) == 2 * appends and max(counts.values()) == 1
    finally:
        con.close()
    db = open_database(path, create=False)
    try:
        store = SqliteEventStore(db)
        assert store.verify().ok
        assert [e.event_id for e in store.read_all(limit=10**6)] == [e.event_id for e in seen]
    finally:
        db.close()


def test_r7_two_writers_and_a_tailing_reader(tmp_path: Path) -> None:
    _writers_and_tail(tmp_path, appends=300)


@pytest.mark.slow
def test_r7_two_writers_and_a_tailing_reader_long(tmp_path: Path) -> None:
    _writers_and_tail(tmp_path, appends=3000)
