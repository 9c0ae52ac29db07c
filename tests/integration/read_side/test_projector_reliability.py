"""Projector crash safety (R4), two projectors (R5), a failing projection, schema change,
cross-process freshness."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from desktop_app.application.ports import CheckpointConflictError, EventRecord, WorkingSet
from desktop_app.bootstrap import App
from desktop_app.projector.projections import PROJECTIONS, Projection, keys_for, project
from desktop_app.projector.runner import Projector
from desktop_app.store.read_model import SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side import workload
from tests.integration.read_side.support import (
    checkpoint,
    dump_read_model,
    open_app,
    rebuilt_copy,
)

ROOT = Path(__file__).resolve().parents[3]
STEPS = ("loaded", "before_rows", "orders_written", "rows_written", "checkpoint_written")


def _fill(path: Path, commands: int = 150, seed: int = 5) -> None:
    app = open_app(path)
    try:
        world = workload.World(random.Random(seed))
        workload.seed_catalog(app.commands, world)
        workload.run(app.commands, world, commands)
    finally:
        app.close()


def _child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Crash(Exception):
    pass


@pytest.mark.parametrize("step", STEPS)
def test_exception_inside_a_batch_leaves_no_trace(tmp_path: Path, step: str) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path)
    app = open_app(path)
    try:
        assert app.projector is not None and isinstance(
            app.read_model.target, SqliteProjectionTarget
        )
        target = app.read_model.target
        projector = Projector(app.events, app.read_model.feed, target, batch_size=40)
        calls = {"loaded": 0}

        def fault(name: str) -> None:
            calls["loaded"] += name == "loaded"
            if name == step and calls["loaded"] == 3:
                raise Crash(step)

        target.fault = fault
        projector.run_once()
        status = projector.status()
        assert status.last_error is not None and "Crash" in status.last_error
        assert status.failed_position is None  # not a projection's fault
        assert checkpoint(path) == 80  # two batches committed, the third rolled back
        target.fault = None
        projector.run_once()
        assert projector.status().last_error is None
        assert projector.status().lag == 0
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


@pytest.mark.parametrize("step", ["before_rows", "rows_written", "checkpoint_written"])
def test_kill_9_inside_a_batch_then_restart_equals_rebuild(tmp_path: Path, step: str) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path)
    child = _child("-m", "tests.integration.read_side.projector_child", str(path), step, "50")
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == f"at {step}", child.stderr.read() if child.stderr else ""
    finally:
        child.kill()
        child.wait()
    assert checkpoint(path) == 50  # only the first batch committed
    app = open_app(path, create=False)
    try:
        assert app.projector is not None
        app.projector.run_once()
        assert app.projector.status().lag == 0
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_checkpoint_is_compare_and_set(app: App) -> None:
    assert app.read_model is not None and app.projector is not None
    feed, rm, queries = app.read_model.feed, app.read_model.target, app.read_model.queries
    app.commands.dispatch(workload.c.RegisterCustomer(customer_id="c1", name="A"))
    app.commands.dispatch(workload.c.RegisterCustomer(customer_id="c2", name="B"))
    events = feed.read_events(after_position=0, limit=10)
    assert rm.claim("main")  # only the owner of the tables writes batches (R33)
    # Projector A read checkpoint 0; projector B commits event 1 first; A then loses at once.
    with rm.batch("main", 0) as batch:
        work = batch.load(keys_for(events[:1]))
        project(work, events[:1])
        batch.save(work, 1)
    with pytest.raises(CheckpointConflictError), rm.batch("main", 0):
        pass
    # The checkpoint moves under a batch (simulated on its own connection): the CAS at the
    # end fails and the whole batch, rows included, rolls back.
    with pytest.raises(CheckpointConflictError), rm.batch("main", 1) as batch:
        work = batch.load(keys_for(events[1:]))
        project(work, events[1:])
        batch._con.execute("UPDATE rm_checkpoints SET position = 5 WHERE name = 'main'")
        batch.save(work, 2)
    assert rm.checkpoint("main") == 1
    assert [c.customer_id for c in queries.list_customers(None, 10)] == ["c1"]
    app.projector.run_once()
    assert [c.customer_id for c in queries.list_customers(None, 10)] == ["c1", "c2"]


def test_two_projector_processes_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=300)
    open_app(path).close()  # tables exist before the race
    args = ("-m", "desktop_app.projector", "--db", str(path), "--once", "--batch", "7")
    children = [_child(*args), _child(*args)]
    codes = []
    for child in children:
        _out, err = child.communicate(timeout=60)
        # One process at a time projects (R33): one that finds the other at work says so
        # and exits with 3, having written nothing.
        assert child.returncode == 0 or (
            child.returncode == 3 and "exiting without projecting" in err
        ), err
        codes.append(child.returncode)
    assert 0 in codes
    con = sqlite3.connect(path)
    head = con.execute("SELECT max(position) FROM events").fetchone()[0]
    con.close()
    assert checkpoint(path) == head
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_failing_projection_stops_reports_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path)
    con = sqlite3.connect(path)
    bad = con.execute(
        "SELECT position FROM events WHERE type_name = 'OrderConfirmed' ORDER BY position "
        "LIMIT 1 OFFSET 3"
    ).fetchone()[0]
    con.close()

    def broken(work: WorkingSet, event: EventRecord, payload: Mapping[str, object]) -> None:
        if event.position == bad:
            raise ValueError("boom")
        PROJECTIONS["OrderConfirmed"](work, event, payload)

    projections: dict[str, Projection] = dict(PROJECTIONS)
    projections["OrderConfirmed"] = broken
    app = open_app(path)
    try:
        assert app.read_model is not None
        read_model = app.read_model
        faulty = Projector(
            app.events,
            read_model.feed,
            read_model.target,
            batch_size=1000,
            projections=projections,
        )
        applied = faulty.run_once()
        status = faulty.status()
        assert applied == bad - 1
        assert status.failed_position == bad and status.checkpoint == bad - 1
        assert status.last_error is not None and "boom" in status.last_error
        assert "OrderConfirmed" in status.last_error
        assert faulty.run_once() == 0  # still stuck there, never skips
        assert faulty.status().failed_position == bad
        fixed = Projector(app.events, read_model.feed, read_model.target)
        fixed.run_once()
        assert fixed.status().last_error is None and fixed.status().lag == 0
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_read_model_schema_change_rebuilds(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=60)
    app = open_app(path)
    assert app.projector is not None
    app.projector.run_once()
    app.close()
    before = dump_read_model(path)
    con = sqlite3.connect(read_model_path(path))
    con.execute("UPDATE rm_meta SET value = '0' WHERE key = 'schema_version'")
    con.execute("UPDATE rm_orders SET customer_name = 'stale'")
    con.commit()
    con.close()
    app = open_app(path)
    try:
        assert app.projector is not None
        assert app.projector.status().checkpoint == 0
        progress: list[tuple[int, int]] = []
        app.projector.add_listener(lambda s: progress.append((s.checkpoint, s.head)))
        app.projector.run_once()
        assert progress and progress[-1][0] == progress[-1][1]
    finally:
        app.close()
    assert dump_read_model(path) == before


def test_rebuild_reports_progress(seeded: App) -> None:
    assert seeded.projector is not None
    calls: list[tuple[int, int]] = []
    applied = seeded.projector.rebuild(lambda done, total: calls.append((done, total)))
    head = seeded.events.head_position()
    assert applied == head
    assert calls[0] == (0, head) and calls[-1] == (head, head)


def test_another_process_commit_is_noticed_cheaply(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=10)
    app = open_app(path)
    try:
        projector = app.projector
        assert projector is not None
        projector.run_once()
        while projector.has_news():  # settle: our own commit counts as "another connection"
            projector.run_once()
        assert not projector.has_news()
        before = projector.status().checkpoint
        child = _child("-m", "tests.integration.read_side.workload", str(path), "99", "3")
        _out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        # The child has exited, so its commits are in: the very next look must see them.
        assert projector.has_news(), "commit of another process not noticed"
        projector.run_once()
        assert projector.status().checkpoint > before
        assert projector.status().lag == 0
    finally:
        app.close()
