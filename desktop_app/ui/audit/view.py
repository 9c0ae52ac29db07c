"""The audit view: one order's whole history, full width (issue 11).

A header (order, counts, integrity, "Check integrity", back), a jump bar (to a version, to a
date) with a scrubber over the order's time span, the painted timeline and a details pane with
what the cards leave out (ids, hashes, metadata, payload). The history is read through the
query bus on the TaskRunner; the chain check of the stream runs there too, on demand.

Over 500 lines on purpose: loading, jumping, the details pane and adding notes share one
ticketed state (the shown order, its audit, the selection).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time

from PySide6.QtCore import QDate, Qt, QTimer, Signal, Slot
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
from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.business_summaries import DocumentDiff, document_diff, money
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry, GetOrderAtVersion
from desktop_app.ui.audit.canvas import TimelineCanvas, card_title
from desktop_app.ui.audit.marks import notes_by_target, notes_html, read_marks, rejection_html
from desktop_app.ui.audit.state_at import StateAtTime
from desktop_app.ui.document_html import document_html
from desktop_app.ui.errors import explain
from desktop_app.ui.formatting import format_datetime, format_int
from desktop_app.ui.tasks import TaskRunner

SCRUB_STEPS = 1000
CHECK_FALLBACK_MS = 250


@dataclass(frozen=True, slots=True)
class AuditAnswer:
    """What one load of the audit view reads: the history, the auditors' notes and the
    refused commands (``remark`` says why either could not be read; the history still shows)."""

    audit: OrderAudit
    notes: tuple[AuditNoteEntry, ...]
    refused: tuple[RecordedRejection, ...]
    remark: str = ""


def read_audit(queries: QuerySender, query: GetOrderAudit) -> AuditAnswer:
    """Worker thread: the order's history, then its notes and refused commands."""
    audit = queries.ask(query)
    marks = read_marks(queries, query.order_id)
    return AuditAnswer(audit, marks.notes, marks.refused, marks.remark)


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
        self.commands: CommandSender | None = None
        self.read_only = False
        self.order_id: str | None = None
        self.audit: OrderAudit | None = None
        self.notes: tuple[AuditNoteEntry, ...] = ()
        self.refused: tuple[RecordedRejection, ...] = ()
        self.note_dialog: QWidget | None = None
        self._selection: tuple[AuditCard, AuditEvent | None] | None = None
        self._request = 0
        self._check_pending: int | None = None
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
        self.note_button = QPushButton("Add &note…", self)
        self.note_button.setObjectName("auditAddNote")
        self.note_button.setToolTip(
            "Attach an auditor's note to the selected event, or to the whole order"
        )
        self.note_button.clicked.connect(self.add_note)
        self.note_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.integrity)
        top.addWidget(self.note_button)
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
        self.canvas.painted.connect(self._painted)
        self.canvas.refused_selected.connect(self._show_refused)
        self.canvas.order_notes_selected.connect(self._show_order_notes)
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

    def set_commands(self, commands: CommandSender | None, *, read_only: bool = False) -> None:
        """The command bus, for adding notes (None or ``read_only``: no notes can be added)."""
        self.commands = commands
        self.read_only = read_only
        self._update_note_button()

    def _update_note_button(self) -> None:
        if self.commands is None or self.read_only:
            self.note_button.setEnabled(False)
            self.note_button.setToolTip(
                "The database is open read-only: no note can be added."
                if self.read_only
                else "Notes cannot be added here."
            )
            return
        self.note_button.setEnabled(self.audit is not None and bool(self.audit.events))
        self.note_button.setToolTip(
            "Attach an auditor's note to the selected event, or to the whole order"
        )

    def show_order(self, order_id: str | None) -> None:
        """Show ``order_id``'s history (None: nothing selected)."""
        self.order_id = order_id
        if order_id is None:
            self.audit = None
            self.notes = self.refused = ()
            self._update_note_button()
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
            lambda: read_audit(queries, query),
            lambda answer: self._loaded(request, answer),
            lambda exc: self._failed(request, exc),
        )

    def _loaded(self, request: int, answer: AuditAnswer) -> None:
        if request != self._request:
            return  # an older answer for another order or an earlier state
        audit = answer.audit
        same = self.audit is not None and self.audit.order_id == audit.order_id
        self.audit = audit
        self.notes, self.refused = answer.notes, answer.refused
        self.canvas.set_cards(
            audit.cards,
            audit.currency,
            keep=same,
            notes=notes_by_target(answer.notes),
            refused=answer.refused,
            roles=audit.server_roles,
        )
        self._update_note_button()
        count = len(audit.events)
        number = html.escape(audit.order_number or audit.order_id)
        extra = ""
        if answer.notes:
            extra += f" · <span style='color:#a16207'>{format_int(len(answer.notes))} notes</span>"
        if answer.refused:
            extra += (
                f" · <span style='color:#6b7280'>{format_int(len(answer.refused))} refused</span>"
            )
        if answer.remark:
            extra += f" · <i>{html.escape(answer.remark)}</i>"
        self.title.setText(
            f"<b>Audit · {number}</b> · {format_int(count)} events · "
            f"{format_int(len(audit.cards))} cards{extra}"
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
        # The verdicts follow the first paint (a long history shows at once): the check is a
        # few hundred ms of Python on a worker thread, and started before the paint it would
        # take the GIL from it. A fallback timer starts it should no paint come (hidden view).
        self._check_pending = request
        if self.canvas.isVisible():
            self.canvas.update()
            QTimer.singleShot(CHECK_FALLBACK_MS, self, lambda: self._start_pending_check(request))
        else:
            self._start_pending_check(request)

    @Slot()
    def _painted(self) -> None:
        request = self._check_pending
        if request is not None:
            QTimer.singleShot(0, self, lambda: self._start_pending_check(request))

    def _start_pending_check(self, request: int) -> None:
        if self._check_pending == request and request == self._request:
            self._check_pending = None
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
        self._selection = (card, event)
        if event is not None or len(card.events) == 1:
            shown_versions = {(event or card.first).version}
        else:
            shown_versions = {ev.version for ev in card.events}
        notes = notes_html(
            [n for n in self.notes if n.target_version in shown_versions],
            "Auditors' notes on this event" if len(shown_versions) == 1 else "Auditors' notes",
        )

        def render(document: str = "") -> str:
            if event is not None or len(card.events) == 1:
                one = event or card.first
                role = self.audit.server_roles.get(one.position) if self.audit else None
                return event_details(one, notes + document, server_role=role)
            roles = self.audit.server_roles if self.audit else None
            return card_details(card, currency, notes + document, roles=roles)

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

    @Slot(object)
    def _show_refused(self, recorded: RecordedRejection) -> None:
        self._selection = None
        self.document = None
        self._details_request += 1
        self.details.setHtml(rejection_html(recorded))

    @Slot(object)
    def _show_order_notes(self, notes: tuple[AuditNoteEntry, ...]) -> None:
        self._selection = None
        self.document = None
        self._details_request += 1
        self.details.setHtml(notes_html(notes, "Auditors' notes on the whole order"))

    # --- notes ---------------------------------------------------------------------------

    def selected_event(self) -> AuditEvent | None:
        """The selected event (a one-event card's event; None for a card of several)."""
        if self._selection is None:
            return None
        card, event = self._selection
        if event is not None:
            return event
        return card.first if len(card.events) == 1 else None

    @Slot()
    def add_note(self) -> QWidget | None:
        """Open the add-note dialog for the selected event (or card) or the whole order."""
        audit, commands, queries = self.audit, self.commands, self.queries
        if audit is None or commands is None or queries is None or self.read_only:
            return None
        from desktop_app.ui.audit.note_dialog import AuditNoteDialog

        choices: list[AuditEvent] = []
        if self._selection is not None:
            card, event = self._selection
            choices = [event] if event is not None else list(card.events[:50])
        dialog = AuditNoteDialog(
            commands,
            queries,
            self.tasks,
            order_id=audit.order_id,
            order_number=audit.order_number or audit.order_id,
            events=choices,
            notes=self.notes,
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.refresh)
        dialog.finished.connect(lambda _code: setattr(self, "note_dialog", None))
        self.note_dialog = dialog
        dialog.open()
        return dialog


def _qdate(value: datetime) -> QDate:
    local = value.astimezone()
    return QDate(local.year, local.month, local.day)


def _row(label: str, value: str) -> str:
    return f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"


def event_details(event: AuditEvent, document: str = "", *, server_role: str | None = None) -> str:
    """Everything about one event: business text, verdict, the order document before and
    after (``document``), who (with the database role the server recorded, on a shared
    store), then the internal ids."""
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
    if server_role is not None:
        parts.append(_row("Server role", server_role))
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


def card_details(
    card: AuditCard,
    currency: str,
    document: str = "",
    limit: int = 200,
    *,
    roles: Mapping[int, str] | None = None,
) -> str:
    """A card's change of the total, the order document before and after (``document``),
    then its events as a list (the first ``limit``)."""
    parts = [f"<h3>{html.escape(card_title(card, roles))}</h3>"]
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
