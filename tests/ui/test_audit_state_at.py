"""The audit view's "State at" (issue 11): the order as it was at a local date and time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application.queries import GetOrderAtVersion
from desktop_app.ui.audit.view import AuditView
from desktop_app.ui.orders.as_of import wall_clock
from desktop_app.ui.tasks import TaskRunner

from .audit_data import AuditOrder, open_order


@pytest.fixture
def order(tmp_path: Path) -> Iterator[AuditOrder]:
    yield from open_order(tmp_path)


def _view(qtbot: Any, tasks: TaskRunner, order: AuditOrder) -> AuditView:
    view = AuditView(tasks)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.set_queries(order.app.queries)
    view.show()
    with qtbot.waitSignals([view.loaded, view.checked], timeout=10000, order="strict"):
        view.show_order(order.order_id)
    return view


def test_state_at_a_time_jumps_to_the_version_then_and_shows_its_document(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    assert view.audit is not None
    # Events every 3 h from 11:00 UTC on 12 Jan: a moment in the middle of the quantity run.
    moment = datetime(2026, 1, 13, 0, 30, tzinfo=UTC)
    expected = max(e.version for e in view.audit.events if e.recorded_at <= moment)
    assert 1 < expected < view.audit.events[-1].version
    view.state_at.edit.setDateTime(wall_clock(moment.astimezone()))  # the user types local time
    with qtbot.waitSignals([view.state_at.answered, view.document_shown], timeout=10000):
        view.state_at.button.click()
    answer = view.state_at.answer
    assert answer is not None and answer.version == expected and answer.state is not None
    then = order.app.queries.ask(GetOrderAtVersion(order_id=order.order_id, version=expected))
    now = order.app.queries.ask(GetOrderAtVersion(order_id=order.order_id))
    assert answer.state == then and then.state != now.state
    assert view.canvas.current is not None and view.version_box.value() == expected
    assert view.document is not None


def test_state_before_the_order_was_placed_says_so(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    view.state_at.edit.setDateTime(
        wall_clock(datetime(2026, 1, 12, 12, 0, tzinfo=UTC).astimezone())
    )
    with qtbot.waitSignal(view.state_at.answered, timeout=10000):
        view.state_at.button.click()
    assert view.state_at.answer is not None and view.state_at.answer.state is None
    assert "had not been placed yet" in view.details.toPlainText()
