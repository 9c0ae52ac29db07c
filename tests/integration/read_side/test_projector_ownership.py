"""R33: one process at a time projects into a file's read model, whatever its name; a second
one waits (or, with ``--once``, exits) with a clear message, and takes over when the owner dies,
``kill -9`` included. Real projector processes on a real file."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import NotReadModelOwnerError, StoreError
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.projector_lease import OWNER_KEY, lock_path
from desktop_app.store.read_model import SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side import workload
from tests.integration.read_side.support import checkpoint, dump_read_model, open_app, rebuilt_copy

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 60.0


class Child:
    """A running ``python -m desktop_app.projector``; its output lines collected by threads."""

    def __init__(self, path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app.projector", "--db", str(path), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, wanted: Callable[[str], bool]) -> str:
        """The first output line (since the start) that ``wanted`` accepts."""
        for line in self.seen:
            if wanted(line):
                return line
        deadline = time.monotonic() + DEADLINE
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no such line; output so far: {self.seen}"
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.seen}"
                continue
            self.seen.append(line)
            if wanted(line):
                return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _fill(path: Path, commands: int, seed: int) -> None:
    app = open_app(path)
    try:
        world = workload.World(random.Random(seed))
        workload.seed_catalog(app.commands, world)
        workload.run(app.commands, world, commands)
    finally:
        app.close()


def _head(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT max(position) FROM events").fetchone()[0])
    finally:
        con.close()


def _wait_caught_up(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while checkpoint(path) != _head(path):
        assert time.monotonic() < deadline, (checkpoint(path), _head(path))
        time.sleep(0.05)


def _owner_name(path: Path) -> str | None:
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT value FROM rm_meta WHERE key = ?", (OWNER_KEY,)).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    return str(json.loads(row[0])["name"])


def test_second_projector_with_another_name_waits_then_takes_over_a_killed_owner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=200, seed=5)
    first = Child(path, "--name", "alpha", "--batch", "7", "--poll", "0.05")
    second: Child | None = None
    try:
        first.wait_for_line(lambda line: line.startswith("applied"))
        assert _owner_name(path) == "alpha"
        second = Child(path, "--name", "beta", "--batch", "7", "--poll", "0.05")
        message = second.wait_for_line(lambda line: "kept up to date by" in line)
        assert "projector 'alpha'" in message and f"process {first.proc.pid}" in message
        assert "Projector 'beta' does not write it: waiting to take over" in message

        # More commands: only alpha projects them, beta keeps waiting.
        _fill(path, commands=150, seed=6)
        _wait_caught_up(path)
        assert _owner_name(path) == "alpha"
        assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
        assert second.proc.poll() is None
        assert not [line for line in second.seen if line.startswith("applied")]

        # The owner is killed outright: beta takes over and projects what comes next.
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        second.wait_for_line(lambda line: line == "projector 'beta' now owns the read model")
        _fill(path, commands=150, seed=7)
        _wait_caught_up(path)
        assert _owner_name(path) == "beta"
        assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert second.proc.returncode == 0


def test_once_exits_with_a_clear_message_while_another_process_projects(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=80, seed=8)
    owner = Child(path, "--name", "alpha", "--poll", "0.05")
    try:
        owner.wait_for_line(lambda line: line.startswith("applied"))
        _fill(path, commands=40, seed=9)  # news that only the owner may project
        before_owner = _owner_name(path)
        other = subprocess.run(
            [sys.executable, "-m", "desktop_app.projector", "--db", str(path), "--once"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert other.returncode == 3, other.stderr
        assert "kept up to date by projector 'alpha'" in other.stderr
        assert "exiting without projecting" in other.stderr
        assert _owner_name(path) == before_owner == "alpha"
        _wait_caught_up(path)
        assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
    finally:
        owner.stop()
    assert owner.proc.returncode == 0
    assert _owner_name(path) is None  # a clean exit clears the owner row
    assert not lock_path(
        read_model_path(path)
    ).exists()  # and deletes the lock file (a crash leaves it)


def test_a_window_follows_a_headless_owner_and_takes_over_when_it_dies(tmp_path: Path) -> None:
    """The GUI's in-process projector while a headless one owns the tables: it writes nothing,
    reports the owner's progress (read-your-writes still works) and takes over when it dies."""
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=60, seed=10)
    owner = Child(path, "--name", "headless", "--poll", "0.05")
    app = open_app(path)
    try:
        owner.wait_for_line(lambda line: line.startswith("applied"))
        projector = app.projector
        assert projector is not None
        assert projector.run_once() == 0
        status = projector.status()
        assert status.owner is not None and "projector 'headless'" in status.owner
        assert f"process {owner.proc.pid}" in status.owner
        assert status.last_error is None
        world = workload.World(random.Random(11))
        workload.seed_catalog(app.commands, world)  # already there: duplicates, no events
        workload.run(app.commands, world, 30)
        position = app.events.head_position()
        assert projector.wait_until(position, DEADLINE)  # projected by the other process
        assert projector.run_once() == 0  # the scheduler's next tick: the status follows
        assert projector.status().checkpoint >= position and projector.status().owner
        assert projector.has_news()  # a follower keeps looking, to take over at once
        before = dump_read_model(path)
        with pytest.raises(StoreError, match="kept up to date by projector 'headless'"):
            app.commands.run_maintenance(c.RebuildReadModels())  # Tools ▸ Rebuild: refused
        assert dump_read_model(path) == before

        owner.proc.kill()
        owner.proc.wait()
        workload.run(app.commands, world, 30)
        deadline = time.monotonic() + DEADLINE
        while projector.status().owner is not None or projector.status().lag:
            assert time.monotonic() < deadline, projector.status()
            projector.run_once()
        assert _owner_name(path) == projector.name
    finally:
        owner.stop()
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_a_batch_of_a_process_that_lost_ownership_writes_nothing(tmp_path: Path) -> None:
    """The owner row fences the writes: if the lock was lost without this process noticing
    (lock file deleted, another process recorded as owner), the next batch raises and the
    projector turns follower instead of writing."""
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=40, seed=12)
    app = open_app(path)
    try:
        projector = app.projector
        assert projector is not None and isinstance(app.read_model.target, SqliteProjectionTarget)
        projector.run_once()
        assert projector.status().owner is None and projector.status().lag == 0
        before = dump_read_model(path)
        at = checkpoint(path)
        lock_path(read_model_path(path)).unlink()
        con = sqlite3.connect(read_model_path(path))
        con.execute(
            "UPDATE rm_meta SET value = ? WHERE key = ?",
            (
                '{"host": "elsewhere", "name": "intruder", "pid": 4242, '
                '"since": "2026-01-01T00:00:00+00:00", "token": "not-yours"}',
                OWNER_KEY,
            ),
        )
        con.commit()
        con.close()
        world = workload.World(random.Random(13))
        workload.seed_catalog(app.commands, world)  # already there: duplicates, no events
        workload.run(app.commands, world, 10)
        assert projector.run_once() == 0
        status = projector.status()
        assert status.owner is not None and "projector 'intruder'" in status.owner
        assert checkpoint(path) == at
        assert dump_read_model(path) == before
        try:
            with app.read_model.target.batch(projector.checkpoint_name, at):
                raise AssertionError("a batch was opened without owning the tables")
        except NotReadModelOwnerError as exc:
            assert "intruder" in str(exc)
    finally:
        app.close()


REBUILD_STEPS = (
    "replace_cleared",
    "replace_rows_written",
    "replace_aside",
    "replace_copying",
    "replace_swapped",
)


def test_commands_of_another_process_go_on_during_a_rebuild(tmp_path: Path) -> None:
    """R34: a rebuild in one process never holds the write lock for long: at every stage of
    its write (paused there), another process's commands commit at once; afterwards the read
    model equals the log, commands made during the rebuild included."""
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=300, seed=14)
    child_args = ["-m", "tests.integration.read_side.rebuild_child", str(path), *REBUILD_STEPS]
    child = subprocess.Popen(
        [sys.executable, *child_args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Commands wait at most 2 s for the lock here (5 s in the app): a rebuild holding it
    # through a pause makes them fail with "busy" instead of passing.
    clerk = bootstrap(Settings(db_path=path, busy_timeout_ms=2000), source="test", create=False)
    try:
        assert child.stdin is not None and child.stdout is not None
        world = workload.World(random.Random(15))
        workload.seed_catalog(clerk.commands, world)
        for step in REBUILD_STEPS:
            line = child.stdout.readline()
            assert line.strip() == f"at {step}", (line, child.stderr.read() if child.stderr else "")
            acked = workload.run(clerk.commands, world, 8)
            assert acked, step  # commands committed while the rebuild is paused here
            child.stdin.write("go\n")
            child.stdin.flush()
        out, err = child.communicate(timeout=DEADLINE)
        assert child.returncode == 0, err
        rebuilt = out.strip().splitlines()[-1].split()
        assert rebuilt[0] == "rebuilt" and rebuilt[-1] == "None", out
        head = clerk.events.head_position()
        assert int(rebuilt[2]) == head  # the delta since the scan is projected too
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        clerk.close()
    assert checkpoint(path) == _head(path)
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
    con = sqlite3.connect(read_model_path(path))
    try:
        leftovers = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND (name LIKE 'rmn%' OR name LIKE 'rmo%')"
        ).fetchall()
    finally:
        con.close()
    assert leftovers == []


def _aside_tables(path: Path) -> list[str]:
    """Tables of a rebuild in the live read-model file (``rmn_*``/``rmo_*``)."""
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)
    try:
        names = [str(r[0]) for r in con.execute("SELECT name FROM sqlite_master")]
    finally:
        con.close()
    return [n for n in names if n.startswith(("rmn_", "rmo_"))]


@pytest.mark.parametrize(
    "step", ["replace_rows_written", "replace_aside", "replace_copying", "replace_swapped"]
)
def test_a_rebuild_killed_midway_leaves_a_whole_read_model_and_no_leftovers(
    tmp_path: Path, step: str
) -> None:
    """kill -9 while a rebuild builds its new read model, while it copies it over the live
    file (part of it written into the WAL, not committed) or right after the copy: the read
    model is the old one (or the new one), whole either way, and nothing of the rebuild is
    left in the file (the new model is built in private databases; a rebuild of an earlier
    version left ``rmn_``/``rmo_`` tables behind)."""
    path = tmp_path / "db.sqlite3"
    _fill(path, commands=150, seed=16)
    app = open_app(path)
    assert app.projector is not None
    app.projector.run_once()
    app.close()
    old, before = checkpoint(path), dump_read_model(path)
    _fill(path, commands=40, seed=17)  # not projected: the rebuild's read model is newer
    assert _head(path) > old
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.read_side.rebuild_child", str(path), step],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == f"at {step}", child.stderr.read() if child.stderr else ""
        if step != "replace_swapped":  # readers meanwhile: the old read model, whole
            assert checkpoint(path) == old
            assert dump_read_model(path) == before
    finally:
        child.kill()
        child.wait()
    assert _aside_tables(path) == []
    if step == "replace_swapped":
        assert checkpoint(path) == _head(path)
        assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
    else:
        assert checkpoint(path) == old
        assert dump_read_model(path) == before
    app = open_app(path, create=False)
    try:
        assert app.projector is not None
        app.projector.run_once()  # catches up from wherever the read model is
        assert app.projector.status().lag == 0 and app.projector.status().last_error is None
    finally:
        app.close()
    assert _aside_tables(path) == []
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
    # Nothing of the rebuild beside the files either (its databases were private).
    model = read_model_path(path)
    known = {path.name, model.name, lock_path(model).name} | {
        f.name + suffix for f in (path, model) for suffix in ("-wal", "-shm")
    }
    found = {p.name for p in tmp_path.iterdir() if not p.name.startswith("rebuild-")}
    assert found <= known, found - known
