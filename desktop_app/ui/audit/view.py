"""The audit view: one order's whole history, full width (issue 11).

A header (order, counts, integrity, "Check integrity", back), a jump bar (to a version, to a
date) with a scrubber over the order's time span, the painted timeline and a details pane with
what the cards leave out (ids, hashes, metadata, payload). The history is read through the
query bus on the TaskRunner; the chain check of the stream runs there too, on demand.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, time

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.audit_timeline import (
    BAD,
    AuditCard,
    AuditEvent,
    GetOrderAudit,
    OrderAudit,
)
from desktop_app.application.buses import QuerySender
from desktop_app.application.business_summaries import DocumentDiff, document_diff, money
from desktop_app.application.queries import GetOrderAtVersion
from desktop_app.ui.audit.canvas import TimelineCanvas, card_title
from desktop_app.ui.audit.state_at import StateAtTime
from desktop_app.ui.errors import explain
from desktop_app.ui.formatting import format_datetime, format_int
from desktop_app.ui.tasks import TaskRunner

SCRUB_STEPS = 1000


class AuditView(QWidget):
    """The full-width audit view of one order."""

    loaded = Signal()
    """A history arrived and is shown (its integrity check follows: :attr:`checked`)."""
    checked = Signal()
    """The checked history (rules replayed, chain recomputed) arrived and is shown."""
    document_shown = Signal()
    """The order document before and after the selection is shown in the details pane."""
    close_requested = Signal()
    """Esc or "Back to the list"."""

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self.tasks = tasks
        self.queries: QuerySender | None = None
        self.order_id: str | None = None
        self.audit: OrderAudit | None = None
        self._request = 0
        self._details_request = 0
        self.document: DocumentDiff | None = None
        """The document diff shown for the selection (None while it is being read)."""

        self.title = QLabel(self)
        self.title.setObjectName("auditTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.integrity = QLabel(self)
        self.integrity.setObjectName("auditIntegrity")
        self.check_button = QPushButton("Check &integrity", self)
        self.check_button.setToolTip(
            "Recompute every event's hash and its link in the log, and replay the rules"
        )
        self.check_button.clicked.connect(self.check_integrity)
        self.back_button = QPushButton("Back to the list (Esc)", self)
        self.back_button.clicked.connect(self.close_requested)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.integrity)
        top.addWidget(self.check_button)
        top.addWidget(self.back_button)

        self.version_box = QSpinBox(self)
        self.version_box.setObjectName("auditVersion")
        self.version_box.setMinimum(1)
        self.version_box.setAccelerated(True)
        go_version = QPushButton("Go", self)
        go_version.clicked.connect(lambda: self.jump_to_version(self.version_box.value()))
        self.version_box.editingFinished.connect(
            lambda: self.jump_to_version(self.version_box.value())
        )
        self.date_box = QDateEdit(self)
        self.date_box.setObjectName("auditDate")
        self.date_box.setCalendarPopup(True)
        go_date = QPushButton("Go", self)
        go_date.clicked.connect(lambda: self.jump_to_date(self.date_box.date()))
        self.scrubber = QSlider(Qt.Orientation.Horizontal, self)
        self.scrubber.setObjectName("auditScrubber")
        self.scrubber.setRange(0, SCRUB_STEPS)
        self.scrubber.setToolTip("Drag through the order's history in time")
        self.scrubber.valueChanged.connect(self._scrubbed)
        self.scrub_label = QLabel(self)
        self.scrub_label.setMinimumWidth(120)

        jump = QHBoxLayout()
        version_label = QLabel("Go to &version", self)
        version_label.setBuddy(self.version_box)
        date_label = QLabel("&date", self)
        date_label.setBuddy(self.date_box)
        jump.addWidget(version_label)
        jump.addWidget(self.version_box)
        jump.addWidget(go_version)
        jump.addSpacing(12)
        jump.addWidget(date_label)
        jump.addWidget(self.date_box)
        jump.addWidget(go_date)
        jump.addSpacing(12)
        jump.addWidget(self.scrubber, 1)
        jump.addWidget(self.scrub_label)

        self.canvas = TimelineCanvas(self)
        self.canvas.selected.connect(self._show_details)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setObjectName("auditScroll")
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.details = QTextBrowser(self)
        self.details.setObjectName("auditDetails")
        self.details.setOpenLinks(False)
        self.details.setMinimumWidth(300)
        self.body = QSplitter(Qt.Orientation.Horizontal, self)
        self.body.addWidget(self.scroll_area)
        self.body.addWidget(self.details)
        self.body.setStretchFactor(0, 3)
        self.body.setStretchFactor(1, 2)
        self.body.setChildrenCollapsible(False)
        self.body.setSizes([600, 400])  # scaled to the real width on the first layout

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addLayout(jump)
        self.state_at = StateAtTime(self)  # the order at a date and time (issue 11)
        layout.addWidget(self.state_at)
        layout.addWidget(self.body, 1)

        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.close_requested)
        self._show_empty("Select an order to see its history.")

    # --- loading -------------------------------------------------------------------------

    def set_queries(self, queries: QuerySender | None) -> None:
        """The query bus (None while the database is being opened)."""
        self.queries = queries

    def show_order(self, order_id: str | None) -> None:
        """Show ``order_id``'s history (None: nothing selected)."""
        self.order_id = order_id
        if order_id is None:
            self.audit = None
            self.canvas.set_cards((), "")
            self._show_empty("Select an order to see its history.")
            return
        self.audit = None
        self._load(check=False)

    def refresh(self) -> None:
        """Re-read the shown order (it has a new version)."""
        if self.order_id is not None:
            self._load(check=False)

    @Slot()
    def check_integrity(self) -> None:
        """Replay the rules and recompute the chain of this order's events, then show the
        verdicts (done after every load too; the button repeats it)."""
        if self.order_id is not None:
            self.integrity.setText("checking…")
            self._load(check=True)

    def _load(self, *, check: bool) -> None:
        queries, order_id = self.queries, self.order_id
        if queries is None or order_id is None:
            return
        self._request += 1
        request = self._request
        query = GetOrderAudit(order_id=order_id, check=check)
        self.tasks.submit(
            lambda: queries.ask(query),
            lambda audit: self._loaded(request, audit),
            lambda exc: self._failed(request, exc),
        )

    def _loaded(self, request: int, audit: OrderAudit) -> None:
        if request != self._request:
            return  # an older answer for another order or an earlier state
        same = self.audit is not None and self.audit.order_id == audit.order_id
        self.audit = audit
        self.canvas.set_cards(audit.cards, audit.currency, keep=same)
        count = len(audit.events)
        number = html.escape(audit.order_number or audit.order_id)
        self.title.setText(
            f"<b>Audit · {number}</b> · {format_int(count)} events · "
            f"{format_int(len(audit.cards))} cards"
        )
        self._show_integrity(audit)
        self.version_box.setMaximum(max(count, 1))
        if audit.events:
            first, last = audit.events[0].recorded_at, audit.events[-1].recorded_at
            self.date_box.setDateRange(_qdate(first), _qdate(last))
            if not same:
                self.date_box.setDate(_qdate(first))
            if self.canvas.current is None:
                self.details.setHtml(
                    "<p>Select a card to see its events, ids and hashes here.</p>"
                    f"<p>First event {html.escape(format_datetime(first))}, last "
                    f"{html.escape(format_datetime(last))}.</p>"
                )
        else:
            self._show_empty("This order has no recorded events.")
        self._scrolled(self.scroll_area.verticalScrollBar().value())
        if audit.checked:
            self.checked.emit()
            return
        self.loaded.emit()
        # The verdicts follow the first paint (a long history shows at once).
        self.check_integrity()

    def _failed(self, request: int, exc: BaseException) -> None:
        if request != self._request:
            return
        self.integrity.setText("")
        self._show_empty("The history could not be read: " + explain(exc)[1])
        self.loaded.emit()
        self.checked.emit()

    def _show_integrity(self, audit: OrderAudit) -> None:
        problems = audit.problems
        if problems:
            self.integrity.setText(
                f"<span style='color:#b91c1c'><b>✗ {format_int(problems)} event(s) fail a "
                "check</b></span>"
            )
        elif audit.checked:
            self.integrity.setText("<span style='color:#15803d'>✓ chain and rules hold</span>")
        else:
            self.integrity.setText("checking…")

    def _show_empty(self, text: str) -> None:
        self.title.setText(html.escape(text))
        self.details.setHtml("")

    # --- jumping -------------------------------------------------------------------------

    def jump_to_version(self, version: int) -> bool:
        """Scroll to and select the event at ``version`` (a folded run opens)."""
        row = self.canvas.row_of_version(version)
        if row is None:
            return False
        self._reveal(row)
        return True

    def jump_to_date(self, day: QDate) -> bool:
        """Scroll to the first event on or after the start of ``day`` (local time)."""
        local = datetime.combine(day.toPython(), time.min).astimezone()  # type: ignore[arg-type]
        return self.jump_to_time(local.astimezone(UTC))

    def jump_to_time(self, moment: datetime) -> bool:
        """Scroll to the first event at or after ``moment``."""
        row = self.canvas.row_at_time(moment, expand=True)
        if row is None:
            return False
        self._reveal(row)
        return True

    def _reveal(self, row_index: int) -> None:
        row = self.canvas.rows[row_index]
        self.canvas.select_row(row_index)
        shown = row.event if row.event is not None else self.canvas.cards[row.card].first
        self.version_box.blockSignals(True)
        self.version_box.setValue(shown.version)
        self.version_box.blockSignals(False)
        # An opened run made the canvas taller: size it now, or the scroll range is old.
        self.canvas.resize(self.canvas.width(), self.canvas.minimumHeight())
        bar = self.scroll_area.verticalScrollBar()
        bar.setValue(max(row.y - self.scroll_area.viewport().height() // 3, 0))

    @Slot(int)
    def _scrubbed(self, value: int) -> None:
        audit = self.audit
        if audit is None or not audit.events or self.scrubber.signalsBlocked():
            return
        first, last = audit.events[0].recorded_at, audit.events[-1].recorded_at
        moment = first + (last - first) * (value / SCRUB_STEPS)
        self.scrub_label.setText(format_datetime(moment))
        row = self.canvas.row_at_time(moment)
        if row is not None:
            bar = self.scroll_area.verticalScrollBar()
            bar.blockSignals(True)
            bar.setValue(max(self.canvas.rows[row].y - 8, 0))
            bar.blockSignals(False)

    @Slot(int)
    def _scrolled(self, value: int) -> None:
        """Keep the scrubber at the time shown at the top of the timeline."""
        rows = self.canvas.rows
        audit = self.audit
        if not rows or audit is None or not audit.events:
            self.scrub_label.setText("")
            return
        index = self.canvas.row_near(value)
        at = rows[index].at
        first, last = audit.events[0].recorded_at, audit.events[-1].recorded_at
        span = (last - first).total_seconds()
        fraction = (at - first).total_seconds() / span if span > 0 else 0.0
        self.scrubber.blockSignals(True)
        self.scrubber.setValue(round(fraction * SCRUB_STEPS))
        self.scrubber.blockSignals(False)
        self.scrub_label.setText(format_datetime(at))

    # --- details -------------------------------------------------------------------------

    @Slot(object, object)
    def _show_details(self, card: AuditCard, event: AuditEvent | None) -> None:
        """The selected card or event, everything the card leaves out; then the order document
        before and after it (read on a worker thread)."""
        currency = self.audit.currency if self.audit else ""

        def render(document: str = "") -> str:
            if event is not None or len(card.events) == 1:
                return event_details(event or card.first, document)
            return card_details(card, currency, document)

        shown = event or card.first
        first = shown.version if event is not None else card.first.version
        last = shown.version if event is not None else card.last.version
        if event is None and len(card.events) == 1:
            first = last = card.first.version
        self.details.setHtml(render())
        self.document = None
        queries, order_id = self.queries, self.order_id
        if queries is None or order_id is None:
            return
        self._details_request += 1
        request = self._details_request

        def read() -> DocumentDiff:
            before = None
            if first > 1:
                before = queries.ask(GetOrderAtVersion(order_id=order_id, version=first - 1))
            after = queries.ask(GetOrderAtVersion(order_id=order_id, version=last))
            return document_diff(before.state if before is not None else None, after.state)

        def done(diff: DocumentDiff) -> None:
            if request == self._details_request:
                self.document = diff
                self.details.setHtml(render(document_html(diff, first, last)))
                self.document_shown.emit()

        def failed(exc: BaseException) -> None:
            if request == self._details_request:
                note = html.escape(explain(exc)[1])
                self.details.setHtml(render(f"<p>The order document cannot be shown: {note}</p>"))
                self.document_shown.emit()

        self.tasks.submit(read, done, failed)


def _qdate(value: datetime) -> QDate:
    local = value.astimezone()
    return QDate(local.year, local.month, local.day)


def _row(label: str, value: str) -> str:
    return f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"


def event_details(event: AuditEvent, document: str = "") -> str:
    """Everything about one event: business text, verdict, the order document before and
    after (``document``), who, then the internal ids."""
    parts = [f"<h3>v{event.version:,} · {html.escape(event.summary)}</h3>"]
    integrity = event.integrity
    if integrity.state == BAD:
        parts.append("<p style='color:#b91c1c'><b>✗ This event fails a check:</b></p><ul>")
        parts += [f"<li style='color:#b91c1c'>{html.escape(r)}</li>" for r in integrity.reasons]
        parts.append("</ul>")
    else:
        chain = "holds" if integrity.chain_checked else "not checked (Check integrity)"
        rules = "hold" if integrity.meaning_checked else "not checked"
        parts.append(f"<p>Hash chain: {chain} · business rules: {rules}</p>")
        parts += [f"<p>{html.escape(r)}</p>" for r in integrity.reasons]
    parts.append(document)
    parts.append("<table cellspacing='4'>")
    parts.append(_row("When", format_datetime(event.recorded_at, seconds=True)))
    parts.append(_row("Who", event.user or "unknown"))
    parts.append(_row("Workstation", event.host or "unknown"))
    parts.append(_row("Program", event.app_version))
    parts.append(_row("Event type", event.type_name))
    parts.append(_row("Log position", f"#{event.position:,}"))
    parts.append(_row("Event id", event.event_id))
    parts.append(_row("Command id", event.command_id))
    parts.append(_row("Correlation id", event.correlation_id))
    parts.append(_row("Hash", event.hash))
    parts.append(_row("Previous hash", event.prev_hash))
    parts.append("</table>")
    payload = json.dumps(event.payload, indent=2, ensure_ascii=False, sort_keys=True)
    parts.append(
        "<p><b>Recorded data</b></p>"
        f"<pre style='white-space: pre-wrap'>{html.escape(payload)}</pre>"
    )
    return "".join(parts)


def card_details(card: AuditCard, currency: str, document: str = "", limit: int = 200) -> str:
    """A card's change of the total, the order document before and after (``document``),
    then its events as a list (the first ``limit``)."""
    parts = [f"<h3>{html.escape(card_title(card))}</h3>"]
    delta = card.delta
    if delta is not None:
        parts.append(f"<p>Order total {html.escape(money(delta, currency, signed=True))}</p>")
    parts.append(document)
    parts.append("<ol>")
    for ev in card.events[:limit]:
        style = " style='color:#b91c1c'" if ev.integrity.state == BAD else ""
        when = format_datetime(ev.recorded_at, seconds=True)
        parts.append(
            f"<li{style}>v{ev.version:,} · {html.escape(when)} · {html.escape(ev.summary)}</li>"
        )
    parts.append("</ol>")
    if len(card.events) > limit:
        parts.append(f"<p>… and {len(card.events) - limit:,} more (expand the run)</p>")
    return "".join(parts)


_CHANGE_STYLE = {
    "added": "background:#dcfce7",
    "removed": "background:#fee2e2; text-decoration: line-through",
    "changed": "background:#fef9c3",
    "same": "",
}


def document_html(diff: DocumentDiff, first: int, last: int) -> str:
    """The order document before and after, as a table: changed rows highlighted."""
    was = f"v{first - 1:,}" if first > 1 else "before the order"
    parts = [
        f"<h4>The order document, {html.escape(was)} → v{last:,}</h4>",
        "<table cellspacing='0' cellpadding='3' border='1' style='border-collapse:collapse'>",
        f"<tr><th></th><th>{html.escape(was)}</th><th>v{last:,}</th></tr>",
    ]
    rows = [r for r in diff.header if r.before or r.after]
    for row in [*rows, *diff.lines, diff.total]:
        style = _CHANGE_STYLE[row.change]
        cell = f" style='{style}'" if style else ""
        parts.append(
            f"<tr{cell}><td nowrap><b>{html.escape(row.label)}</b></td>"
            f"<td>{html.escape(row.before) or '—'}</td>"
            f"<td>{html.escape(row.after) or '—'}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)
