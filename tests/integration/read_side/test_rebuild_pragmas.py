"""A full rebuild tunes its connection for the bulk write and gives it back as it found it;
its WAL checkpoints run on a connection and thread of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.bootstrap import App
from desktop_app.store.read_model_rebuild import Checkpointer
from tests.integration.read_side.support import dump_read_model

_TUNED = ("secure_delete", "synchronous", "cache_size", "temp_store", "wal_autocheckpoint")


@pytest.mark.parametrize(("setting", "secure_delete"), [("OFF", 0), ("ON", 1), ("FAST", 2)])
def test_rebuild_gives_the_connection_back_with_its_pragmas(
    seeded: App, db_path: Path, setting: str, secure_delete: int
) -> None:
    assert seeded.projector is not None and seeded.database is not None
    # The rebuild runs on this thread's held connection: the one read here.
    with seeded.database.raw() as con:
        con.execute(f"PRAGMA secure_delete = {setting}")
        before = {name: con.execute(f"PRAGMA {name}").fetchone()[0] for name in _TUNED}
    expected = dump_read_model(db_path)
    assert seeded.projector.rebuild() > 0
    assert seeded.projector.status().last_error is None
    with seeded.database.raw() as con:
        after = {name: con.execute(f"PRAGMA {name}").fetchone()[0] for name in _TUNED}
    assert after == before
    assert before["secure_delete"] == secure_delete
    assert dump_read_model(db_path) == expected


def test_checkpointer_copies_the_wal_into_the_file_from_its_own_thread(
    seeded: App, db_path: Path
) -> None:
    assert seeded.database is not None
    with seeded.database.raw() as con:
        con.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            size = db_path.stat().st_size
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE scratch (n INTEGER PRIMARY KEY, t TEXT)")
            con.executemany(
                "INSERT INTO scratch VALUES (?, ?)", ((n, "x" * 500) for n in range(2000))
            )
            con.execute("COMMIT")
            assert db_path.stat().st_size == size  # the new pages are in the WAL only
            checkpointer = Checkpointer(seeded.database)
            checkpointer.request()
            checkpointer.close()
            assert checkpointer.done == 1
            assert db_path.stat().st_size > size + 2000 * 500  # now in the file too
        finally:
            con.execute("PRAGMA wal_autocheckpoint = 1000")
