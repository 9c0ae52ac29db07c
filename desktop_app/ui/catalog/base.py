"""The shape shared by the customer and product lists: search, table, actions, messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import CommandResult
from desktop_app.application.queries import GetStoreInfo
from desktop_app.ui.catalog.models import RowsModel
from desktop_app.ui.orders.form_base import CommandDialog, guarded
from desktop_app.ui.orders.form_fields import FieldError
from desktop_app.ui.tasks import TaskRunner

READ_ONLY_REASON = "The database is open read-only; the catalog cannot be changed."
CHECKING_REASON = "Checking whether the database can be changed…"


def read_only_reason(reason: str | None) -> str:
    """The tooltip and banner text for a read-only database, with the store's reason."""
    if not reason:
        return READ_ONLY_REASON
    return f"The catalog cannot be changed: {reason}"


class CatalogListDialog(QDialog):
    """A searchable list with action buttons; each action opens a small form (non-blocking,
    kept in ``self.editor``). Lists come from the read model in the background."""

    loaded = Signal()

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None,
        *,
        title: str,
        model: RowsModel[Any],
        stretch_column: int,
    ) -> None:
        super().__init__(parent)
        self.commands = commands
        self.queries = queries
        self.tasks = tasks
        self.editor: CommandDialog | None = None
        # Unknown until the store says (GetStoreInfo): changes stay off meanwhile, so a
        # read-only database never lets the clerk type a whole form to be refused on Save.
        self._read_only = queries.handles(GetStoreInfo)
        self._read_only_reason: str | None = CHECKING_REASON if self._read_only else None
        self._generation = 0
        self.setWindowTitle(title)

        self.read_only_banner = QLabel(self)
        self.read_only_banner.setObjectName("catalogReadOnly")
        self.read_only_banner.setWordWrap(True)
        self.read_only_banner.setStyleSheet(
            "background: palette(alternate-base); border: 1px solid palette(mid); padding: 4px;"
        )
        self.read_only_banner.hide()

        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("search")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setPlaceholderText("Search")
        search_label = QLabel("&Search", self)
        search_label.setBuddy(self.search_edit)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self.refresh)
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_row = QHBoxLayout()
        self.search_row.addWidget(search_label)
        self.search_row.addWidget(self.search_edit, 1)

        self.model = model
        self.table = QTableView(self)
        self.table.setObjectName("catalogTable")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(model.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.table.doubleClicked.connect(lambda _index: self.on_activated())

        self.message = FieldError(self)
        self.message.setObjectName("catalogMessage")
        self.status_label = QLabel(self)
        self.status_label.setStyleSheet("color: palette(mid);")

        self.action_row = QVBoxLayout()
        self.refresh_button = QPushButton("Re&fresh", self)
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.clicked.connect(self.refresh)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, self.refresh)
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.close_buttons.rejected.connect(self.reject)

        middle = QHBoxLayout()
        middle.addWidget(self.table, 1)
        side = QVBoxLayout()
        side.addLayout(self.action_row)
        side.addStretch(1)
        side.addWidget(self.refresh_button)
        middle.addLayout(side)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.close_buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.read_only_banner)
        layout.addLayout(self.search_row)
        layout.addLayout(middle, 1)
        layout.addWidget(self.message)
        layout.addLayout(bottom)

    def add_action_button(self, text: str) -> QPushButton:
        """A button in the side column."""
        button = QPushButton(text, self)
        button.setAutoDefault(False)
        self.action_row.addWidget(button)
        return button

    # --- read-only ------------------------------------------------------------------------

    def set_read_only(self, read_only: bool, reason: str | None = None) -> None:
        """Disable every action that would change the catalog, saying why (banner, tooltips)."""
        self._read_only = read_only
        self._read_only_reason = read_only_reason(reason) if read_only else None
        self.read_only_banner.setText(self._read_only_reason or "")
        self.read_only_banner.setVisible(read_only)
        self.update_actions()

    def is_read_only(self) -> bool:
        """Whether changes are disabled."""
        return self._read_only

    def read_only_text(self) -> str:
        """Why changes are disabled (the tooltip of the disabled buttons)."""
        return self._read_only_reason or READ_ONLY_REASON

    def check_store(self) -> None:
        """Ask the store whether it can be written (GetStoreInfo), in the background."""
        if not self.queries.handles(GetStoreInfo):
            return
        ask = self.queries.ask
        self.tasks.submit(
            lambda: ask(GetStoreInfo()),
            guarded(self, lambda info: self.set_read_only(info.read_only, info.read_only_reason)),
            guarded(self, self._store_check_failed),
        )

    def _store_check_failed(self, exc: BaseException) -> None:
        self.set_read_only(True, f"the database could not be asked ({exc}).")

    def update_actions(self) -> None:
        """Enable the buttons that fit the selection (subclasses)."""

    def on_activated(self) -> None:
        """Double-click/Enter on a row (subclasses)."""

    # --- data -----------------------------------------------------------------------------

    def make_query(self, search: str | None) -> Any:
        """GUI thread: the list query for ``search`` and the current options."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Reload the list (keeps the selection when the row is still there)."""
        self._search_timer.stop()
        self._generation += 1
        generation = self._generation
        search = self.search_edit.text().strip() or None
        self.status_label.setText("Loading…")
        query = self.make_query(search)
        ask = self.queries.ask
        self.tasks.submit(
            lambda: ask(query),
            guarded(self, lambda rows: self._loaded(generation, rows)),
            guarded(self, lambda exc: self._load_failed(generation, exc)),
        )

    def _loaded(self, generation: int, rows: list[Any]) -> None:
        if generation != self._generation:
            return
        selected = self.selected_key()
        self.model.set_rows(rows)
        self.status_label.setText(f"{len(rows)} shown")
        if selected is not None:
            self.select_key(selected)
        self.update_actions()
        self.loaded.emit()

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.status_label.setText("")
        self.message.set_message(f"The list could not be loaded: {exc}")

    def selected_row(self) -> Any:
        """The selected row (None when nothing is selected)."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def selected_key(self) -> str | None:
        """The id of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(Qt.ItemDataRole.UserRole) if rows else None

    def select_key(self, key: str) -> None:
        """Select the row with id ``key`` if it is shown."""
        position = self.model.position_of(key)
        if position >= 0:
            self.table.selectRow(position)

    # --- forms ----------------------------------------------------------------------------

    def open_editor(
        self, editor: CommandDialog, on_saved: Callable[[CommandResult], None]
    ) -> CommandDialog:
        """Open a small form non-blocking; ``on_saved(result)`` after its command ran."""
        if self.editor is not None:
            self.editor.close()
        self.message.set_message(None)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saved.connect(guarded(self, on_saved))
        editor.finished.connect(guarded(self, lambda _code: self._editor_closed(editor)))
        self.editor = editor
        editor.open()
        return editor

    def _editor_closed(self, editor: CommandDialog) -> None:
        if self.editor is editor:
            self.editor = None
