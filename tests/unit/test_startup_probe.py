"""The start-up probe's switch and its line (the paint itself: tests/e2e/test_packaging.py)."""

from __future__ import annotations

import sys

import pytest

from desktop_app import startup_probe


def test_off_unless_the_environment_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(startup_probe.ENV_VAR, raising=False)
    assert not startup_probe.enabled()
    monkeypatch.setenv(startup_probe.ENV_VAR, "0")
    assert not startup_probe.enabled()
    monkeypatch.setenv(startup_probe.ENV_VAR, "1")
    assert startup_probe.enabled()


def test_line_carries_the_wall_clock() -> None:
    line = startup_probe.first_paint_line(now=1234.5)
    assert line.startswith("first-paint epoch=1234.500000")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_age_is_known_on_linux() -> None:
    age = startup_probe.seconds_since_process_start()
    assert age is not None and 0 <= age < 24 * 3600
