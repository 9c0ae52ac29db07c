"""The timeline's model: a list of frozen ``HistoryEntry`` rows, filtered by event type in
place (no proxy), with "which command produced it" grouping computed once per load.

Refused commands (issue 11) are rows too, merged in by time: they are not events (no version,
nothing changed), so they are kept apart from the event rows' version index, drawn grey and
hollow, and filtered like a type of their own (``REFUSED_TYPE``)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.ui.audit.marks import REFUSED_TYPE, note_line, rejection_title, rejection_tooltip
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
        self._refused: list[RecordedRejection] = []
        self._rows: list[HistoryEntry | RecordedRejection] = []
        self._event_rows: list[int] = []  # row index of each shown event, in version order
        self._event_versions: list[int] = []
        self._runs = _Runs([])
        self._times: dict[int, str] = {}
        self._types: frozenset[str] | None = None
        self._notes: Mapping[int, Sequence[AuditNoteEntry]] = {}

    # --- feeding ---------------------------------------------------------------------------

    def set_entries(
        self, entries: Sequence[HistoryEntry], refused: Sequence[RecordedRejection] = ()
    ) -> None:
        """Replace the whole history (already in version order) and the refused commands."""
        self.beginResetModel()
        self._all = list(entries)
        self._refused = sorted(refused, key=lambda r: (r.recorded_at, r.rejection_id))
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
        events = self._all if types is None else [e for e in self._all if e.type_name in types]
        refused = self._refused if types is None or REFUSED_TYPE in types else []
        rows: list[HistoryEntry | RecordedRejection]
        if refused:
            # Each refused command goes before the first event recorded after it.
            times = [e.recorded_at for e in events]
            rows = []
            start = 0
            for item in refused:
                cut = bisect_right(times, item.recorded_at, lo=start)
                rows += events[start:cut]
                rows.append(item)
                start = cut
            rows += events[start:]
            self._event_rows = [i for i, r in enumerate(rows) if isinstance(r, HistoryEntry)]
        else:
            rows = list(events)
            self._event_rows = list(range(len(rows)))
        self._event_versions = [e.version for e in events]
        self._rows = rows
        self._runs = _Runs(rows)

    # --- reading ---------------------------------------------------------------------------

    def all_entries(self) -> list[HistoryEntry]:
        """Every loaded event, filtered or not."""
        return list(self._all)

    def type_counts(self) -> Counter[str]:
        """How many loaded events there are of each type (and refused commands)."""
        counts = Counter(e.type_name for e in self._all)
        if self._refused:
            counts[REFUSED_TYPE] = len(self._refused)
        return counts

    def refused_count(self) -> int:
        """How many refused commands are loaded."""
        return len(self._refused)

    def shown_events(self) -> int:
        """How many event rows are shown (refused commands not counted)."""
        return len(self._event_rows)

    def type_filter(self) -> frozenset[str] | None:
        """The types shown (None: all)."""
        return self._types

    def entry(self, row: int) -> HistoryEntry:
        """The visible event at ``row`` (``TypeError`` on a refused command's row)."""
        item = self._rows[row]
        if not isinstance(item, HistoryEntry):
            raise TypeError(f"row {row} is a refused command, not an event")
        return item

    def refused_at(self, row: int) -> RecordedRejection | None:
        """The refused command at ``row`` (None when the row is an event)."""
        item = self._rows[row]
        return item if isinstance(item, RecordedRejection) else None

    def row_of_version(self, version: int) -> int:
        """The visible row showing ``version``, or -1 (binary search: rows are in order)."""
        at = bisect_left(self._event_versions, version)
        if at < len(self._event_versions) and self._event_versions[at] == version:
            return self._event_rows[at]
        return -1

    def last_event_row(self) -> int:
        """The row of the newest shown event (-1: none shown)."""
        return self._event_rows[-1] if self._event_rows else -1

    def max_version(self) -> int:
        """The newest loaded version (0 when nothing is loaded)."""
        return self._all[-1].version if self._all else 0

    def local_time(self, row: int) -> str:
        """Local time text of a visible row, formatted once and cached."""
        entry = self._rows[row]
        # Events by version, refused commands by their (negated) number: never the same key.
        key = entry.version if isinstance(entry, HistoryEntry) else -entry.rejection_id
        text = self._times.get(key)
        if text is None:
            text = fmt.local_time(entry.recorded_at)
            self._times[key] = text
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
        if isinstance(entry, RecordedRejection):
            return self._refused_data(entry, role)
        if role == VERSION_ROLE:
            return entry.version
        if role == NOTES_ROLE:
            return tuple(self._notes.get(entry.version, ()))
        if role == Qt.ItemDataRole.DisplayRole:
            return f"v{entry.version} {style_for(entry.type_name).label}: {entry.summary}"
        if role == Qt.ItemDataRole.ToolTipRole:
            who = entry.metadata.user
            if entry.server_role is not None:
                who += f" (server role: {entry.server_role})"
            tip = (
                f"{entry.summary}\n{self.local_time(row)} · {who}\n"
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

    def _refused_data(self, item: RecordedRejection, role: int) -> object:
        if role == NOTES_ROLE:
            return ()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{rejection_title(item)}. Why: {item.rejection.message}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return rejection_tooltip(item)
        if role == Qt.ItemDataRole.DecorationRole:
            return marker_icon(REFUSED_TYPE)
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

    def __init__(self, rows: Sequence[HistoryEntry | RecordedRejection]) -> None:
        # A refused command belongs to no command's run of events (an empty cause).
        causes = [e.metadata.causation_id if isinstance(e, HistoryEntry) else "" for e in rows]
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
