"""Helpers for the reliability tests: child processes, copies, whole-command checks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from desktop_app.store.read_model_file import read_model_path

ROOT = Path(__file__).resolve().parents[3]


def child(*args: str) -> subprocess.Popen[str]:
    """``python -m tests.integration.reliability.children ARGS`` with piped text output (and a
    stdin pipe: :func:`finish` closes it, which is what releases a ``hold-lock`` child)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.reliability.children", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def reaped(procs: list[subprocess.Popen[str]]) -> Iterator[None]:
    """On any failure, kill the children still running (they would wait on a barrier)."""
    try:
        yield
    except BaseException:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        raise


def read_json_line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The child's next JSON line; fails with its stderr when it died instead."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"child exited ({proc.returncode}) without output:\n{err}")
    data: dict[str, Any] = json.loads(line)
    return data


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> list[dict[str, Any]]:
    """Wait for a child; its remaining JSON lines. Fails when it did not exit cleanly."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def sqlite_copy(src: Path, dst: Path) -> Path:
    """A consistent copy through the SQLite backup API (the source may have a WAL)."""
    a = sqlite3.connect(src)
    b = sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()
    return dst


def plain(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for checking (not through the store)."""
    return sqlite3.connect(path, isolation_level=None)


def integrity_ok(path: Path) -> None:
    """The database and its read model's own file (where there is one) pass SQLite's checks."""
    for file in (path, read_model_path(path)):
        if file != path and not file.exists():
            continue
        con = plain(file)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)], file
            assert con.execute("PRAGMA foreign_key_check").fetchall() == [], file
        finally:
            con.close()


def stream_versions_contiguous(con: sqlite3.Connection) -> None:
    """Every stream runs 1..n with no gaps and no duplicates."""
    for stream, count, low, high in con.execute(
        "SELECT stream_id, count(*), min(version), max(version) FROM events GROUP BY stream_id"
    ):
        assert (low, high) == (1, count), stream


def command_state(path: Path, command_id: str) -> tuple[int, int, int, list[int]] | None:
    """``(version, first, last, event positions)`` of a recorded command, None when absent.

    Asserts the command is whole: its commands row and its events agree exactly, or neither
    exists.
    """
    con = plain(path)
    try:
        row = con.execute(
            "SELECT stream_id, version, first_position, last_position FROM commands "
            "WHERE command_id = ?",
            (command_id,),
        ).fetchone()
        positions = [
            int(p)
            for (p,) in con.execute(
                "SELECT position FROM events WHERE json_extract(metadata, '$.causation_id') = ? "
                "ORDER BY position",
                (command_id,),
            )
        ]
        if row is None:
            assert positions == [], f"events of an unrecorded command: {positions}"
            return None
        stream, version, first, last = row
        assert positions == list(range(first, last + 1)), (positions, first, last)
        versions = [
            int(v)
            for (v,) in con.execute(
                "SELECT version FROM events WHERE position BETWEEN ? AND ? ORDER BY position",
                (first, last),
            )
        ]
        assert versions == list(range(version - len(versions) + 1, version + 1))
        streams = {
            s
            for (s,) in con.execute(
                "SELECT DISTINCT stream_id FROM events WHERE position BETWEEN ? AND ?",
                (first, last),
            )
        }
        assert streams == {stream}
        return int(version), int(first), int(last), positions
    finally:
        con.close()
