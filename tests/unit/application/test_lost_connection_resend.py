"""``retry_after_lost_connection`` (issue 10): a command whose server connection broke is
re-sent with the same command id within a short budget; every other failure, and a budget
spent, reaches the caller unchanged."""

from __future__ import annotations

import pytest

from desktop_app.application import commands as c
from desktop_app.application.commands import CommandResult
from desktop_app.application.middleware import retry_after_lost_connection
from desktop_app.application.ports import (
    ConcurrencyError,
    StoreConnectionLostError,
    StoreUnavailableError,
)

RESULT = CommandResult(
    stream_id="customer-1", aggregate_id="1", version=1, first_position=1, position=1
)


def _run(failures: list[Exception]) -> tuple[CommandResult | Exception, list[str], list[float]]:
    sent: list[str] = []
    slept: list[float] = []
    command = c.RegisterCustomer(name="Ann")

    def next_(cmd: c.Command) -> CommandResult:
        sent.append(cmd.command_id)
        if failures:
            raise failures.pop(0)
        return RESULT

    middleware = retry_after_lost_connection(delays=(0.2, 0.5, 1.0), sleep=slept.append)
    try:
        outcome: CommandResult | Exception = middleware(command, next_)
    except Exception as exc:
        outcome = exc
    assert set(sent) == {command.command_id}  # always the same id
    return outcome, sent, slept


def test_a_lost_connection_is_re_sent_with_the_same_id_until_it_goes_through() -> None:
    lost = StoreConnectionLostError("lost")
    outcome, sent, slept = _run([lost, StoreUnavailableError("restarting"), lost])
    assert outcome is RESULT
    assert len(sent) == 4 and slept == [0.2, 0.5, 1.0]


def test_the_first_error_is_raised_when_the_budget_is_spent() -> None:
    first = StoreConnectionLostError("lost: may or may not have been saved")
    outcome, sent, slept = _run([first, *(StoreUnavailableError("down") for _ in range(3))])
    assert outcome is first
    assert len(sent) == 4 and slept == [0.2, 0.5, 1.0]


@pytest.mark.parametrize(
    "error", [StoreUnavailableError("cannot be reached"), ConcurrencyError("order-1", 1)]
)
def test_other_failures_are_not_re_sent(error: Exception) -> None:
    outcome, sent, slept = _run([error])
    assert outcome is error and len(sent) == 1 and slept == []
