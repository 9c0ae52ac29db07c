"""The main window's menu bar: File, Edit, View, Order, Catalog, Tools, Help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar

from desktop_app.ui.order_menu import OrderMenu

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

Entry = QAction | QMenu | None
"""A menu entry: an action, a submenu, or None for a separator."""


def _menu(bar: QMenuBar, title: str, name: str, entries: Sequence[Entry]) -> QMenu:
    menu = bar.addMenu(title)
    menu.setObjectName(name)
    for entry in entries:
        if entry is None:
            menu.addSeparator()
        elif isinstance(entry, QMenu):
            menu.addMenu(entry)
        else:
            menu.addAction(entry)
    return menu


def build_menu_bar(window: MainWindow) -> OrderMenu:
    """Fill ``window``'s menu bar from its actions; returns the Order menu (it follows the
    detail panel's actions)."""
    bar = window.menuBar()
    files, paper = window.files, window.paper
    _menu(
        bar,
        "&File",
        "menuFile",
        [
            window.action_new_order,
            None,
            files.action_new,
            files.action_open,
            files.action_connect,
            files.recent_menu,
            None,
            paper.action_export_csv,
            *paper.order_actions,
            paper.action_company,
            None,
            window.action_quit,
        ],
    )
    _menu(
        bar,
        "&Edit",
        "menuEdit",
        [window.action_find, window.action_refresh, None, window.command_palette.action],
    )
    _menu(
        bar,
        "&View",
        "menuView",
        [
            window.action_focus_orders,
            None,
            window.action_show_detail,
            window.action_show_history,
            window.action_show_snapshots,
            window.side_panel.action,
            None,
            window.audit.action,
            window.event_browser.action,
            window.as_of.action,
        ],
    )
    order_menu = OrderMenu(
        window, leading=(window.action_new_order,), trailing=(window.audit_bundle.action,)
    )
    bar.addMenu(order_menu)
    _menu(bar, "&Catalog", "menuCatalog", [window.action_customers, window.action_products])
    bar.addMenu(window.tools)
    _menu(bar, "&Help", "menuHelp", [window.action_about])
    return order_menu
