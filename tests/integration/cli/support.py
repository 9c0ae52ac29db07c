"""Helpers for the CLI tests: run the real ``desktop-app-admin`` as a subprocess, copy and
tamper with database files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.store.read_model_file import read_model_path

PROG = "desktop-app-admin"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def cli(*args: str | Path, expect: int | None = 0) -> Run:
    """Run the CLI; ``expect`` is the exit code it must return (None: any)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "TZ": "Europe/Berlin"}
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    if expect is not None:
        assert run.code == expect, run
    assert "Traceback" not in run.err, run.err
    return run


def one_error_line(run: Run, *fragments: str) -> str:
    """The run failed with exactly one ``desktop-app-admin: error: ...`` line on stderr."""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith(f"{PROG}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (never a plain file copy of a live db),
    with its read model's own file (bound to the same log: its lists are used as they are)."""
    pairs = [(source, target)]
    if read_model_path(source).exists():
        pairs.append((read_model_path(source), read_model_path(target)))
    for a, b in pairs:
        src = sqlite3.connect(a)
        dst = sqlite3.connect(b)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    return target


def attacker(path: Path) -> sqlite3.Connection:
    """A raw connection with the append-only triggers dropped, as someone with the file could."""
    con = sqlite3.connect(path, isolation_level=None)
    triggers = [
        row[0]
        for row in con.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='events'"
        )
    ]
    assert len(triggers) >= 2, triggers  # UPDATE and DELETE are refused by the schema
    for name in triggers:
        con.execute(f'DROP TRIGGER "{name}"')
    return con


def placed_orders(path: Path) -> list[dict[str, Any]]:
    """OrderPlaced payloads straight from the file."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT payload FROM events WHERE type_name='OrderPlaced' ORDER BY position"
        ).fetchall()
    finally:
        con.close()
    return [json.loads(row[0]) for row in rows]
