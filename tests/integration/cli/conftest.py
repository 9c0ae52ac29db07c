"""Fixtures for the CLI tests: a small demo database built once, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import cli, copy_db


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with a small demo load; tests copy it before changing anything."""
    path = tmp_path_factory.mktemp("demo") / "orders.sqlite3"
    cli("init", "--db", path)
    cli("demo", "--orders", "20", "--db", path)
    return path


@pytest.fixture
def db(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database."""
    return copy_db(demo_db, tmp_path / "orders.sqlite3")
