"""The timeline's model: a list of frozen ``HistoryEntry`` rows, filtered by event type in
place (no proxy), with "which command produced it" grouping computed once per load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.ui.audit.marks import note_line
from desktop_app.ui.history import _format as fmt
from desktop_app.ui.history.event_style import marker_icon, style_for

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's ``HistoryEntry``."""
GROUP_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's ``CommandGroup``."""
TIME_ROLE = Qt.ItemDataRole.UserRole + 3
"""Recorded time as local-time text (formatted once, on demand)."""
VERSION_ROLE = Qt.ItemDataRole.UserRole + 4
NOTES_ROLE = Qt.ItemDataRole.UserRole + 5
"""The auditors' notes on the row's event (a tuple, empty when none)."""


@dataclass(frozen=True, slots=True)
class CommandGroup:
    """Where a row sits in its run of consecutive events with the same causation (command) id:
    ``first``/``last`` row of the run, ``size`` of the run, ``band`` alternates per run."""

    causation_id: str
    first: bool
    last: bool
    size: int
    band: int


class TimelineModel(QAbstractListModel):
    """Events of one order in version order; ``set_type_filter`` hides types instantly."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all: list[HistoryEntry] = []
        self._rows: list[HistoryEntry] = []
        self._runs = _Runs([])
        self._times: dict[int, str] = {}
        self._types: frozenset[str] | None = None
        self._notes: Mapping[int, Sequence[AuditNoteEntry]] = {}

    # --- feeding ---------------------------------------------------------------------------

    def set_entries(self, entries: Sequence[HistoryEntry]) -> None:
        """Replace the whole history (already in version order)."""
        self.beginResetModel()
        self._all = list(entries)
        self._times = {}
        self._apply_filter()
        self.endResetModel()

    def set_notes(self, notes: Mapping[int, Sequence[AuditNoteEntry]]) -> None:
        """The auditors' notes by the version they annotate (repaints the rows)."""
        self._notes = notes
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def notes_of(self, version: int) -> tuple[AuditNoteEntry, ...]:
        """The notes on the event at ``version`` (0: on the order as a whole)."""
        return tuple(self._notes.get(version, ()))

    def set_type_filter(self, type_names: Iterable[str] | None) -> None:
        """Show only these event types (None: all)."""
        types = None if type_names is None else frozenset(type_names)
        if types == self._types:
            return
        self.beginResetModel()
        self._types = types
        self._apply_filter()
        self.endResetModel()

    def _apply_filter(self) -> None:
        types = self._types
        rows = self._all if types is None else [e for e in self._all if e.type_name in types]
        self._rows = rows
        self._runs = _Runs(rows)

    # --- reading ---------------------------------------------------------------------------

    def all_entries(self) -> list[HistoryEntry]:
        """Every loaded event, filtered or not."""
        return list(self._all)

    def type_counts(self) -> Counter[str]:
        """How many loaded events there are of each type."""
        return Counter(e.type_name for e in self._all)

    def type_filter(self) -> frozenset[str] | None:
        """The types shown (None: all)."""
        return self._types

    def entry(self, row: int) -> HistoryEntry:
        """The visible entry at ``row``."""
        return self._rows[row]

    def row_of_version(self, version: int) -> int:
        """The visible row showing ``version``, or -1 (binary search: rows are in order)."""
        rows = self._rows
        lo, hi = 0, len(rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if rows[mid].version < version:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(rows) and rows[lo].version == version else -1

    def max_version(self) -> int:
        """The newest loaded version (0 when nothing is loaded)."""
        return self._all[-1].version if self._all else 0

    def local_time(self, row: int) -> str:
        """Local time text of a visible row, formatted once and cached."""
        entry = self._rows[row]
        text = self._times.get(entry.version)
        if text is None:
            text = fmt.local_time(entry.recorded_at)
            self._times[entry.version] = text
        return text

    # --- Qt model --------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column():
            return None
        row = index.row()
        entry = self._rows[row]
        if role == ENTRY_ROLE:
            return entry
        if role == GROUP_ROLE:
            return self._runs.group(row)
        if role == TIME_ROLE:
            return self.local_time(row)
        if role == VERSION_ROLE:
            return entry.version
        if role == NOTES_ROLE:
            return tuple(self._notes.get(entry.version, ()))
        if role == Qt.ItemDataRole.DisplayRole:
            return f"v{entry.version} {style_for(entry.type_name).label}: {entry.summary}"
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = (
                f"{entry.summary}\n{self.local_time(row)} · {entry.metadata.user}\n"
                f"command {fmt.short_id(entry.metadata.causation_id)}"
            )
            for note in self._notes.get(entry.version, ()):
                tip += f"\n\n{note_line(note)}\n{note.text}"
            return tip
        if role == Qt.ItemDataRole.DecorationRole:
            return marker_icon(entry.type_name)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Version {entry.version}, {style_for(entry.type_name).label}. {entry.summary}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )


class _Runs:
    """Runs of consecutive rows sharing a causation id (one command), kept as flat lists so a
    10,000-event history costs one quick pass; ``group(row)`` builds the row's view of it."""

    __slots__ = ("_bands", "_causes", "_run_of", "_sizes", "_starts")

    def __init__(self, rows: Sequence[HistoryEntry]) -> None:
        causes = [e.metadata.causation_id for e in rows]
        run_of: list[int] = []
        starts: list[int] = []
        sizes: list[int] = []
        bands: list[int] = []
        band = 0
        row = 0
        for cause, members in groupby(causes):
            size = sum(1 for _ in members)
            if not cause:  # events without a command id are never grouped
                for offset in range(size):
                    run_of.append(len(starts))
                    starts.append(row + offset)
                    sizes.append(1)
                    bands.append(band)
                row += size
                continue
            run_of.extend([len(starts)] * size)
            starts.append(row)
            sizes.append(size)
            bands.append(band)
            if size > 1:
                band ^= 1
            row += size
        self._causes = causes
        self._run_of = run_of
        self._starts = starts
        self._sizes = sizes
        self._bands = bands

    def group(self, row: int) -> CommandGroup:
        run = self._run_of[row]
        start, size = self._starts[run], self._sizes[run]
        return CommandGroup(
            self._causes[row], row == start, row == start + size - 1, size, self._bands[run]
        )
