"""Open a verify finding in the window: the one place that decides where a finding opens.

Today that is the order selected in the list and its History tab at the finding's version;
when the audit view exists, this function opens it there instead (nothing else changes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.application.ports import VerifyFinding

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

ORDER = "order"


def open_finding(window: MainWindow, finding: VerifyFinding) -> None:
    """Show ``finding``'s order at its version: History tab, that event selected; the order
    is also selected in the list (revealed by its number when a filter hides it)."""
    if finding.aggregate_type != ORDER:
        window.statusBar().showMessage(
            f"This finding is about a {finding.aggregate_type or 'stream'} "
            f"({finding.stream_id}); only orders open in the window.",
            8000,
        )
        return
    # Asked for first: the list's selection (now or after a reveal) re-reads the same order
    # and keeps this version selected.
    window.history.show_version(finding.aggregate_id, finding.version)
    window.action_show_history.trigger()
    window.command_palette.go_to_order(finding.aggregate_id, finding.order_number or "")
