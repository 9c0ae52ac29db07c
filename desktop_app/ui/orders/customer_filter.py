"""The customer filter of the order list: an editable drop-down that never pretends.

Type-ahead asks the query bus (``ListCustomers(search=...)``) as the clerk types, so it covers
every customer, not only the ones loaded into the drop-down. Typed text is resolved through the
bus too: an exact name or the only customer it matches filters the list; text that matches no
customer, or several, is shown as such (``problem()``, a red frame, ``problem_changed``) and
the list is not filtered by customer meanwhile — never a stale filter under new text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QCompleter, QWidget

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import CustomerRow, ListCustomers
from desktop_app.ui.qt_parts import line_edit_of
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

# Answers come back through the TaskRunner, which drops those for a widget deleted meanwhile.

ALL_CUSTOMERS = "All customers"
TYPE_AHEAD_MS = 150
TYPE_AHEAD_LIMIT = 50


def resolve(text: str, rows: Iterable[CustomerRow]) -> tuple[CustomerRow | None, list[CustomerRow]]:
    """The customer ``text`` names among ``rows`` (those the bus found for it): an exact name
    (case-insensitive), else the only one; with every candidate."""
    candidates = list(rows)
    folded = text.strip().casefold()
    exact = [row for row in candidates if row.name.casefold() == folded]
    if len(exact) >= 1:
        return exact[0], candidates
    if len(candidates) == 1:
        return candidates[0], candidates
    return None, candidates


class CustomerFilter(QComboBox):
    """``customer_chosen(customer_id or None)`` when the filter changes."""

    customer_chosen = Signal(object)
    problem_changed = Signal(str)  # "" when the typed text names a customer (or is empty)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerFilter")
        self._tasks = tasks
        self._queries: QuerySender | None = None
        self._customer_id: str | None = None
        self._problem = ""
        self._matches: list[CustomerRow] = []
        self._generation = 0
        self._resolving = False
        self._waiting: list[CustomerRow] | None = None
        self._entries: list[tuple[str, str]] = []
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(14)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setToolTip("Show only the orders of one customer (type to find)")
        self.addItem(ALL_CUSTOMERS, None)
        self.setCurrentIndex(-1)
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        # The bus already matched (accent- and case-insensitively): show its answer as is.
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setMaxVisibleItems(12)
        self.setCompleter(completer)
        # The stubs do not know signal overloads; Qt has activated(QString) and (QModelIndex).
        completer.activated[str].connect(self._completion_chosen)  # type: ignore[index]
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TYPE_AHEAD_MS)
        self._timer.timeout.connect(self._type_ahead)
        line = line_edit_of(self)
        line.setPlaceholderText(ALL_CUSTOMERS)
        line.textEdited.connect(self._edited)
        line.editingFinished.connect(self.resolve_typed)
        self.activated.connect(self._item_chosen)

    # --- public ----------------------------------------------------------------------------

    def set_queries(self, queries: QuerySender) -> None:
        """The query bus to ask (it arrives after the window when the database opens late)."""
        self._queries = queries

    def customer_id(self) -> str | None:
        """The customer the list is filtered by (None: all customers)."""
        return self._customer_id

    def problem(self) -> str:
        """What is wrong with the typed text ("" when nothing is)."""
        return self._problem

    def is_busy(self) -> bool:
        """True while typed text waits for the bus."""
        return self._timer.isActive() or self._resolving

    def set_customers(self, customers: Iterable[CustomerRow]) -> None:
        """The drop-down's entries (the catalog changed); keeps the choice and typed text.
        While the clerk is typing here the new entries wait until they leave the box."""
        rows = list(customers)
        if line_edit_of(self).hasFocus() or self.view().isVisible():
            self._waiting = rows
            return
        self._waiting = None
        entries = [(row.customer_id, row.name) for row in rows]
        if entries == self._entries:
            return  # live refreshes while orders pour in: the drop-down need not be rebuilt
        self._entries = entries
        text = self.currentText()
        self.blockSignals(True)
        self.clear()
        self.addItem(ALL_CUSTOMERS, None)
        for customer in rows:
            self.addItem(customer.name, customer.customer_id)
        index = self.findData(self._customer_id) if self._customer_id else -1
        if index >= 0 and not self._problem:
            self.setCurrentIndex(index)
        else:
            # "All customers" is the empty box (its placeholder says so): typing starts afresh.
            self.setCurrentIndex(-1)
            self.setEditText(text if text != ALL_CUSTOMERS else "")
        self.blockSignals(False)

    def choose(self, customer_id: str | None, name: str = "") -> None:
        """Filter by ``customer_id`` (None: all), showing ``name``."""
        self._timer.stop()
        self._generation += 1  # an answer still on its way is for older text
        self._resolving = False
        self._set_problem("")
        index = self.findData(customer_id) if customer_id else -1
        self.blockSignals(True)
        if index >= 0:
            self.setCurrentIndex(index)
        else:
            self.setCurrentIndex(-1)
            self.setEditText(name if customer_id else "")
        self.blockSignals(False)
        if customer_id != self._customer_id:
            self._customer_id = customer_id
            self.customer_chosen.emit(customer_id)

    def resolve_typed(self) -> None:
        """Decide what the typed text means (through the bus): a customer, or a problem."""
        if self._waiting is not None and not line_edit_of(self).hasFocus():
            self.set_customers(self._waiting)
        text = self.currentText().strip()
        if not text or text == ALL_CUSTOMERS:
            self.choose(None)
            return
        index = self.currentIndex()
        if index > 0 and self.itemText(index) == text and not self._problem:
            self.choose(self.itemData(index), text)
            return
        if self._queries is None:
            return
        queries = self._queries
        self._timer.stop()
        self._generation += 1
        generation = self._generation
        self._resolving = True

        def done(rows: list[CustomerRow]) -> None:
            if generation != self._generation:
                return
            self._resolving = False
            chosen, candidates = resolve(text, rows)
            if chosen is not None:
                self.choose(chosen.customer_id, chosen.name)
                return
            self._customer_id_cleared()
            if not candidates:
                self._set_problem(f"No customer matches “{text}” — not filtering by customer.")
            else:
                count = len(candidates)
                more = "+" if count >= TYPE_AHEAD_LIMIT else ""
                self._set_problem(
                    f"{count}{more} customers match “{text}” — choose one; not filtering "
                    "by customer."
                )

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._resolving = False
            log.warning("customer search failed: %r", exc)
            self._set_problem(f"The customers could not be searched: {exc}")

        self._tasks.submit(
            lambda: list(queries.ask(ListCustomers(search=text, limit=TYPE_AHEAD_LIMIT))),
            done,
            failed,
        )

    # --- internals -------------------------------------------------------------------------

    def _customer_id_cleared(self) -> None:
        if self._customer_id is not None:
            self._customer_id = None
            self.customer_chosen.emit(None)

    def _set_problem(self, problem: str) -> None:
        if problem == self._problem:
            return
        self._problem = problem
        self.setProperty("problem", bool(problem))
        self.setStyleSheet("QComboBox { border: 1px solid #b3261e; }" if problem else "")
        self.setToolTip(problem or "Show only the orders of one customer (type to find)")
        self.problem_changed.emit(problem)

    def _edited(self, _text: str) -> None:
        self._timer.start()

    def _type_ahead(self) -> None:
        text = self.currentText().strip()
        if not text or self._queries is None:
            return
        queries = self._queries
        generation = self._generation

        def done(rows: list[CustomerRow]) -> None:
            if generation != self._generation:
                return  # the text was resolved (or chosen) meanwhile: too late to offer
            self._matches = rows
            self._names.setStringList([row.name for row in rows])
            completer = self.completer()
            if rows and completer is not None:
                completer.complete()

        self._tasks.submit(
            lambda: list(queries.ask(ListCustomers(search=text, limit=TYPE_AHEAD_LIMIT))),
            done,
            lambda exc: log.warning("customer type-ahead failed: %r", exc),
        )

    def _completion_chosen(self, name: str) -> None:
        chosen = next((row for row in self._matches if row.name == name), None)
        if chosen is not None:
            self.choose(chosen.customer_id, chosen.name)

    def _item_chosen(self, index: int) -> None:
        self.choose(self.itemData(index), self.itemText(index))
