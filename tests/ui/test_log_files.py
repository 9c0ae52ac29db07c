"""R35: the log is as private as the database: files 0600 in a 0700 folder, also after a
rollover and for a log folder or file an older version made world-readable."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.ui.errors import LOG_FILE_NAME, setup_logging


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which plain creation gives 0644 files and 0755 folders."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def ours() -> Iterator[None]:
    """Remove the handlers ``setup_logging`` adds to the root logger after the test."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def _handler(path: Path) -> logging.handlers.RotatingFileHandler:
    for handler in logging.getLogger().handlers:
        if (
            isinstance(handler, logging.handlers.RotatingFileHandler)
            and Path(handler.baseFilename) == path
        ):
            return handler
    raise AssertionError("no handler for the log file")


def test_r35_log_files_are_0600_in_a_0700_folder(
    tmp_path: Path, usual_umask: None, ours: None
) -> None:
    folder = tmp_path / "state" / "logs"
    path = setup_logging(folder)
    logging.getLogger("desktop_app.test").warning("order SO-000001 for Müller GmbH")
    assert path == folder / LOG_FILE_NAME
    assert _mode(folder) == 0o700
    assert _mode(path) == 0o600
    handler = _handler(path)
    handler.doRollover()  # the fresh file after a rotation is private too
    logging.getLogger("desktop_app.test").warning("after the rollover")
    handler.flush()
    rotated = folder / f"{LOG_FILE_NAME}.1"
    assert "SO-000001" in rotated.read_text(encoding="utf-8")
    assert "after the rollover" in path.read_text(encoding="utf-8")
    assert {p.name: _mode(p) for p in folder.iterdir()} == {
        LOG_FILE_NAME: 0o600,
        f"{LOG_FILE_NAME}.1": 0o600,
    }


def test_r35_an_older_world_readable_log_is_tightened(
    tmp_path: Path, usual_umask: None, ours: None
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o755)
    old = folder / LOG_FILE_NAME
    old.write_text("written by an older version\n", encoding="utf-8")
    os.chmod(old, 0o644)
    assert (_mode(folder), _mode(old)) == (0o755, 0o644)
    setup_logging(folder)
    logging.getLogger("desktop_app.test").warning("appended")
    _handler(old).flush()
    assert (_mode(folder), _mode(old)) == (0o700, 0o600)
    assert old.read_text(encoding="utf-8").splitlines()[0] == "written by an older version"
