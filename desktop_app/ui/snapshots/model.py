"""Table model of an order's snapshots (frozen ``SnapshotInfo`` rows, newest first)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from desktop_app.application.ports import SnapshotInfo
from desktop_app.ui.history import _format as fmt

INFO_ROLE = Qt.ItemDataRole.UserRole + 1


class SnapshotTableModel(QAbstractTableModel):
    """Version, taken at, size, snapshot schema version, readable."""

    HEADERS = ("Version", "Taken at", "Size", "Schema", "Readable")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SnapshotInfo] = []

    def set_snapshots(self, rows: Sequence[SnapshotInfo]) -> None:
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda r: r.version, reverse=True)
        self.endResetModel()

    def info(self, row: int) -> SnapshotInfo:
        return self._rows[row]

    def row_of_version(self, version: int) -> int:
        for row, info in enumerate(self._rows):
            if info.version == version:
                return row
        return -1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        info = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f"v{info.version}",
                fmt.local_time(info.taken_at),
                fmt.size(info.size_bytes),
                f"v{info.schema_version}",
                _validity(info),
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 1:
                return fmt.utc_time(info.taken_at)
            if column == 4 and not info.valid:
                why = info.problem or "the stored bytes do not match their checksum"
                return f"Ignored when the order is loaded (it is replayed instead): {why}."
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == 4:
            return QBrush(QColor("#166534" if info.valid else "#b91c1c"))
        if role == INFO_ROLE:
            return info
        return None


def _validity(info: SnapshotInfo) -> str:
    """ "yes", "damaged" (bytes changed) or "not trusted" (unsealed, forged, another key…)."""
    if info.valid:
        return "yes"
    if info.problem is None or info.problem.startswith("damaged"):
        return "damaged"
    return "not trusted"
