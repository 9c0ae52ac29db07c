"""The main window: orders list in the centre, Detail / History / Snapshots on the right,
menus with shortcuts for every action, a read-only banner and the status bar.

Everything that touches the database goes through the TaskRunner; the GUI thread only builds
queries/commands and shows the frozen results that come back. The selected order lives in one
:class:`CurrentOrder` the side panels subscribe to; the Tools menu, the paper actions, the live
refresh and the About box are modules of their own.

A little over 500 lines: the window puts its parts (one module each) together here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import GetProjectorStatus, ProjectorStatus
from desktop_app.identity import os_user
from desktop_app.ui import window_state
from desktop_app.ui.audit import AuditMode
from desktop_app.ui.audit_bundle_action import AuditBundleAction
from desktop_app.ui.backup_status import BackupStatus
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.browser import EventBrowserAction
from desktop_app.ui.current_order import CurrentOrder
from desktop_app.ui.errors import explain
from desktop_app.ui.files import DatabaseMenu
from desktop_app.ui.live_refresh import LiveRefresh
from desktop_app.ui.menu_bar import build_menu_bar
from desktop_app.ui.not_open import NotOpenQueries
from desktop_app.ui.orders import empty_state
from desktop_app.ui.orders.as_of_mode import AsOfMode
from desktop_app.ui.orders.list_view import OrdersListView
from desktop_app.ui.palette import PaletteController
from desktop_app.ui.paper_actions import PaperActions
from desktop_app.ui.side_panel import SidePanel
from desktop_app.ui.side_tabs import SideTabs
from desktop_app.ui.status import StatusBar
from desktop_app.ui.tasks import TaskRunner
from desktop_app.ui.tools_menu import ToolsMenu
from desktop_app.ui.window_action import window_action

if TYPE_CHECKING:
    from desktop_app.application.ports import VerifyFinding
    from desktop_app.ui.history import HistoryView
    from desktop_app.ui.orders.detail import OrderDetailPanel
    from desktop_app.ui.sample_data import SampleLoader
    from desktop_app.ui.snapshots import SnapshotInspector

log = logging.getLogger(__name__)

SETTINGS_ORG = "OrderDesk"
SETTINGS_APP = "Order Desk"


class MainWindow(QMainWindow):
    """The program's main window."""

    current_order_changed = Signal(object)
    database_requested = Signal(object, bool)
    restore_requested = Signal(str)
    """A confirmed restore from this (checked) backup file: the entry point restores it."""
    """File ▸ New/Open: (path, create) — the entry point closes this database and opens it."""

    def __init__(
        self,
        commands: CommandSender | None,
        queries: QuerySender | None,
        bridge: Bridge | None,
        tasks: TaskRunner,
        store_info: StoreInfo,
        *,
        settings: QSettings | None = None,
        user: str | None = None,
        parent: QWidget | None = None,
        opening: bool = False,
    ) -> None:
        """``opening=True``: the window is shown while the database is still being opened
        (no ``commands``/``queries`` yet, ``store_info`` provisional); it shows an
        "Opening database…" state until :meth:`attach_application`."""
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.commands = commands
        self.queries = queries
        self.bridge = bridge
        self.tasks = tasks
        self.store_info = store_info
        self.read_only = bool(store_info.read_only)
        self.opening = opening
        self._settings = settings or QSettings(SETTINGS_ORG, SETTINGS_APP)
        self._pending_select: str | None = None
        self._open_dialogs: list[QDialog] = []
        self._sample_loader: SampleLoader | None = None
        self.setWindowTitle(f"Order Desk — {store_info.location}")
        self.current = CurrentOrder(self)

        # --- centre: banner + splitter(list | tabs)
        self.orders = OrdersListView(queries or NotOpenQueries(), tasks, self)
        self.tabs = SideTabs(self.current, tasks, self)
        self.tabs.set_read_only(self.read_only)
        if not opening:
            self.tabs.set_buses(*self._buses())

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.orders)
        self.splitter.addWidget(self.tabs)
        self.side_panel = SidePanel(self.splitter, self.tabs, self)
        # Explicit minimums: the window must fit a 1024-px-wide screen whatever the side
        # panels would like to have.
        self.orders.setMinimumWidth(380)
        self.tabs.setMinimumWidth(320)

        self.banner = QLabel(self)
        self.banner.setObjectName("readOnlyBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel { background: #fff3cd; color: #5c4400; border-bottom: 1px solid #e0c36a;"
            " padding: 6px 10px; }"
        )
        self._show_read_only_banner()

        centre = QWidget(self)
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(centre)

        self.status = StatusBar(store_info, user or os_user(), self)
        self.setStatusBar(self.status)
        tasks.store_unavailable.connect(self.status.show_connection_problem)
        tasks.store_available.connect(self.status.show_connection_ok)
        self.backup_status = BackupStatus(self.status, tasks, bridge, self)

        self._build_actions()
        self.audit = AuditMode(self)
        self.event_browser = EventBrowserAction(self)
        self.as_of = AsOfMode(self, self._settings)
        self.files = DatabaseMenu(self, self._settings, None)
        if not self.opening:
            self._remember_database()
        self.files.open_requested.connect(self.database_requested)
        self.addAction(self.files.action_new)
        self.addAction(self.files.action_open)
        self.paper = PaperActions(self, self.orders, tasks, lambda: self.queries, self._settings)
        self.tools = ToolsMenu(self, tasks, commands, queries, read_only=self.read_only)
        self.tools.rebuilt.connect(self.refresh_all)
        self.tools.open_finding = partial(_open_finding, self)
        self.tools.restore_requested.connect(self.restore_requested)
        self.tools.backed_up.connect(lambda _path: self.backup_status.refresh())
        self.audit_bundle = AuditBundleAction(self, tasks, self._current_order_and_number)
        self.audit_bundle.set_commands(commands)
        self.command_palette = PaletteController(self)
        self.order_menu = build_menu_bar(self)
        self._apply_read_only_to_actions()
        self.setTabOrder(self.orders.search, self.orders.status_filter)
        self.setTabOrder(self.orders.status_filter, self.orders.customer_filter)
        self.setTabOrder(self.orders.customer_filter, self.orders.table)
        self.setTabOrder(self.orders.table, self.tabs)

        # --- wiring
        self.orders.current_order_changed.connect(self._order_selected)
        self.current.changed.connect(self._current_changed)
        self.orders.start_requested.connect(self._start_requested)
        self._update_empty_desk_text()
        self.orders.model.loaded.connect(self._select_pending)
        self.orders.model.refreshed.connect(self._select_pending)
        self.live = LiveRefresh(self.orders, self.current, self)
        if bridge is not None:
            bridge.projector_status.connect(self.on_projector_status)
        if opening:
            for action in self.actions():
                if action is not self.action_quit and action is not self.action_about:
                    action.setEnabled(False)
            self.status.freshness.setText("Opening database…")
            self.orders.show_opening()
        elif self.tabs.detail_panel is not None:
            self._wire_detail(self.tabs.detail_panel)

        self.resize(1280, 800)
        self.restore_state()
        self.tabs.currentChanged.connect(self.tabs.build_tab)
        if self.tabs.currentIndex() != 0:
            # The saved tab is a lazy panel: build it right after the window first paints.
            QTimer.singleShot(0, self.tabs.build_current)

    # ------------------------------------------------------------------ opening

    def attach_application(
        self, commands: CommandSender, queries: QuerySender, store_info: StoreInfo
    ) -> None:
        """The database is open: connect the buses, build the detail panel, apply read-only.
        Call :meth:`start` next."""
        self.commands = commands
        self.queries = queries
        self.store_info = store_info
        self.read_only = bool(store_info.read_only)
        self.opening = False
        self.tabs.set_read_only(self.read_only)
        self._update_empty_desk_text()
        self.setWindowTitle(f"Order Desk — {store_info.location}")
        self._remember_database()
        self.orders.set_queries(queries)
        self.tools.set_buses(commands, queries, read_only=self.read_only)
        self.audit_bundle.set_commands(commands)
        self.status.set_store_info(store_info)
        self._show_read_only_banner()
        for action in self.actions():
            action.setEnabled(True)
        self._apply_read_only_to_actions()
        self._update_print_actions()
        self._wire_detail(self.tabs.set_buses(commands, queries))
        self.tabs.build_current()

    def _wire_detail(self, panel: OrderDetailPanel) -> None:
        self.order_menu.set_panel(panel)
        self.command_palette.set_panel(panel)
        panel.order_changed.connect(self._order_changed_here)
        panel.order_created.connect(self._order_created_here)

    def _show_read_only_banner(self) -> None:
        reason = self.store_info.read_only_reason or "the database cannot be changed."
        self.banner.setText(
            "<b>Read-only:</b> " + reason + " You can look at orders, their history and "
            "snapshots, and verify the history; changes are switched off."
        )
        self.banner.setVisible(self.read_only)

    # ------------------------------------------------------------------ side panels

    @property
    def detail(self) -> QWidget:
        """The Detail tab's widget (a placeholder while the database is being opened)."""
        return self.tabs.detail

    @property
    def detail_panel(self) -> OrderDetailPanel | None:
        """The order detail panel (None while the database is being opened)."""
        return self.tabs.detail_panel

    @property
    def history(self) -> HistoryView:
        """The History tab's panel (built on first use)."""
        return self.tabs.history

    @property
    def snapshots(self) -> SnapshotInspector:
        """The Snapshots tab's panel (built on first use)."""
        return self.tabs.snapshots

    def _current_order_and_number(self) -> tuple[str, str] | None:
        """The selected order's id and number (the number from its list row)."""
        order_id = self.current.order_id
        if order_id is None:
            return None
        row = self.orders.model.find_row(order_id)
        item = self.orders.model.row_at(row) if row is not None else None
        return order_id, item.order_number if item is not None else ""

    def _buses(self) -> tuple[CommandSender, QuerySender]:
        if self.commands is None or self.queries is None:
            raise RuntimeError("the window needs both buses unless it is opening")
        return self.commands, self.queries

    # ------------------------------------------------------------------ actions and menus

    def _build_actions(self) -> None:
        def action(
            name: str, text: str, key: str, slot: Callable[[], object], tip: str = ""
        ) -> QAction:
            return window_action(self, name, text, key, slot, tip)

        self.action_new_order = action(
            "actionNewOrder", "&New order…", "Ctrl+N", self.new_order, "Place a new order"
        )
        self.action_quit = action("actionQuit", "&Quit", "Ctrl+Q", self.close)
        self.action_find = action(
            "actionFind", "&Find…", "Ctrl+F", self.orders.focus_search, "Search the orders"
        )
        self.action_refresh = action(
            "actionRefresh", "&Refresh", "F5", self.refresh_all, "Reload the lists"
        )
        self.action_show_detail = action(
            "actionShowDetail", "Order &detail", "Ctrl+1", lambda: self._show_tab(0)
        )
        self.action_show_history = action(
            "actionShowHistory", "Order &history", "Ctrl+2", lambda: self._show_tab(1)
        )
        self.action_show_snapshots = action(
            "actionShowSnapshots", "&Snapshots", "Ctrl+3", lambda: self._show_tab(2)
        )
        self.action_focus_orders = action(
            "actionFocusOrders", "Go to the &order list", "Ctrl+L", self._focus_orders
        )
        self.action_customers = action(
            "actionCustomers",
            "&Customers…",
            "Ctrl+Shift+U",
            self.open_customers,
            "Register and rename customers",
        )
        self.action_products = action(
            "actionProducts",
            "&Products…",
            "Ctrl+Shift+P",
            self.open_products,
            "Add products, change prices, discontinue",
        )
        self.action_about = action("actionAbout", "&About Order Desk", "F1", self.show_about)

    def _remember_database(self) -> None:
        location = Path(self.store_info.location)
        if location.is_file():  # not an in-memory store or a server address
            self.files.set_current(location)

    def _update_print_actions(self) -> None:
        self.paper.set_order_selected(
            self.orders.current_order_id() is not None and not self.opening
        )

    def _apply_read_only_to_actions(self) -> None:
        if self.read_only:
            why = "The database is open read-only."
            self.action_new_order.setEnabled(False)
            self.action_new_order.setStatusTip(why)
            self.action_new_order.setToolTip(why)
        self.tools.read_only = self.read_only
        self.tools.apply_read_only()

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        """First loads (through the TaskRunner); call once the window is shown."""
        self.orders.start()
        queries = self.queries
        if queries is not None:
            self.backup_status.start(queries)
        if queries is not None and queries.handles(GetProjectorStatus):
            self.tasks.submit(
                lambda: queries.ask(GetProjectorStatus()),
                self.on_projector_status,
                lambda exc: log.info("projector status unavailable: %r", exc),
            )

    def offer_sample_data(self, load: SampleLoader) -> None:
        """Ask whether to fill an empty database with sample orders; ``load(progress)`` runs
        in the background with a progress dialog."""
        if self.read_only:
            return
        self._sample_loader = load
        self._update_empty_desk_text()
        from desktop_app.ui import sample_data  # only for an empty desk, after the first paint

        sample_data.ask_to_load(self, lambda: self.load_sample_data(load))

    def load_sample_data(self, load: SampleLoader) -> None:
        """Run ``load`` behind a progress dialog, then refresh everything."""
        from desktop_app.ui import sample_data

        sample_data.load(self, self.tasks, load, self.refresh_all)

    def _update_empty_desk_text(self) -> None:
        self.orders.set_empty_desk_text(
            empty_state.empty_desk_text(
                sample_data=self._sample_loader is not None, read_only=self.read_only
            )
        )

    @Slot(str)
    def _start_requested(self, link: str) -> None:
        """A link of the empty desk's "how to start" text."""
        if link == empty_state.NEW_ORDER:
            self.action_new_order.trigger()
        elif link == empty_state.CUSTOMERS:
            self.action_customers.trigger()
        elif link == empty_state.PRODUCTS:
            self.action_products.trigger()
        elif link == empty_state.SAMPLE_DATA and self._sample_loader is not None:
            self.load_sample_data(self._sample_loader)

    # ------------------------------------------------------------------ slots

    @Slot(object)
    def on_projector_status(self, status: object) -> None:
        """A projector status arrived (GUI thread): update freshness, re-query on progress."""
        if isinstance(status, ProjectorStatus):
            self.status.show_projector_status(status)
            self.live.projector_status(status)

    @Slot(object)
    def _order_selected(self, order_id: str | None) -> None:
        row = self.orders.model.find_row(order_id) if order_id else None
        item = self.orders.model.row_at(row) if row is not None else None
        self.current.select(order_id, item.version if item is not None else None)

    @Slot(object)
    def _current_changed(self, order_id: str | None) -> None:
        self._update_print_actions()
        self.current_order_changed.emit(order_id)

    @Slot(str)
    def _order_changed_here(self, order_id: str) -> None:
        self.orders.refresh()
        if self.tabs.detail_panel is not None:
            self.current.changed_by(self.tabs.detail_panel, order_id)

    @Slot(str)
    def _order_created_here(self, order_id: str) -> None:
        """ "Order again" made a new order: select it in the list once the list has it."""
        self._pending_select = order_id
        self.statusBar().showMessage("Order placed.", 5000)
        self.orders.refresh()

    @Slot()
    def refresh_all(self) -> None:
        """Re-query the lists and re-read the selected order (F5)."""
        self.orders.refresh()
        self.orders.reload_customers()
        self.current.reload()

    def _show_tab(self, index: int) -> None:
        self.side_panel.show_panel()
        self.tabs.setCurrentIndex(index)
        self.tabs.build_tab(index)
        current = self.tabs.currentWidget()
        if current is not None:
            current.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_orders(self) -> None:
        self.orders.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    @Slot()
    def _select_pending(self) -> None:
        if self._pending_select and self.orders.select_order(self._pending_select):
            self._pending_select = None

    # ------------------------------------------------------------------ dialogs

    def _keep_open(self, dialog: QDialog) -> None:
        """Hold a reference to a non-blocking dialog until it closes."""
        self._open_dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._dialog_closed(d))

    def _dialog_closed(self, dialog: QDialog) -> None:
        if dialog in self._open_dialogs:
            self._open_dialogs.remove(dialog)

    @Slot()
    def new_order(self) -> None:
        """Order ▸ New order…"""
        self.new_order_for(None)

    def new_order_for(self, customer_id: str | None) -> None:
        """Open the New order form (with ``customer_id`` already chosen)."""
        from desktop_app.ui.orders.forms import NewOrderDialog

        if self.read_only or self.commands is None or self.queries is None:
            return
        dialog = NewOrderDialog(self.commands, self.queries, self.tasks, self)
        self._keep_open(dialog)
        if customer_id is not None:
            dialog.preselect_customer(customer_id)

        def finished(result: int) -> None:
            order_id = dialog.placed_order_id
            if result == QDialog.DialogCode.Accepted and order_id:
                self._pending_select = order_id
                self.statusBar().showMessage("Order placed.", 5000)
                self.orders.refresh()

        dialog.finished.connect(finished)
        dialog.open()

    @Slot()
    def open_customers(self) -> None:
        """Catalog ▸ Customers…"""
        from desktop_app.ui.catalog import CustomersDialog

        if self.commands is not None and self.queries is not None:
            self._open_catalog(CustomersDialog(self.commands, self.queries, self.tasks, self))

    @Slot()
    def open_products(self) -> None:
        """Catalog ▸ Products…"""
        from desktop_app.ui.catalog import ProductsDialog

        if self.commands is not None and self.queries is not None:
            self._open_catalog(ProductsDialog(self.commands, self.queries, self.tasks, self))

    def _open_catalog(self, dialog: QDialog) -> None:
        self._keep_open(dialog)
        dialog.finished.connect(lambda _r: self.refresh_all())
        dialog.open()

    @Slot()
    def show_about(self) -> None:
        """The About box; its facts (last anchor) are read fresh on a worker thread first."""
        from desktop_app.ui.about import fresh_store_info, open_about

        def show(info: StoreInfo) -> None:
            self.store_info = info
            open_about(self, info)

        fresh_store_info(self.queries, self.tasks, self.store_info, show)

    # ------------------------------------------------------------------ state

    def restore_state(self) -> None:
        """Geometry, splitter, panel widths, list columns and tab as the clerk left them."""
        window_state.restore(self, self._settings)

    def save_state(self) -> None:
        """Remember geometry, splitter, panel widths, list columns and tab."""
        window_state.save(self, self._settings)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        super().closeEvent(event)


__all__ = ["MainWindow", "explain"]


def _open_finding(window: MainWindow, finding: VerifyFinding) -> None:
    """Tools ▸ Verify's finding → the audit view at that event (module loaded when used)."""
    from desktop_app.ui.findings import open_finding

    open_finding(window, finding)
