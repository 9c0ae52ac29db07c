"""The main window: orders list in the centre, Detail / History / Snapshots on the right,
menus with shortcuts for every action, a read-only banner and the status bar.

Everything that touches the database goes through the TaskRunner; the GUI thread only builds
queries/commands and shows the frozen results that come back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import (
    QByteArray,
    QElapsedTimer,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
    qVersion,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.commands import BackupNow, RebuildReadModels
from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import GetProjectorStatus, GetStoreInfo, VerifyHistory
from desktop_app.identity import app_version, os_user
from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import explain, show_error
from desktop_app.ui.files import DatabaseMenu
from desktop_app.ui.order_menu import OrderMenu
from desktop_app.ui.orders import empty_state
from desktop_app.ui.orders.export_csv import CsvExport
from desktop_app.ui.orders.export_csv import ask_target as ask_csv_target
from desktop_app.ui.orders.export_csv import report as report_csv
from desktop_app.ui.orders.list_view import OrdersListView
from desktop_app.ui.palette import PaletteController
from desktop_app.ui.printing.company_dialog import CompanyDialog
from desktop_app.ui.printing.documents import DocumentKind
from desktop_app.ui.printing.preview import OrderPrinting
from desktop_app.ui.side_panel import SidePanel
from desktop_app.ui.status import StatusBar
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

SETTINGS_ORG = "OrderDesk"
SETTINGS_APP = "Order Desk"

LIVE_REFRESH_INTERVAL_MS = 250
"""Live refreshes of the order list on projector progress: at most one per this interval."""


def _missing(module: str, what: str, error: BaseException | None = None) -> QWidget:
    """A clearly-labelled placeholder for a part of the window whose module is not there."""
    widget = QWidget()
    widget.setObjectName("placeholder:" + module)
    layout = QVBoxLayout(widget)
    if error is None or isinstance(error, ModuleNotFoundError):
        text = f"{what} is not available in this build (module {module} is missing)."
    else:
        text = f"{what} could not be loaded ({type(error).__name__}: {error}). See the log."
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("QLabel { color: palette(placeholder-text); }")
    layout.addWidget(label)
    return widget


_TAB_TITLES = {0: "&Detail", 1: "&History", 2: "Sna&pshots"}


def _lazy_stub(name: str) -> QWidget:
    """What a side tab holds until its panel is built (the first time it is shown)."""
    widget = QWidget()
    widget.setObjectName("lazyPanel:" + name)
    return widget


def _load(module: str, name: str) -> tuple[Any | None, BaseException | None]:
    """The class ``name`` from ``module`` (None and the error when it cannot be imported)."""
    try:
        return getattr(importlib.import_module(module), name), None
    except ModuleNotFoundError as exc:
        if exc.name and not module.startswith(exc.name) and exc.name != module:
            log.exception("importing %s failed", module)
        return None, exc
    except Exception as exc:  # a half-written module must not take the window down
        log.exception("importing %s failed", module)
        return None, exc


class MainWindow(QMainWindow):
    """The program's main window."""

    current_order_changed = Signal(object)
    database_requested = Signal(object, bool)
    """File ▸ New/Open: (path, create) — the entry point closes this database and opens it."""

    def __init__(
        self,
        commands: Any,
        queries: Any,
        bridge: Any,
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
        self._last_checkpoint: int | None = None
        # Live refreshes on projector progress: at most one per LIVE_REFRESH_INTERVAL_MS.
        self._live_refreshed = QElapsedTimer()
        self._live_refresh_timer = QTimer(self)
        self._live_refresh_timer.setSingleShot(True)
        self._live_refresh_timer.timeout.connect(self._live_refresh_now)
        self._pending_select: str | None = None
        self._current_version: int | None = None
        self._progress: QProgressDialog | None = None
        self._open_dialogs: list[QDialog] = []
        self.setWindowTitle(f"Order Desk — {store_info.location}")

        # --- centre: banner + splitter(list | tabs)
        self.orders = OrdersListView(queries, tasks, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("sideTabs")
        self.tabs.setDocumentMode(True)
        self.detail: QWidget = _lazy_stub("detail") if opening else self._build_detail()
        # History and Snapshots are built when first needed (their tab is shown, or the
        # ``history``/``snapshots`` attribute is read): importing and building them is a good
        # part of the start-up time (P5 first paint).
        self._history: QWidget | None = None
        self._snapshots: QWidget | None = None
        self._swapping_tab = False
        self.tabs.addTab(self.detail, "&Detail")
        self.tabs.addTab(_lazy_stub("history"), _TAB_TITLES[1])
        self.tabs.addTab(_lazy_stub("snapshots"), _TAB_TITLES[2])

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

        self._build_actions()
        self._build_paper_and_files()
        self.palette = PaletteController(self)
        self._build_menus()
        self.setTabOrder(self.orders.search, self.orders.status_filter)
        self.setTabOrder(self.orders.status_filter, self.orders.customer_filter)
        self.setTabOrder(self.orders.customer_filter, self.orders.table)
        self.setTabOrder(self.orders.table, self.tabs)

        # --- wiring
        self.orders.current_order_changed.connect(self._order_selected)
        self.orders.start_requested.connect(self._start_requested)
        self._sample_loader: Callable[[Callable[[int, int], None]], Any] | None = None
        self._update_empty_desk_text()
        self.orders.model.loaded.connect(self._select_pending)
        self.orders.model.refreshed.connect(self._select_pending)
        self.orders.model.refreshed.connect(self._follow_current_order)
        if bridge is not None:
            bridge.projector_status.connect(self.on_projector_status)
        if opening:
            for action in self.actions():
                if action is not self.action_quit and action is not self.action_about:
                    action.setEnabled(False)
            self.status.freshness.setText("Opening database…")
            self.orders.show_opening()
        else:
            self._wire_detail()

        self.resize(1280, 800)
        self.restore_state()
        self.tabs.currentChanged.connect(self._tab_changed)
        if self.tabs.currentIndex() in _TAB_TITLES and self.tabs.currentIndex() != 0:
            # The saved tab is a lazy panel: build it right after the window first paints.
            QTimer.singleShot(0, lambda: self._tab_changed(self.tabs.currentIndex()))

    # ------------------------------------------------------------------ opening

    def attach_application(self, commands: Any, queries: Any, store_info: StoreInfo) -> None:
        """The database is open: connect the buses, build the detail panel, apply read-only.
        Call :meth:`start` next."""
        self.commands = commands
        self.queries = queries
        self.store_info = store_info
        self.read_only = bool(store_info.read_only)
        self.opening = False
        self._update_empty_desk_text()
        self.setWindowTitle(f"Order Desk — {store_info.location}")
        self._remember_database()
        self.orders.set_queries(queries)
        self.status.set_store_info(store_info)
        self._show_read_only_banner()
        for action in self.actions():
            action.setEnabled(True)
        self._apply_read_only_to_actions()
        self._update_print_actions()
        stub = self.tabs.widget(0)
        self.detail = self._build_detail()
        current = self.tabs.currentIndex()
        self._swapping_tab = True
        try:
            self.tabs.removeTab(0)
            self.tabs.insertTab(0, self.detail, _TAB_TITLES[0])
            self.tabs.setCurrentIndex(current)
        finally:
            self._swapping_tab = False
        if stub is not None:
            stub.deleteLater()
        self._wire_detail()
        self._tab_changed(self.tabs.currentIndex())

    def _wire_detail(self) -> None:
        self.order_menu.set_panel(self.detail)
        self.palette.set_panel(self.detail)
        changed = getattr(self.detail, "order_changed", None)
        if changed is not None:
            changed.connect(self._order_changed_here)
        created = getattr(self.detail, "order_created", None)
        if created is not None:
            created.connect(self._order_created_here)
        setter = getattr(self.detail, "set_read_only", None)
        if self.read_only and callable(setter):
            setter(True)

    def _show_read_only_banner(self) -> None:
        reason = self.store_info.read_only_reason or "the database cannot be changed."
        self.banner.setText(
            "<b>Read-only:</b> " + reason + " You can look at orders, their history and "
            "snapshots, and verify the history; changes are switched off."
        )
        self.banner.setVisible(self.read_only)

    # ------------------------------------------------------------------ lazy panels

    @property
    def history(self) -> QWidget:
        """The History tab's panel (built on first use)."""
        if self._history is None:
            self._history = self._install_panel(1, self._build_history)
        return self._history

    @property
    def snapshots(self) -> QWidget:
        """The Snapshots tab's panel (built on first use)."""
        if self._snapshots is None:
            self._snapshots = self._install_panel(2, self._build_snapshots)
        return self._snapshots

    def _panels(self) -> list[QWidget]:
        """The side panels built so far (a panel not built yet has nothing to update)."""
        return [w for w in (self.detail, self._history, self._snapshots) if w is not None]

    def _install_panel(self, index: int, build: Callable[[], QWidget]) -> QWidget:
        widget = build()
        stub = self.tabs.widget(index)
        current = self.tabs.currentIndex()
        self._swapping_tab = True
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, _TAB_TITLES[index])
            self.tabs.setCurrentIndex(current)
        finally:
            self._swapping_tab = False
        if stub is not None:
            stub.deleteLater()
        order_id = self.orders.current_order_id()
        show = getattr(widget, "show_order", None)
        if order_id is not None and callable(show):
            try:
                show(order_id)
            except Exception:
                log.exception("%s.show_order failed", type(widget).__name__)
        return widget

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        if self._swapping_tab or self.opening:
            return  # (attach_application builds the current panel)
        if index == 1:
            _ = self.history
        elif index == 2:
            _ = self.snapshots

    # ------------------------------------------------------------------ building

    def _build_detail(self) -> QWidget:
        cls, err = _load("desktop_app.ui.orders.detail", "OrderDetailPanel")
        if cls is None:
            return _missing("desktop_app.ui.orders.detail", "The order detail panel", err)
        try:
            return cls(self.commands, self.queries, self.tasks, self)
        except Exception as exc:
            log.exception("OrderDetailPanel failed to build")
            return _missing("desktop_app.ui.orders.detail", "The order detail panel", exc)

    def _build_history(self) -> QWidget:
        cls, err = _load("desktop_app.ui.history", "HistoryView")
        if cls is None:
            return _missing("desktop_app.ui.history", "The history timeline", err)
        try:
            return cls(self.queries, self.tasks, self)
        except Exception as exc:
            log.exception("HistoryView failed to build")
            return _missing("desktop_app.ui.history", "The history timeline", exc)

    def _build_snapshots(self) -> QWidget:
        cls, err = _load("desktop_app.ui.snapshots", "SnapshotInspector")
        if cls is None:
            return _missing("desktop_app.ui.snapshots", "The snapshot inspector", err)
        try:
            return cls(self.commands, self.queries, self.tasks, self)
        except Exception as exc:
            log.exception("SnapshotInspector failed to build")
            return _missing("desktop_app.ui.snapshots", "The snapshot inspector", exc)

    def _action(
        self,
        name: str,
        text: str,
        shortcut: QKeySequence | str,
        slot: Callable[[], None],
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.action_new_order = self._action(
            "actionNewOrder", "&New order…", "Ctrl+N", self.new_order, "Place a new order"
        )
        self.action_quit = self._action("actionQuit", "&Quit", "Ctrl+Q", self.close)
        self.action_find = self._action(
            "actionFind", "&Find…", "Ctrl+F", self.orders.focus_search, "Search the orders"
        )
        self.action_refresh = self._action(
            "actionRefresh", "&Refresh", "F5", self.refresh_all, "Reload the lists"
        )
        self.action_show_detail = self._action(
            "actionShowDetail", "Order &detail", "Ctrl+1", lambda: self._show_tab(0)
        )
        self.action_show_history = self._action(
            "actionShowHistory", "Order &history", "Ctrl+2", lambda: self._show_tab(1)
        )
        self.action_show_snapshots = self._action(
            "actionShowSnapshots", "&Snapshots", "Ctrl+3", lambda: self._show_tab(2)
        )
        self.action_focus_orders = self._action(
            "actionFocusOrders", "Go to the &order list", "Ctrl+L", self._focus_orders
        )
        self.action_customers = self._action(
            "actionCustomers",
            "&Customers…",
            "Ctrl+Shift+U",
            self.open_customers,
            "Register and rename customers",
        )
        self.action_products = self._action(
            "actionProducts",
            "&Products…",
            "Ctrl+Shift+P",
            self.open_products,
            "Add products, change prices, discontinue",
        )
        self.action_verify = self._action(
            "actionVerifyHistory",
            "&Verify history…",
            "Ctrl+Shift+V",
            self.verify_history,
            "Recompute the tamper-evident hash chain of the whole history",
        )
        self.action_rebuild = self._action(
            "actionRebuildReadModels",
            "&Rebuild read models…",
            "Ctrl+Shift+R",
            self.rebuild_read_models,
            "Rebuild the order and catalog lists from the history",
        )
        self.action_backup = self._action(
            "actionBackupNow",
            "&Backup now",
            "Ctrl+Shift+B",
            self.backup_now,
            "Copy the database into the backups folder",
        )
        self.action_about = self._action("actionAbout", "&About Order Desk", "F1", self.show_about)
        self._apply_read_only_to_actions()

    def _build_paper_and_files(self) -> None:
        """File menu: databases (new, open, recent), CSV export, printing, company details."""
        self.files = DatabaseMenu(self, self._settings, None)
        if not self.opening:
            self._remember_database()
        self.files.open_requested.connect(self.database_requested)
        self.addAction(self.files.action_new)
        self.addAction(self.files.action_open)
        self.printing = OrderPrinting(self, lambda: self.queries, self.tasks)
        self.action_export_csv = self._action(
            "actionExportCsv",
            "&Export list as CSV…",
            "Ctrl+E",
            self.export_csv,
            "Write the order list as shown (filter, search and sort) to a CSV file",
        )
        self.action_print_confirmation = self._action(
            "actionPrintConfirmation",
            "&Print order confirmation…",
            QKeySequence.StandardKey.Print,
            lambda: self._print(DocumentKind.CONFIRMATION),
            "Preview and print the selected order's confirmation",
        )
        self.action_print_packing_slip = self._action(
            "actionPrintPackingSlip",
            "Print packing &slip…",
            "Ctrl+Alt+P",
            lambda: self._print(DocumentKind.PACKING_SLIP),
            "Preview and print the selected order's packing slip",
        )
        self.action_save_pdf = self._action(
            "actionSaveConfirmationPdf",
            "Save confirmation as P&DF…",
            "",
            self._save_pdf,
            "Save the selected order's confirmation as a PDF file",
        )
        self.action_company = self._action(
            "actionCompanyDetails",
            "Compan&y details…",
            "",
            self.edit_company,
            "The company name, address and logo printed on confirmations and slips",
        )
        self._order_print_actions = (
            self.action_print_confirmation,
            self.action_print_packing_slip,
            self.action_save_pdf,
        )
        for action in self._order_print_actions:
            action.setEnabled(False)

    def _remember_database(self) -> None:
        location = Path(self.store_info.location)
        if location.is_file():  # not an in-memory store or a server address
            self.files.set_current(location)

    def _update_print_actions(self) -> None:
        selected = self.orders.current_order_id() is not None and not self.opening
        for action in self._order_print_actions:
            action.setEnabled(selected)

    def _print(self, kind: DocumentKind) -> None:
        order_id = self.orders.current_order_id()
        if order_id is not None and self.queries is not None:
            self.printing.preview(order_id, kind)

    def _save_pdf(self) -> None:
        order_id = self.orders.current_order_id()
        if order_id is not None and self.queries is not None:
            self.printing.save_pdf(
                order_id,
                DocumentKind.CONFIRMATION,
                on_saved=lambda path: self.status.showMessage(f"Saved {path}", 8000),
            )

    def export_csv(self, target: Path | None = None, bom: bool = False) -> CsvExport | None:
        """Export the list as shown; asks for the file when ``target`` is None."""
        if self.queries is None:
            return None
        if target is None:
            chosen = ask_csv_target(self, self._settings)
            if chosen is None:
                return None
            target, bom = chosen
        export = CsvExport(
            self.queries,
            self.tasks,
            self.orders.model.current_query(),
            target,
            bom=bom,
            parent=self,
        )
        report_csv(self, export, lambda text: self.status.showMessage(text, 10000))
        export.start()
        return export

    def edit_company(self) -> None:
        """File ▸ Company details…"""
        dialog = CompanyDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _apply_read_only_to_actions(self) -> None:
        if self.read_only:
            why = "The database is open read-only."
            for action in (self.action_new_order, self.action_rebuild):
                action.setEnabled(False)
                action.setStatusTip(why)
                action.setToolTip(why)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.setObjectName("menuFile")
        file_menu.addAction(self.action_new_order)
        file_menu.addSeparator()
        file_menu.addAction(self.files.action_new)
        file_menu.addAction(self.files.action_open)
        file_menu.addMenu(self.files.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.action_export_csv)
        file_menu.addAction(self.action_print_confirmation)
        file_menu.addAction(self.action_print_packing_slip)
        file_menu.addAction(self.action_save_pdf)
        file_menu.addAction(self.action_company)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.setObjectName("menuEdit")
        edit_menu.addAction(self.action_find)
        edit_menu.addAction(self.action_refresh)
        edit_menu.addSeparator()
        edit_menu.addAction(self.palette.action)
        view_menu = bar.addMenu("&View")
        view_menu.setObjectName("menuView")
        view_menu.addAction(self.action_focus_orders)
        view_menu.addSeparator()
        view_menu.addAction(self.action_show_detail)
        view_menu.addAction(self.action_show_history)
        view_menu.addAction(self.action_show_snapshots)
        view_menu.addAction(self.side_panel.action)
        self.order_menu = OrderMenu(self, leading=(self.action_new_order,))
        bar.addMenu(self.order_menu)
        catalog_menu = bar.addMenu("&Catalog")
        catalog_menu.setObjectName("menuCatalog")
        catalog_menu.addAction(self.action_customers)
        catalog_menu.addAction(self.action_products)
        tools_menu = bar.addMenu("&Tools")
        tools_menu.setObjectName("menuTools")
        tools_menu.addAction(self.action_verify)
        tools_menu.addAction(self.action_rebuild)
        tools_menu.addSeparator()
        tools_menu.addAction(self.action_backup)
        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("menuHelp")
        help_menu.addAction(self.action_about)

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        """First loads (through the TaskRunner); call once the window is shown."""
        self.orders.start()
        if self.queries is not None and _handles(self.queries, GetProjectorStatus):
            queries = self.queries
            self.tasks.submit(
                lambda: queries.ask(GetProjectorStatus()),
                self.on_projector_status,
                lambda exc: log.info("projector status unavailable: %r", exc),
            )

    def offer_sample_data(self, load: Callable[[Callable[[int, int], None]], Any]) -> None:
        """Ask whether to fill an empty database with sample orders; ``load(progress)`` runs
        in the background with a progress dialog."""
        if self.read_only:
            return
        self._sample_loader = load
        self._update_empty_desk_text()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Load sample data?",
            "This database has no orders yet.\n\nLoad a set of realistic sample customers, "
            "products and orders so you can try Order Desk out? You can start a fresh "
            "database later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("sampleDataQuestion")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes:
                self.load_sample_data(load)

        box.finished.connect(answered)
        box.open()

    def load_sample_data(self, load: Callable[[Callable[[int, int], None]], Any]) -> None:
        self._run_with_progress(
            "Loading sample data…",
            load,
            lambda summary: self._sample_loaded(summary),
            context="The sample data could not be loaded.",
        )

    def _sample_loaded(self, summary: Any) -> None:
        orders = getattr(summary, "orders", None)
        text = (
            f"Loaded {fmt.format_int(orders)} sample orders."
            if isinstance(orders, int)
            else "Sample data loaded."
        )
        self.statusBar().showMessage(text, 8000)
        self.refresh_all()

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
        self.status.show_projector_status(status)
        checkpoint = getattr(status, "checkpoint", None)
        if checkpoint is not None and checkpoint != self._last_checkpoint:
            first = self._last_checkpoint is None
            self._last_checkpoint = checkpoint
            if not first:
                self._live_refresh()

    def _live_refresh(self) -> None:
        """Re-query the order list for projector progress, at most once per
        ``LIVE_REFRESH_INTERVAL_MS``: the first change at once, later ones folded into one
        refresh at the end of the interval (so the last state is always shown).

        While the projector catches up a status arrives after every batch (10-15 a second);
        each refresh means a query and a repaint of the table on the GUI thread while the
        projector competes for the GIL and the CPU (P5: no GUI-thread stall > 50 ms)."""
        if self._live_refresh_timer.isActive():
            return  # already due
        if self._live_refreshed.isValid():
            wait = LIVE_REFRESH_INTERVAL_MS - self._live_refreshed.elapsed()
            if wait > 0:
                self._live_refresh_timer.start(int(wait))
                return
        self._live_refresh_now()

    @Slot()
    def _live_refresh_now(self) -> None:
        self._live_refreshed.start()
        self.orders.refresh()

    @Slot()
    def _follow_current_order(self) -> None:
        """After a live refresh: when the selected order changed (here or in another
        program), the side panels re-read it."""
        order_id = self.orders.current_order_id()
        if order_id is None:
            return
        row = self.orders.model.find_row(order_id)
        item = self.orders.model.row_at(row) if row is not None else None
        if item is None or item.version == self._current_version:
            return
        first = self._current_version is None
        self._current_version = item.version
        if first:
            return
        for widget in self._panels():
            refresh = getattr(widget, "refresh", None)
            if callable(refresh):
                refresh()

    @Slot(object)
    def _order_selected(self, order_id: str | None) -> None:
        row = self.orders.model.find_row(order_id) if order_id else None
        item = self.orders.model.row_at(row) if row is not None else None
        self._current_version = item.version if item is not None else None
        for widget in self._panels():
            show = getattr(widget, "show_order", None)
            if callable(show):
                try:
                    show(order_id)
                except Exception:
                    log.exception("%s.show_order failed", type(widget).__name__)
        self._update_print_actions()
        self.current_order_changed.emit(order_id)

    @Slot(str)
    def _order_changed_here(self, order_id: str) -> None:
        self.orders.refresh()
        if order_id == self.orders.current_order_id():
            self._current_version = None  # the detail panel is current; refresh the others
            for widget in self._panels()[1:]:
                refresh = getattr(widget, "refresh", None)
                if callable(refresh):
                    refresh()

    @Slot(str)
    def _order_created_here(self, order_id: str) -> None:
        """ "Order again" made a new order: select it in the list once the list has it."""
        self._pending_select = order_id
        self.statusBar().showMessage("Order placed.", 5000)
        self.orders.refresh()

    @Slot()
    def refresh_all(self) -> None:
        self.orders.refresh()
        self.orders.reload_customers()
        for widget in self._panels():
            refresh = getattr(widget, "refresh", None)
            if callable(refresh):
                refresh()

    def _show_tab(self, index: int) -> None:
        self.side_panel.show_panel()
        self.tabs.setCurrentIndex(index)
        self._tab_changed(index)
        self.tabs.currentWidget().setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_orders(self) -> None:
        self.orders.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    @Slot()
    def _select_pending(self) -> None:
        if self._pending_select and self.orders.select_order(self._pending_select):
            self._pending_select = None

    # ------------------------------------------------------------------ dialogs

    def _open_dialog(self, module: str, name: str, what: str, *args: Any) -> QDialog | None:
        cls, err = _load(module, name)
        if cls is None:
            QMessageBox.information(
                self,
                what,
                f"{what} is not available in this build ({module} is missing)."
                if err is None or isinstance(err, ModuleNotFoundError)
                else f"{what} could not be loaded: {err}",
            )
            return None
        dialog = cls(*args, self)
        self._open_dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._dialog_closed(d))
        return dialog

    def _dialog_closed(self, dialog: QDialog) -> None:
        if dialog in self._open_dialogs:
            self._open_dialogs.remove(dialog)

    @Slot()
    def new_order(self) -> None:
        self.new_order_for(None)

    def new_order_for(self, customer_id: str | None) -> None:
        """Open the New order form (with ``customer_id`` already chosen)."""
        if self.read_only:
            return
        dialog = self._open_dialog(
            "desktop_app.ui.orders.forms",
            "NewOrderDialog",
            "The new-order form",
            self.commands,
            self.queries,
            self.tasks,
        )
        if dialog is None:
            return
        if customer_id is not None:
            dialog.preselect_customer(customer_id)

        def finished(result: int) -> None:
            order_id = getattr(dialog, "placed_order_id", None)
            if result == QDialog.DialogCode.Accepted and order_id:
                self._pending_select = order_id
                self.statusBar().showMessage("Order placed.", 5000)
                self.orders.refresh()

        dialog.finished.connect(finished)
        dialog.open()

    @Slot()
    def open_customers(self) -> None:
        dialog = self._open_dialog(
            "desktop_app.ui.catalog",
            "CustomersDialog",
            "Customers",
            self.commands,
            self.queries,
            self.tasks,
        )
        if dialog is not None:
            dialog.finished.connect(lambda _r: self.refresh_all())
            dialog.open()

    @Slot()
    def open_products(self) -> None:
        dialog = self._open_dialog(
            "desktop_app.ui.catalog",
            "ProductsDialog",
            "Products",
            self.commands,
            self.queries,
            self.tasks,
        )
        if dialog is not None:
            dialog.finished.connect(lambda _r: self.refresh_all())
            dialog.open()

    # ------------------------------------------------------------------ tools

    def _run_with_progress(
        self,
        title: str,
        fn: Callable[[Callable[[int, int], None]], Any],
        on_done: Callable[[Any], None],
        *,
        context: str,
    ) -> None:
        progress = QProgressDialog(title, "", 0, 0, self)
        progress.setObjectName("progressDialog")
        progress.setWindowTitle("Order Desk")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.setValue(0)
        progress.show()
        self._progress = progress

        def on_progress(done: int, total: int) -> None:
            if total > 0:
                progress.setMaximum(min(total, 2**31 - 1))
                progress.setValue(min(done, 2**31 - 1))
                progress.setLabelText(f"{title}\n{fmt.format_int(done)} of {fmt.format_int(total)}")

        def finish() -> None:
            progress.close()
            progress.deleteLater()
            if self._progress is progress:
                self._progress = None

        def done(result: Any) -> None:
            finish()
            on_done(result)

        def failed(exc: BaseException) -> None:
            finish()
            show_error(self, exc, context=context)

        self.tasks.submit(fn, done, failed, on_progress)

    @Slot()
    def verify_history(self) -> None:
        queries = self.queries
        self._run_with_progress(
            "Verifying the history…",
            lambda progress: queries.ask(VerifyHistory(progress=progress)),
            self._verified,
            context="The history could not be verified.",
        )

    def _verified(self, result: Any) -> None:
        box = QMessageBox(self)
        box.setObjectName("verifyResult")
        box.setWindowTitle("Verify history")
        chain_ok = result.first_bad_position is None and result.problem is None
        if result.ok:
            box.setIcon(QMessageBox.Icon.Information)
            box.setText(
                f"The history is intact: {fmt.format_int(result.checked)} events checked, "
                "every hash matches"
                + (", every event is legal and every snapshot true." if result.semantic else ".")
            )
            box.setInformativeText(
                f"Last event #{fmt.format_int(result.head_position)}\nHead hash {result.head_hash}"
                + "".join(f"\n\n{note}" for note in result.notes)
            )
        elif chain_ok:
            box.setIcon(QMessageBox.Icon.Critical)
            box.setText(
                f"The history holds {fmt.format_int(result.finding_count)} event(s) or "
                "snapshot(s) that the program could not have written."
            )
            lines = [finding.describe() for finding in result.findings[:20]]
            if result.finding_count > len(lines):
                lines.append(f"… and {fmt.format_int(result.finding_count - len(lines))} more")
            box.setInformativeText(
                "Every hash matches, so these were written into the file with the chain "
                "recomputed:\n\n" + "\n".join(lines) + "\n\nKeep this file for investigation."
            )
        else:
            box.setIcon(QMessageBox.Icon.Critical)
            where = (
                f"at event #{fmt.format_int(result.first_bad_position)}"
                if result.first_bad_position is not None
                else ""
            )
            box.setText(f"The history has been altered {where}.".replace("  ", " "))
            # Without a position (an anchor kept outside the file no longer holds) nothing
            # can be said about which part is intact.
            intact = (
                "Everything before that position is intact. "
                if result.first_bad_position is not None
                else ""
            )
            box.setInformativeText(
                (result.problem or "A stored hash does not match its event.")
                + "\n\n"
                + intact
                + "Keep this file for investigation and restore a backup to continue working."
            )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    @Slot()
    def rebuild_read_models(self) -> None:
        if self.read_only:
            return
        answer = QMessageBox.question(
            self,
            "Rebuild read models",
            "Rebuild the order and catalog lists from the complete history?\n\n"
            "The history itself is not changed. The lists may be incomplete until it finishes.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.start_rebuild()

    def start_rebuild(self) -> None:
        commands = self.commands
        self._run_with_progress(
            "Rebuilding the lists from the history…",
            lambda progress: commands.run_maintenance(RebuildReadModels(progress=progress)),
            self._rebuilt,
            context="The lists could not be rebuilt.",
        )

    def _rebuilt(self, applied: Any) -> None:
        self.statusBar().showMessage(
            f"Lists rebuilt from {fmt.format_int(int(applied))} events.", 8000
        )
        self.refresh_all()

    @Slot()
    def backup_now(self) -> None:
        commands = self.commands
        self.statusBar().showMessage("Taking a backup…")
        self.action_backup.setEnabled(False)

        def done(path: Any) -> None:
            self.action_backup.setEnabled(True)
            self.statusBar().clearMessage()
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Backup now",
                f"The backup was saved:\n{path}",
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("backupResult")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

        def failed(exc: BaseException) -> None:
            self.action_backup.setEnabled(True)
            self.statusBar().clearMessage()
            show_error(self, exc, context="The backup was not taken.")

        self.tasks.submit(lambda: commands.run_maintenance(BackupNow()), done, failed)

    def about_text(self) -> str:
        details = dict(self.store_info.details or {})
        # The store reports its engine's version; the UI does not ask the driver itself.
        sqlite_version = details.get("sqlite_version", "unknown")
        mode = "read-only" if self.read_only else "read and write"
        rows = [
            ("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
            ("SQLite", sqlite_version),
            ("Python", platform.python_version()),
            ("Database", _escape(self.store_info.location)),
            ("File format", f"{self.store_info.schema_version} ({mode})"),
        ]
        anchor = details.get("last_anchor")
        if anchor:
            rows.append(("Last anchor", _escape(str(anchor))))
        if details.get("snapshots"):
            rows.append(("Snapshots", _escape(details["snapshots"])))
        table = "".join(
            f"<tr><td style='padding-right:12px'><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows
        )
        return (
            f"<h3>Order Desk {app_version()}</h3>"
            "<p>Sales orders with a complete, verifiable history.</p>"
            f"<table cellspacing='0' cellpadding='2'>{table}</table>"
        )

    @Slot()
    def show_about(self) -> None:
        """The About box; its facts (last anchor) are read fresh on a worker thread first."""
        queries = self.queries
        if queries is None or not _handles(queries, GetStoreInfo):
            self._open_about()
            return

        def done(info: object) -> None:
            anchor = info.details.get("last_anchor") if isinstance(info, StoreInfo) else None
            if anchor:
                details = {**self.store_info.details, "last_anchor": anchor}
                self.store_info = dataclasses.replace(self.store_info, details=details)
            self._open_about()

        def failed(exc: BaseException) -> None:
            log.warning("store info for the About box failed: %s", exc)
            self._open_about()

        self.tasks.submit(lambda: queries.ask(GetStoreInfo()), done, failed)

    def _open_about(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle("About Order Desk")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setIcon(QMessageBox.Icon.Information)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ------------------------------------------------------------------ state

    def restore_state(self) -> None:
        s = self._settings
        geometry = s.value("mainWindow/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("mainWindow/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        splitter = s.value("mainWindow/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
            self.side_panel.restore(s, "mainWindow/panelWidths")
            QTimer.singleShot(0, self.side_panel.settle)
        else:
            QTimer.singleShot(0, self._default_split)
        header = s.value("mainWindow/ordersHeader")
        if isinstance(header, QByteArray) and not header.isEmpty():
            h = self.orders.table.horizontalHeader()
            h.restoreState(header)
            # The saved sort indicator is the clerk's last sort: apply it to the query.
            self.orders.model.sort(h.sortIndicatorSection(), h.sortIndicatorOrder())
        tab = s.value("mainWindow/tab")
        with contextlib.suppress(TypeError, ValueError):
            self.tabs.setCurrentIndex(int(tab) if tab is not None else 0)

    def _default_split(self) -> None:
        self.side_panel.default_split()

    def save_state(self) -> None:
        s = self._settings
        s.setValue("mainWindow/geometry", self.saveGeometry())
        s.setValue("mainWindow/state", self.saveState())
        s.setValue("mainWindow/splitter", self.splitter.saveState())
        self.side_panel.save(s, "mainWindow/panelWidths")
        s.setValue("mainWindow/ordersHeader", self.orders.table.horizontalHeader().saveState())
        s.setValue("mainWindow/tab", self.tabs.currentIndex())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        super().closeEvent(event)


def _handles(queries: Any, query_type: type) -> bool:
    handles = getattr(queries, "handles", None)
    return bool(handles(query_type)) if callable(handles) else True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["MainWindow", "explain"]
