"""Open a verify finding in the window: the one place that decides where a finding opens.

A finding about an order opens that order's audit view at the finding's version (the order is
also selected in the list when the list shows it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.application.ports import VerifyFinding

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

ORDER = "order"


def open_finding(window: MainWindow, finding: VerifyFinding) -> None:
    """Show ``finding``'s order in the audit view with the event at its version selected."""
    if finding.aggregate_type != ORDER:
        window.statusBar().showMessage(
            f"This finding is about a {finding.aggregate_type or 'stream'} "
            f"({finding.stream_id}); only orders open in the window.",
            8000,
        )
        return
    window.audit.open_at(finding.aggregate_id, finding.version)
