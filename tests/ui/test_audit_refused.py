"""Refused commands as grey markers in the order's timelines (issue 11): in the audit view and
the History tab a command the domain refused shows where it happened, grey and hollow (not an
event's filled marker), with who, when, what and why; it is no event, so the history's
versions and cards are unchanged. Real SQLite files, offscreen Qt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.domain.errors import DomainError
from desktop_app.ui.audit.canvas import AXIS_X
from desktop_app.ui.audit.marks import REFUSED_FILL, REFUSED_TYPE
from desktop_app.ui.audit.view import AuditView
from desktop_app.ui.history import HistoryView
from desktop_app.ui.tasks import TaskRunner

from .audit_data import AuditOrder, open_order


@pytest.fixture
def order(tmp_path: Path) -> Iterator[AuditOrder]:
    yield from open_order(tmp_path)


def _refuse(order: AuditOrder) -> str:
    """A command the domain refuses (the order is confirmed already); returns its message."""
    with pytest.raises(DomainError) as refused:
        order.app.commands.dispatch(
            c.ChangeLineQuantity(order_id=order.order_id, line_id=order.line_id, quantity=99)
        )
    (recorded,) = order.app.queries.ask(q.ListOrderRejections(order_id=order.order_id))
    assert recorded.rejection.message == refused.value.message
    return refused.value.message


def _close(a: QColor, b: QColor, slack: int = 12) -> bool:
    return all(abs(x - y) <= slack for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_the_audit_view_draws_a_refused_command_grey_and_hollow_with_its_reason(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    message = _refuse(order)
    view = AuditView(tasks)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.set_queries(order.app.queries)
    view.show()
    with qtbot.waitSignals([view.loaded, view.checked], timeout=10000, order="strict"):
        view.show_order(order.order_id)
    audit = view.audit
    assert audit is not None and len(audit.events) == 2 + order.changes + 1  # no new event
    canvas = view.canvas
    refused = [i for i, row in enumerate(canvas.rows) if row.kind == "refused"]
    assert len(refused) == 1
    index = refused[0]
    row = canvas.rows[index]
    assert row.rejection is not None and row.rejection.rejection.message == message
    assert "1 refused" in view.title.text()
    tip = canvas.tooltip_at(index)
    user = audit.events[0].user
    assert message in tip and user in tip and "Change line quantity" in tip

    # Grey and hollow: the marker's inside is the pale grey fill, an event's is its colour.
    view.scroll_area.ensureVisible(0, row.y + 11)
    image = canvas.grab().toImage()
    ratio = image.devicePixelRatio()
    inside = image.pixelColor(int((AXIS_X + 4) * ratio), int((row.y + 11) * ratio))
    assert _close(inside, REFUSED_FILL)
    card = next(r for r in canvas.rows if r.kind == "card")
    event_inside = image.pixelColor(int((AXIS_X + 4) * ratio), int((card.y + 11) * ratio))
    assert not _close(event_inside, REFUSED_FILL)

    # Selected: who, when, what and why in the details pane; no order document (it is no event).
    canvas.select_row(index)
    text = view.details.toPlainText()
    assert "refused" in text and message in text and "ChangeLineQuantity" in text
    assert view.document is None


def test_the_history_tab_lists_a_refused_command_as_a_grey_row_between_the_events(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    message = _refuse(order)
    view = HistoryView(order.app.queries, tasks)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    with qtbot.waitSignal(view.history_loaded, timeout=10000):
        view.show_order(order.order_id)
    model = view.model
    events = 2 + order.changes + 1
    assert model.rowCount() == events + 1 and model.shown_events() == events
    rows = [model.refused_at(r) for r in range(model.rowCount())]
    (at,) = [r for r, item in enumerate(rows) if item is not None]
    # Placed by time: after every event recorded before it.
    recorded = rows[at]
    assert recorded is not None
    before = [model.entry(r).recorded_at for r in range(at)]
    assert all(when <= recorded.recorded_at for when in before)
    assert "1 refused" in view.header.text()
    assert message in model.index(at, 0).data(Qt.ItemDataRole.ToolTipRole)
    # Versions still find their events; the newest event stays selected after loading.
    assert view.selected_version() == events
    assert model.entry(model.row_of_version(events)).version == events

    view.timeline.setCurrentIndex(model.index(at, 0))
    assert view.selected_version() is None
    assert view.details.topLevelItem(0).text(0) == "Refused command — nothing was written"
    assert view.details.findItems(message, Qt.MatchFlag.MatchRecursive, 1)
    assert not view.compare_button.isEnabled()

    # A type of its own in the filter: hidden, only events are left.
    types = [
        view.type_list.item(i).data(Qt.ItemDataRole.UserRole + 20)
        for i in range(view.type_list.count())
    ]
    assert REFUSED_TYPE in types
    view.set_type_filter({name for name in types if name != REFUSED_TYPE})
    assert model.rowCount() == events
    assert all(model.refused_at(r) is None for r in range(model.rowCount()))
