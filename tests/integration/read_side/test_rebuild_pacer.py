"""The paced write steps that drop the leftovers of an older version's crashed rebuild: each is
one write transaction, rolled back whole when its work fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.store.read_model_rebuild import Pacer


def _connection(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    return con


def test_a_step_is_one_committed_transaction(tmp_path: Path) -> None:
    con = _connection(tmp_path / "plain.sqlite3")
    try:
        pacer = Pacer(con)
        with pacer.step():
            con.execute("INSERT INTO t (n) VALUES (1)")
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        assert not con.in_transaction
    finally:
        con.close()


def test_a_step_whose_work_fails_is_rolled_back_whole(tmp_path: Path) -> None:
    con = _connection(tmp_path / "failed.sqlite3")
    try:
        pacer = Pacer(con)
        with pytest.raises(RuntimeError), pacer.step():
            con.execute("INSERT INTO t (n) VALUES (1)")
            raise RuntimeError("the drop failed")
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0
        assert not con.in_transaction
    finally:
        con.close()
