"""The composition root records who runs the program in every event."""

from __future__ import annotations

import pytest

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap_in_memory
from desktop_app.identity import os_user


def test_user_comes_from_the_os_account_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setenv("USERNAME", "mallory")
    app = bootstrap_in_memory(source="cli")
    command = c.RegisterCustomer(name="Audit Test")
    app.commands.dispatch(command)
    meta = app.events.read_stream(f"customer-{command.customer_id}")[0].metadata
    assert meta.user == os_user() != "mallory"
    assert meta.source == "cli"
