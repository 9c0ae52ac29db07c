"""The audit view: one order's history full width, on a time axis (issue 11)."""

from desktop_app.ui.audit.mode import AuditMode
from desktop_app.ui.audit.view import AuditView

__all__ = ["AuditMode", "AuditView"]
