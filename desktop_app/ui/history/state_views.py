"""Views of aggregate state shared by the timeline and the snapshot inspector: a tree of a
state dict (changed fields highlighted) and a table of field-by-field changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.queries import FieldChange
from desktop_app.ui.history import _format as fmt

KIND_LABELS = {"added": "added", "removed": "removed", "changed": "changed"}
KIND_BACKGROUND = {
    "added": QColor("#dcfce7"),
    "removed": QColor("#fee2e2"),
    "changed": QColor("#fef3c7"),
}
KIND_FOREGROUND = {
    "added": QColor("#166534"),
    "removed": QColor("#991b1b"),
    "changed": QColor("#92400e"),
}
PATH_ROLE = Qt.ItemDataRole.UserRole + 10
KIND_ROLE = Qt.ItemDataRole.UserRole + 11


# --- diff ----------------------------------------------------------------------------------


class DiffModel(QAbstractTableModel):
    """Rows of ``FieldChange``: field path, kind, before, after; coloured by kind."""

    HEADERS = ("Field", "Change", "Before", "After")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._changes: list[FieldChange] = []

    def set_changes(self, changes: Sequence[FieldChange]) -> None:
        self.beginResetModel()
        self._changes = list(changes)
        self.endResetModel()

    def changes(self) -> list[FieldChange]:
        return list(self._changes)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._changes)

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
        if not index.isValid() or not 0 <= index.row() < len(self._changes):
            return None
        change = self._changes[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == 0:
                return change.path
            if column == 1:
                return KIND_LABELS.get(change.kind, change.kind)
            if column == 2:
                return "" if change.kind == "added" else fmt.value(change.before)
            if column == 3:
                return "" if change.kind == "removed" else fmt.value(change.after)
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = KIND_BACKGROUND.get(change.kind)
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = KIND_FOREGROUND.get(change.kind)
            if colour is not None and column in (1, 3 if change.kind != "removed" else 2):
                return QBrush(colour)
            return None
        if role == Qt.ItemDataRole.FontRole and column == 3 and change.kind == "changed":
            font = QFont()
            font.setBold(True)
            return font
        if role == KIND_ROLE:
            return change.kind
        if role == PATH_ROLE:
            return change.path
        return None


class DiffView(QWidget):
    """A titled table of changes, or a message when there are none (or while loading)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.model = DiffModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("diffTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # Field, before and after share the width (long values elide, the tooltip shows them
        # whole); a diff has few rows, so sizing the change column to its contents is cheap.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.message = QLabel(self)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #64748b;")
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.table)
        self._stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self._stack, 1)
        self.show_message("")

    def set_changes(self, title: str, changes: Sequence[FieldChange], empty_text: str) -> None:
        self.title.setText(title)
        self.model.set_changes(changes)
        if changes:
            self._stack.setCurrentWidget(self.table)
        else:
            self.message.setText(empty_text)
            self._stack.setCurrentWidget(self.message)

    def show_message(self, text: str, title: str = "") -> None:
        self.title.setText(title)
        self.model.set_changes(())
        self.message.setText(text)
        self._stack.setCurrentWidget(self.message)


# --- state tree ----------------------------------------------------------------------------


def _list_labels(items: Sequence[object]) -> list[list[str]]:
    """Every name the diff may give each list entry: the SKU when unique, the record id, and
    the index (the diff picks one of these; the tree answers to all of them)."""
    skus = [i.get("sku") if isinstance(i, Mapping) else None for i in items]
    labels = []
    for index, item in enumerate(items):
        names = []
        if isinstance(item, Mapping):
            sku = item.get("sku")
            if isinstance(sku, str) and skus.count(sku) == 1:
                names.append(sku)
            for key_field in ("line_id", "id"):
                key = item.get(key_field)
                if isinstance(key, str):
                    names.append(key)
                    break
        names.append(str(index))
        labels.append(names)
    return labels


class StateTree(QTreeWidget):
    """An aggregate state dict as a two-column tree; ``highlights`` maps diff paths to kinds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Field", "Value"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.header().resizeSection(0, 200)
        self.header().setStretchLastSection(True)
        self._items: dict[str, QTreeWidgetItem] = {}

    def set_state(
        self, state: Mapping[str, object] | None, highlights: Mapping[str, str] | None = None
    ) -> None:
        """Show ``state`` (None clears) and mark the fields named in ``highlights``."""
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            self._items = {}
            if state is not None:
                self._fill(self.invisibleRootItem(), state, "")
                root = self.invisibleRootItem()
                for item_index in range(root.childCount()):
                    _child(root, item_index).setExpanded(True)
            self.highlight(highlights or {})
        finally:
            self.setUpdatesEnabled(True)

    def highlight(self, highlights: Mapping[str, str]) -> None:
        """Colour the items of changed paths (and their children) and expand to them."""
        for path, kind in highlights.items():
            item = self._items.get(path)
            if item is None:
                continue
            self._paint(item, kind)
            parent = item.parent()
            while parent is not None:
                parent.setExpanded(True)
                font = parent.font(0)
                font.setBold(True)
                parent.setFont(0, font)
                parent = parent.parent()

    def _paint(self, item: QTreeWidgetItem, kind: str) -> None:
        background = QBrush(KIND_BACKGROUND.get(kind, QColor("#fef3c7")))
        for column in (0, 1):
            item.setBackground(column, background)
        item.setData(0, KIND_ROLE, kind)
        item.setToolTip(1, f"{kind} in this version")
        for child_index in range(item.childCount()):
            self._paint(_child(item, child_index), kind)

    def _fill_alias(self, alias: str, value: object, item: QTreeWidgetItem) -> None:
        """Register ``item`` (and its subtree) under another name of the same list entry."""
        self._items.setdefault(alias, item)
        if isinstance(value, Mapping):
            for index, key in enumerate(value):
                if index < item.childCount():
                    self._fill_alias(f"{alias}.{key}", value[key], _child(item, index))

    def item_for_path(self, path: str) -> QTreeWidgetItem | None:
        """The item showing ``path`` (diff notation, e.g. ``lines[MUG-1].quantity``)."""
        return self._items.get(path)

    def _fill(self, parent: QTreeWidgetItem, value: object, path: str) -> None:
        children: list[tuple[str, object, str, list[str]]]
        if isinstance(value, Mapping):
            children = [
                (str(k), v, f"{path}.{k}" if path else str(k), []) for k, v in value.items()
            ]
        else:
            items = list(value) if isinstance(value, list | tuple) else []
            children = [
                (f"[{names[0]}]", v, f"{path}[{names[0]}]", [f"{path}[{n}]" for n in names[1:]])
                for names, v in zip(_list_labels(items), items, strict=True)
            ]
        for key, child, child_path, aliases in children:
            item = QTreeWidgetItem(parent)
            item.setText(0, key)
            item.setData(0, PATH_ROLE, child_path)
            self._items[child_path] = item
            if isinstance(child, Mapping | list | tuple) and child:
                count = len(child)
                noun = "field" if isinstance(child, Mapping) else "item"
                item.setText(1, f"{count} {noun}{'s' if count != 1 else ''}")
                item.setForeground(1, QBrush(QColor("#64748b")))
                self._fill(item, child, child_path)
            else:
                nested = isinstance(child, Mapping | list | tuple)
                text = "empty" if nested else fmt.value(child)
                item.setText(1, text)
                item.setToolTip(1, text)
            for alias in aliases:
                self._fill_alias(alias, child, item)


def _child(item: QTreeWidgetItem, index: int) -> QTreeWidgetItem:
    """The child at ``index`` (< ``item.childCount()``, so Qt never gives None here)."""
    child = item.child(index)
    if child is None:
        raise IndexError(f"no child {index} of {item.text(0)!r}")
    return child
