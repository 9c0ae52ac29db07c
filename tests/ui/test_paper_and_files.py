"""Paper and files in the window: CSV export of the list as shown (with progress, cancel and
no half files), print preview and PDF of an order confirmation and packing slip, company
details, File ▸ New/Open/recent databases, and the question before a database is created in a
folder that does not exist."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage

from desktop_app import __main__ as entry
from desktop_app.application.queries import GetOrder, ListOrders
from desktop_app.ui.files import DatabaseMenu, recent_databases, remember_database
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.orders.export_csv import CsvExport
from desktop_app.ui.printing.company_dialog import CompanyDialog
from desktop_app.ui.printing.documents import DocumentKind, document_html
from desktop_app.ui.printing.preview import preview_pages

from .conftest import ListedOrders, RealApp, open_real_window


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Company details go to tmp_path, never to the real user's settings folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def real_window(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, real_app: RealApp
) -> MainWindow:
    return open_real_window(qtbot, real_app, bridge, tasks, ui_settings, live=False)


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"), newline="")))


def _all_rows(queries: Any, query: ListOrders) -> list[Any]:
    import dataclasses

    page = queries.ask(dataclasses.replace(query, limit=10_000, offset=0))
    return list(page.rows)


# --- CSV export ---------------------------------------------------------------------------


def test_export_writes_the_list_as_shown(
    qtbot: Any, real_window: MainWindow, real_app: RealApp, tmp_path: Path
) -> None:
    model = real_window.orders.model
    with qtbot.waitSignal(model.loaded, timeout=10000):
        model.update_filter(statuses=frozenset({"delivered", "shipped"}), sort="total")
    target = tmp_path / "list.csv"
    export = real_window.paper.export_csv(target, bom=True)
    assert export is not None
    with qtbot.waitSignal(export.finished, timeout=20000) as done:
        pass
    expected = _all_rows(real_app.app.queries, model.current_query())
    assert done.args == [len(expected)] and expected
    rows = _csv(target)
    assert [r["Order number"] for r in rows] == [r.order_number for r in expected]
    assert {r["Status"] for r in rows} <= {"delivered", "shipped"}
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert str(len(expected)) in real_window.status.currentMessage()
    assert not list(tmp_path.glob(".*.part"))


def test_cancelled_export_leaves_no_file(
    qtbot: Any, tasks: Any, listed: Any, tmp_path: Path
) -> None:
    orders: ListedOrders = listed(12_000)
    target = tmp_path / "big.csv"
    export = CsvExport(orders, tasks, ListOrders(), target)
    export.cancel()  # before the first page: deterministic
    with qtbot.waitSignal(export.cancelled, timeout=20000):
        export.start()
    assert not target.exists() and not list(tmp_path.glob(".*.part"))


def test_export_of_a_large_list_pages_and_reports_progress(
    qtbot: Any, tasks: Any, listed: Any, tmp_path: Path
) -> None:
    orders: ListedOrders = listed(12_000)
    target = tmp_path / "big.csv"
    export = CsvExport(orders, tasks, ListOrders(sort="order_number", descending=False), target)
    seen: list[tuple[int, int]] = []
    original = export._on_progress

    def spy(done: int, total: int) -> None:
        seen.append((done, total))
        original(done, total)

    export._on_progress = spy  # type: ignore[method-assign]
    with qtbot.waitSignal(export.finished, timeout=30000) as done:
        export.start()
    assert done.args == [12_000]
    rows = _csv(target)
    assert len(rows) == 12_000
    assert rows[0]["Order number"] == "SO-000000" and rows[-1]["Order number"] == "SO-011999"
    with orders.lock:
        pages = [c for c in orders.calls if isinstance(c, ListOrders)]
    assert len(pages) == 2  # 10,000 + 2,000, keyset-paged
    assert pages[0].after is None and all(p.after for p in pages[1:])
    assert orders.gui_thread_calls == 0


def test_failed_export_says_why_and_leaves_no_file(
    qtbot: Any, real_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    from desktop_app.ui.orders import export_csv

    monkeypatch.setattr(export_csv.QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    target = tmp_path / "missing-folder" / "list.csv"
    export = real_window.paper.export_csv(target)
    assert export is not None
    with qtbot.waitSignal(export.failed, timeout=10000):
        pass
    assert shown and "No such file" in shown[0]
    assert not target.exists()


# --- printing -----------------------------------------------------------------------------


def _select_first(qtbot: Any, window: MainWindow) -> str:
    table = window.orders.table
    table.selectRow(0)
    qtbot.waitUntil(lambda: window.orders.current_order_id() is not None, timeout=5000)
    order_id = window.orders.current_order_id()
    assert order_id is not None
    return order_id


def test_print_actions_follow_the_selection_and_preview_renders_pages(
    qtbot: Any, real_window: MainWindow
) -> None:
    assert not real_window.paper.action_print_confirmation.isEnabled()
    _select_first(qtbot, real_window)
    assert real_window.paper.action_print_confirmation.isEnabled()
    assert real_window.paper.action_print_packing_slip.isEnabled()
    real_window.paper.action_print_packing_slip.trigger()
    qtbot.waitUntil(lambda: real_window.paper.printing.last_dialog is not None, timeout=10000)
    dialog = real_window.paper.printing.last_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: preview_pages(dialog) >= 1, timeout=5000)
    assert "Packing slip" in dialog.windowTitle()
    dialog.reject()


def test_save_confirmation_as_pdf(
    qtbot: Any, real_window: MainWindow, real_app: RealApp, tmp_path: Path
) -> None:
    logo = tmp_path / "logo.png"
    image = QImage(90, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("#2a7"))
    assert image.save(str(logo))
    dialog = CompanyDialog(real_window)
    qtbot.addWidget(dialog)
    dialog.name.setText("Kontor Nord GmbH")
    dialog.address.setPlainText("Hafenstraße 1\n20457 Hamburg")
    dialog.logo.setText(str(logo))
    dialog.save()
    assert dialog.result() == CompanyDialog.DialogCode.Accepted

    order_id = _select_first(qtbot, real_window)
    target = tmp_path / "confirmation.pdf"
    saved: list[Path] = []
    real_window.paper.printing.save_pdf(order_id, DocumentKind.CONFIRMATION, target, saved.append)
    qtbot.waitUntil(lambda: bool(saved), timeout=10000)
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and b"/Subtype /Image" in data
    detail = real_app.app.queries.ask(GetOrder(order_id=order_id))
    assert detail is not None


def test_documents_hold_the_order_and_escape_text(real_app: RealApp) -> None:
    from datetime import UTC, datetime

    from desktop_app.config import CompanyProfile

    page = real_app.app.queries.ask(ListOrders(statuses=frozenset({"shipped"}), limit=1))
    detail = real_app.app.queries.ask(GetOrder(order_id=page.rows[0].order_id))
    company = CompanyProfile(name="<Script> & Co", address="Line 1\nLine 2")
    now = datetime.now(UTC)
    confirmation = document_html(detail, DocumentKind.CONFIRMATION, company, printed_at=now)
    assert detail.order.order_number in confirmation
    assert "&lt;Script&gt; &amp; Co" in confirmation and "<Script>" not in confirmation
    for line in detail.lines:
        assert line.sku in confirmation
    assert "Total" in confirmation and "Unit price" in confirmation
    slip = document_html(detail, DocumentKind.PACKING_SLIP, company, printed_at=now)
    assert "Unit price" not in slip and "Packed" in slip
    assert detail.tracking_number and detail.tracking_number in slip


def test_company_dialog_refuses_bad_values_and_keeps_them(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "company.json"
    dialog = CompanyDialog(None, path)
    qtbot.addWidget(dialog)
    dialog.name.setText("   ")
    dialog.save()
    assert "company name" in dialog.error.text() and not path.exists()
    dialog.name.setText("Kontor")
    assert dialog.error.text() == ""  # the error goes when its cause is fixed
    not_an_image = tmp_path / "logo.png"
    not_an_image.write_text("no picture", encoding="utf-8")
    dialog.logo.setText(str(not_an_image))
    dialog.save()
    assert "not an image" in dialog.error.text() and not path.exists()
    assert dialog.name.text() == "Kontor"
    dialog.logo.setText("")
    dialog.save()
    assert json.loads(path.read_text("utf-8"))["name"] == "Kontor"


# --- databases ----------------------------------------------------------------------------


def test_recent_databases_and_open_requests(
    qtbot: Any, ui_settings: QSettings, tmp_path: Path
) -> None:
    first, second, gone = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "c.sqlite3"
    first.write_bytes(b"")
    second.write_bytes(b"")
    for path in (gone, second, first):
        remember_database(ui_settings, path)
    remember_database(ui_settings, second)  # again: moves to the front, not listed twice
    assert recent_databases(ui_settings) == [second, first, gone]

    from PySide6.QtWidgets import QWidget

    host = QWidget()
    qtbot.addWidget(host)
    menu = DatabaseMenu(host, ui_settings, None)
    menu.set_current(first)
    entries = [a for a in menu.recent_menu.actions() if a.data()]
    assert [Path(a.data()) for a in entries] == [second, gone]  # the current one is not listed
    assert entries[0].isEnabled() and not entries[1].isEnabled()
    with qtbot.waitSignal(menu.open_requested) as blocker:
        entries[0].trigger()
    assert blocker.args == [second, False]


def test_window_forwards_database_requests(qtbot: Any, real_window: MainWindow) -> None:
    target = Path("/tmp/elsewhere.sqlite3")
    with qtbot.waitSignal(real_window.database_requested) as blocker:
        real_window.files.request(target, create=True)
    assert blocker.args == [target, True]
    assert recent_databases(real_window._settings)[0] == Path(real_window.store_info.location)


def test_with_db_replaces_the_database_and_drops_read_only() -> None:
    argv = ["--db", "/a.sqlite3", "--read-only", "--no-sample-offer"]
    assert entry.with_db(argv, Path("/b.sqlite3")) == [
        "--no-sample-offer",
        "--db",
        "/b.sqlite3",
    ]


def test_a_missing_folder_is_asked_about_and_no_means_nothing_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop_app.config as config

    monkeypatch.setattr(config, "default_log_dir", lambda: tmp_path / "logs")
    path = tmp_path / "typo" / "orders.sqlite3"
    asked: list[str] = []

    def no(title: str, text: str) -> bool:
        asked.append(text)
        return False

    rc = entry.run(["--db", str(path)], ask=no, exec_loop=False, show_error=lambda *_: None)
    assert rc == 0 and asked and str(path.parent) in asked[0]
    assert not path.parent.exists()
    assert entry.missing_folder_question(tmp_path / "orders.sqlite3") is None
