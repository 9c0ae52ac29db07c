"""The audit view: one order's history full width, on a time axis (issue 11).

Only the mode is imported here; the view itself (``ui.audit.view``) is imported when the mode is
first entered, so it stays off the start-up path.
"""

from desktop_app.ui.audit.mode import AuditMode

__all__ = ["AuditMode"]
