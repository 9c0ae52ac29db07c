"""Fixtures for the application tests: the real buses over the in-memory stores (no SQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .helpers import MemoryApp, World, memory_app


class StepClock:
    """A clock that advances one second per call, so recorded times are distinct."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def app() -> MemoryApp:
    return memory_app(clock=StepClock(), snapshot_interval=5)


@pytest.fixture
def world(app: MemoryApp) -> World:
    return World(app)
