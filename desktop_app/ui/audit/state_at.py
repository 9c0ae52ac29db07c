"""The audit view's "state at": the order as it was at a local date and time (issue 11).

A row of its own under the jump bar (beside it the bar would not fit a 1024-px window).

The moment is resolved by the store (``GetOrderAtTime``: the last version recorded at or before
it, the state loaded from a trusted snapshot and the events after it); the timeline then jumps
to that version, and the details pane shows the order document as it was.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QDateTimeEdit, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop_app.application.as_of import GetOrderAtTime, OrderAtTime
from desktop_app.ui.errors import explain
from desktop_app.ui.formatting import format_datetime
from desktop_app.ui.orders.as_of import local_now, wall_clock

if TYPE_CHECKING:
    from desktop_app.ui.audit.view import AuditView


class StateAtTime(QWidget):
    """ "State at [date-time] Show" in the audit view's jump bar."""

    answered = Signal(object)
    """The ``OrderAtTime`` answer, once shown (the timeline has jumped when it has a version)."""

    def __init__(self, view: AuditView) -> None:
        super().__init__(view)
        self.view = view
        self.answer: OrderAtTime | None = None
        self.edit = QDateTimeEdit(self)
        self.edit.setObjectName("auditStateAt")
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("d MMM yyyy HH:mm")
        self.edit.setDateTime(wall_clock(local_now().replace(second=0)))
        self.edit.setToolTip("Local time: the order as it was then")
        label = QLabel("&State at", self)
        label.setBuddy(self.edit)
        self.button = QPushButton("Show", self)
        self.button.setObjectName("auditStateAtShow")
        self.button.clicked.connect(self.show_state)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addWidget(self.button)
        self.result = QLabel(self)
        self.result.setObjectName("auditStateAtResult")
        layout.addWidget(self.result, 1)

    def moment(self) -> datetime:
        """The picked wall-clock time, aware in the local zone."""
        naive = self.edit.dateTime().toPython()
        assert isinstance(naive, datetime)
        return naive.astimezone()

    @Slot()
    def show_state(self) -> None:
        """Ask for the order at the picked moment; jump there when it existed."""
        view = self.view
        queries, order_id = view.queries, view.order_id
        if queries is None or order_id is None:
            return
        query = GetOrderAtTime(order_id=order_id, at=self.moment())
        self.view.tasks.submit(lambda: queries.ask(query), self._shown, self._failed)

    def _shown(self, answer: OrderAtTime) -> None:
        when = format_datetime(answer.at)
        if answer.state is None or answer.version == 0:
            self.result.setText("not placed yet then")
            self.view.details.setHtml(
                f"<p>At {html.escape(when)} this order had not been placed yet: its first "
                "event was recorded later.</p>"
            )
        else:
            self.result.setText(f"→ version {answer.version:,}: the order as it was at {when}")
            self.view.jump_to_version(answer.version)
        self.answer = answer
        self.answered.emit(answer)

    def _failed(self, exc: BaseException) -> None:
        self.result.setText("")
        self.view.details.setHtml(
            f"<p>The order at that time cannot be shown: {html.escape(explain(exc)[1])}</p>"
        )
