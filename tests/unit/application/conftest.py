"""Fixtures for the application tests: the real buses over the in-memory stores (no SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from desktop_app.bootstrap import App, bootstrap_in_memory

from .helpers import World


class StepClock:
    """A clock that advances one second per call, so recorded times are distinct."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def app() -> Iterator[App]:
    application = bootstrap_in_memory(clock=StepClock(), snapshot_interval=5)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def world(app: App) -> World:
    return World(app)
