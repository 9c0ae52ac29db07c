"""On a shared store, the History tab and the audit view's details show the database role
that wrote each event (recorded by the server, issue 10) beside the OS account; a file has no
such role and shows none."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.queries import GetOrderAudit
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.postgres.database import init_postgres
from desktop_app.ui.audit.canvas import card_title
from desktop_app.ui.audit.view import event_details
from desktop_app.ui.history import HistoryView
from desktop_app.ui.tasks import TaskRunner
from tests.integration.jobs.support import add_customer, add_product, place_order
from tests.pg_cluster import Login

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def tasks(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_idle()


def _origin(view: HistoryView) -> dict[str, str]:
    tree = view.details
    for i in range(tree.topLevelItemCount()):
        section = tree.topLevelItem(i)
        if section.text(0) == "Command and origin":
            return {
                section.child(j).text(0): section.child(j).text(1)
                for j in range(section.childCount())
            }
    return {}


def _story(app: App) -> str:
    order = place_order(app, add_customer(app), add_product(app))
    app.commands.dispatch(c.ConfirmOrder(order_id=order))
    return order


def _shown(qtbot, app: App, tasks: TaskRunner, order: str) -> HistoryView:
    view = HistoryView(app.queries, tasks)
    qtbot.addWidget(view)
    view.resize(1200, 720)
    with qtbot.waitSignal(view.history_loaded, timeout=20000):
        view.show_order(order)
    view.select_version(2)
    qtbot.waitUntil(lambda: _origin(view).get("User") is not None, timeout=20000)
    return view


def test_a_server_desk_shows_the_role_that_wrote_each_event(
    qtbot, tasks: TaskRunner, pg_url: str, pg_login: Login, tmp_path: Path
) -> None:
    roles = init_postgres(pg_url).roles
    maria_url = pg_login(pg_url, "maria", roles.clerk)
    role = maria_url.split("//", 1)[1].split("@", 1)[0]
    app = bootstrap(
        Settings.for_location(ServerLocation(maria_url), key_dir=tmp_path / "k"), source="test"
    )
    try:
        order = _story(app)
        history = app.queries.ask(q.GetOrderHistory(order_id=order))
        assert len(history) >= 2
        assert [entry.server_role for entry in history] == [role] * len(history)
        view = _shown(qtbot, app, tasks, order)
        origin = _origin(view)
        assert origin["Server role"] == role
        assert origin["User"] == history[1].metadata.user  # the OS account stays beside it
        tip = view.model.data(view.model.index(1, 0), Qt.ItemDataRole.ToolTipRole)
        assert f"(server role: {role})" in tip
        # The audit view: every event's role, shown in its details beside "Who".
        audit = app.queries.ask(GetOrderAudit(order_id=order))
        assert audit.server_roles == {entry.position: role for entry in history}
        first = audit.events[0]
        details = event_details(first, server_role=audit.server_roles[first.position])
        assert f"<b>Server role</b></td><td>{role}</td>" in details
        # … and on each card, after the OS account and host: "by maria on WS-3 as <role>".
        titles = [card_title(card, audit.server_roles) for card in audit.cards]
        assert titles and all(f" as {role}" in title for title in titles)
        assert all(f" as {role}" not in card_title(card) for card in audit.cards)
    finally:
        tasks.wait_idle()
        app.close()


def test_a_file_desk_shows_no_server_role(qtbot, tasks: TaskRunner, tmp_path: Path) -> None:
    app = bootstrap(Settings(db_path=tmp_path / "o.sqlite3", key_dir=tmp_path / "k"))
    try:
        order = _story(app)
        assert all(
            e.server_role is None for e in app.queries.ask(q.GetOrderHistory(order_id=order))
        )
        view = _shown(qtbot, app, tasks, order)
        assert "Server role" not in _origin(view)
        tip = view.model.data(view.model.index(1, 0), Qt.ItemDataRole.ToolTipRole)
        assert "server role" not in tip
        assert app.queries.ask(GetOrderAudit(order_id=order)).server_roles == {}
    finally:
        tasks.wait_idle()
        app.close()
