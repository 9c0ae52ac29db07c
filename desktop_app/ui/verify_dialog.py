"""The result of Tools ▸ Verify history: the verdict in words and, when the check found
anything, one row per finding (event position, order number, version, what, why); a row
opens its order at that version."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.ports import VerifyFinding, VerifyResult
from desktop_app.ui import formatting as fmt

FindingOpener = Callable[[VerifyFinding], None]

_COLUMNS = ("Event", "Order", "Version", "What", "Why")


def verdict(result: VerifyResult) -> tuple[str, str, str]:
    """(state, headline, details) for a result; state is "ok", "cancelled" or "bad"."""
    if result.cancelled_at is not None:
        return _cancelled(result)
    chain_ok = result.first_bad_position is None and result.problem is None
    if result.ok:
        return (
            "ok",
            f"The history is intact: {fmt.format_int(result.checked)} events checked, "
            "every hash matches"
            + (", every event is legal and every snapshot true." if result.semantic else "."),
            f"Last event #{fmt.format_int(result.head_position)}\nHead hash {result.head_hash}"
            + "".join(f"\n\n{note}" for note in result.notes),
        )
    if chain_ok:
        return (
            "bad",
            f"The history holds {fmt.format_int(result.finding_count)} event(s) or "
            "snapshot(s) that the program could not have written.",
            "Every hash matches, so these were written into the file with the chain "
            "recomputed. Keep this file for investigation.",
        )
    where = (
        f" at event #{fmt.format_int(result.first_bad_position)}"
        if result.first_bad_position is not None
        else ""
    )
    # Without a position (an anchor kept outside the file no longer holds) nothing can be
    # said about which part is intact.
    intact = "Everything before that position is intact. " if where else ""
    return (
        "bad",
        f"The history has been altered{where}.",
        (result.problem or "A stored hash does not match its event.")
        + "\n\n"
        + intact
        + "Keep this file for investigation and restore a backup to continue working.",
    )


def _cancelled(result: VerifyResult) -> tuple[str, str, str]:
    done = fmt.format_int(result.cancelled_at or 0)
    if result.cancelled_in == "replay":
        chain = (
            "The hash chain was recomputed completely"
            + (
                f" and breaks at event #{fmt.format_int(result.first_bad_position)}"
                if result.first_bad_position is not None
                else " and every hash matches"
            )
            + f"; the replay was stopped after {done} events."
        )
    elif not result.cancelled_at:
        chain = "It was stopped before the first event was checked: nothing was checked."
    else:
        chain = f"The hashes were recomputed up to event #{done}; the rest was not checked."
    found = (
        f"\n\nFound before it was stopped: {fmt.format_int(result.finding_count)} finding(s)."
        if result.finding_count or result.chain_finding is not None
        else ""
    )
    return (
        "cancelled",
        f"Verify was cancelled at event #{done}: this is no verdict on the history.",
        chain + found + "\n\nRun Verify history again to check the whole history.",
    )


def findings_of(result: VerifyResult) -> list[VerifyFinding]:
    """The chain's finding first (when it names an event), then the replay's."""
    found = [result.chain_finding] if result.chain_finding is not None else []
    return found + [f for f in result.findings if f not in found]


class VerifyResultDialog(QDialog):
    """The verdict and a table of findings; Open (or a double-click) opens a finding."""

    def __init__(
        self, result: VerifyResult, open_finding: FindingOpener, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("verifyResult")
        self.setWindowTitle("Verify history")
        self.verify_result = result
        self._open_finding = open_finding
        self.state, headline, details = verdict(result)
        icons = {
            "ok": QStyle.StandardPixmap.SP_MessageBoxInformation,
            "cancelled": QStyle.StandardPixmap.SP_MessageBoxWarning,
            "bad": QStyle.StandardPixmap.SP_MessageBoxCritical,
        }
        self.setWindowIcon(self.style().standardIcon(icons[self.state]))
        layout = QVBoxLayout(self)
        self.headline = QLabel(headline)
        self.headline.setObjectName("verifyHeadline")
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("font-weight: bold;")
        self.details = QLabel(details)
        self.details.setObjectName("verifyDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.headline)
        layout.addWidget(self.details)
        self.findings = findings_of(result)
        self.table = QTableWidget(len(self.findings), len(_COLUMNS), self)
        self.table.setObjectName("verifyFindings")
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        for row, finding in enumerate(self.findings):
            for column, text in enumerate(_cells(finding)):
                item = QTableWidgetItem(text)
                item.setToolTip(finding.describe())
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        for column in range(len(_COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.table.setVisible(bool(self.findings))
        layout.addWidget(self.table, 1)
        more = result.finding_count - len(result.findings)
        self.more = QLabel(f"… and {fmt.format_int(more)} more, not listed." if more > 0 else "")
        self.more.setVisible(more > 0)
        layout.addWidget(self.more)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.open_button = QPushButton("&Open at this event")
        self.open_button.setObjectName("openFinding")
        self.open_button.setToolTip("Show the order's history at the finding's version")
        self.open_button.setEnabled(False)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setVisible(bool(self.findings))  # after addButton, which shows it
        self.open_button.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        self.table.itemSelectionChanged.connect(
            lambda: self.open_button.setEnabled(self._openable(self.table.currentRow()))
        )
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if self.findings:
            self.resize(900, 420)
            self.table.selectRow(0)
        else:
            self.setMinimumWidth(480)

    def _openable(self, row: int) -> bool:
        return 0 <= row < len(self.findings) and self.findings[row].aggregate_type == "order"

    def open_row(self, row: int) -> None:
        """Open the finding in ``row`` (only an order's finding opens in the window)."""
        if 0 <= row < len(self.findings):
            self._open_finding(self.findings[row])


def _cells(finding: VerifyFinding) -> tuple[str, str, str, str, str]:
    position = f"#{fmt.format_int(finding.position)}" if finding.position is not None else "—"
    who = finding.order_number or finding.stream_id
    what = {"chain": "hash chain", "snapshot": "snapshot"}.get(finding.kind, "")
    event = finding.event_type or ""
    return (
        position,
        who,
        f"v{finding.version}",
        f"{what}: {event}".strip(": ") if what else event,
        finding.reason,
    )
