"""R35: normal operation does not fill the log. A projector catch-up that spans many poll
intervals on a real ``BackgroundScheduler`` used to log one APScheduler WARNING per skipped
tick ("maximum number of running instances reached")."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from desktop_app.bootstrap import App
from desktop_app.jobs import PROJECTOR_JOB, Jobs, JobsConfig
from desktop_app.projector.runner import Projector

from .support import change_price, wait_for

POLL = 0.01
"""A fast cadence, so a catch-up of a fraction of a second spans dozens of ticks."""

TICKS = 30
"""Ticks that fall due during the held catch-up: each one used to be a WARNING."""


class HeldCatchUp:
    """The real projector; its first catch-up waits at a gate before it runs, as a catch-up
    of a million events keeps the job busy for minutes."""

    def __init__(self, inner: Projector) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()

    def run_once(self) -> int:
        self.entered.set()
        self.gate.wait(60)
        return self.inner.run_once()

    def has_news(self) -> bool:
        return self.inner.has_news()

    def set_wake_hook(self, hook: Callable[[], None]) -> None:
        self.inner.set_wake_hook(hook)

    @property
    def hurried(self) -> threading.Event:
        return self.inner.hurried


def test_r35_a_long_catch_up_does_not_flood_the_log(
    app: App, product: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert app.projector is not None
    for cents in range(100, 150):
        change_price(app, product, cents)  # the read model is behind: a catch-up is due
    held = HeldCatchUp(app.projector)
    jobs = Jobs(
        config=JobsConfig(
            projector_poll_seconds=POLL,
            snapshot_sweep_seconds=None,
            checkpoint_check_seconds=None,
            backup_interval_seconds=None,
        ),
        projector=held,
    )
    caplog.set_level(logging.INFO)
    jobs.start()
    try:
        assert held.entered.wait(30), "the projector job never started"
        # The catch-up is under way: it lasts until TICKS ticks fell due on it, with clerks'
        # commands waking the projector meanwhile (each wake lands on the running catch-up).
        cents, last = 200, 0
        deadline = time.monotonic() + 60
        while jobs.skipped_runs().get(PROJECTOR_JOB, 0) < TICKS and time.monotonic() < deadline:
            last = change_price(app, product, cents)
            cents += 1
        assert jobs.skipped_runs().get(PROJECTOR_JOB, 0) >= TICKS
        assert last > 0
        held.gate.set()
        projector = app.projector
        assert wait_for(lambda: projector.status().checkpoint >= last, 30)
        # Back on its cadence: a later commit is projected without anyone waiting for it.
        after = change_price(app, product, cents + 1)
        assert wait_for(
            lambda: app.projector is not None and app.projector.status().checkpoint >= after, 30
        )
        # The job records its status just after its run returns, which is after the commit
        # the checkpoint waits above saw: wait for the record, then read it.
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), 30)
        assert jobs.status()[PROJECTOR_JOB].failures == 0
    finally:
        held.gate.set()
        jobs.shutdown(wait=True)
    noisy = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("apscheduler", "desktop_app"))
    ]
    assert noisy == [], f"{len(noisy)} warnings, e.g. {noisy[:3]}"
