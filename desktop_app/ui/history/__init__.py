"""Event-history timeline of one order: drawn timeline, event details, state and diffs."""

from desktop_app.ui.history.view import HistoryView

__all__ = ["HistoryView"]
