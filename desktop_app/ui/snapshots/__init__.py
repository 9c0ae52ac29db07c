"""Snapshot inspector: an order's snapshots, their state, a check against replay."""

from desktop_app.ui.snapshots.view import SnapshotInspector

__all__ = ["SnapshotInspector"]
