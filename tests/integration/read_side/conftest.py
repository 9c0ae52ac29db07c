"""Fixtures: a composed app on a fresh SQLite file with a small seeded workload."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.bootstrap import App
from tests.integration.read_side import workload
from tests.integration.read_side.support import open_app


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orders.sqlite3"


@pytest.fixture
def app(db_path: Path) -> Iterator[App]:
    application = open_app(db_path)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def seeded(app: App) -> App:
    """An app with the catalog and ~120 random commands, projected."""
    world = workload.World(random.Random(11))
    workload.seed_catalog(app.commands, world)
    workload.run(app.commands, world, 120)
    assert app.projector is not None
    app.projector.run_once()
    assert app.projector.status().last_error is None
    return app
