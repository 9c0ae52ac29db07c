"""Fixtures for the background-job tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.bootstrap import App

from .support import add_product, open_app


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "orders.sqlite3"


@pytest.fixture
def app(db: Path) -> Iterator[App]:
    application = open_app(db)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def product(app: App) -> str:
    return add_product(app)
