"""A full rebuild tunes its connection for the bulk write and gives it back as it found it."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.bootstrap import App
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
