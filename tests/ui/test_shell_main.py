"""``desktop_app.__main__``: the open path (R21 damaged/foreign/empty files refused with a clear
message, file untouched, non-zero exit; R23/R24 read-only and newer files open read-only with a
banner), a clean start and shutdown, the exception hook and formatting helpers."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale, QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app import __main__ as entry
from desktop_app.ui import formatting as fmt


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs and QSettings go to tmp_path, never to the real user's folders."""
    import desktop_app.config as config

    monkeypatch.setattr(config, "default_log_dir", lambda: tmp_path / "logs")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    before = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers:
        if handler not in before:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _run(argv: list[str], **kw: Any) -> tuple[int, list[tuple[str, str]]]:
    shown: list[tuple[str, str]] = []
    rc = entry.run(argv, show_error=lambda t, m: shown.append((t, m)), exec_loop=False, **kw)
    return rc, shown


def _foreign_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount TEXT)")
    con.execute("INSERT INTO invoices (amount) VALUES ('12.50')")
    con.commit()
    con.close()


BAD_FILES = {
    "empty": lambda p: p.write_bytes(b""),
    "random": lambda p: p.write_bytes(os.urandom(8192)),
    "truncated_sqlite": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x10\x00" + b"\0" * 50),
    "foreign": _foreign_db,
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_is_refused_with_a_message_and_left_untouched(
    qtbot: Any, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "orders.sqlite3"
    BAD_FILES[kind](path)
    before = path.read_bytes()
    names_before = sorted(p.name for p in tmp_path.iterdir())
    rc, shown = _run(["--db", str(path)])
    assert rc == entry.EXIT_OPEN_FAILED
    assert len(shown) == 1
    title, text = shown[0]
    assert "cannot open" in title
    assert str(path) in text
    assert "has not changed" in text
    assert str(tmp_path / "backups") in text
    assert path.read_bytes() == before
    after = sorted(p.name for p in tmp_path.iterdir() if p.name != "logs")
    assert after == [n for n in names_before if n != "logs"]  # no -wal / -shm created
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_startup_error_box_is_shown_and_can_be_closed(qtbot: Any, tmp_path: Path) -> None:
    """The real message box path: auto-closed by a timer, exit code still non-zero."""
    from PySide6.QtCore import QTimer

    path = tmp_path / "orders.sqlite3"
    path.write_bytes(b"")
    seen: list[str] = []

    def close_box() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.done(0)
        else:
            QTimer.singleShot(20, close_box)

    QTimer.singleShot(20, close_box)
    rc = entry.run(["--db", str(path)], exec_loop=False)
    assert rc == entry.EXIT_OPEN_FAILED
    assert seen and "empty" in seen[0]
    assert path.read_bytes() == b""


def test_open_error_messages_name_the_problem() -> None:
    backups = Path("/data/backups")
    for kind in ("corrupt", "empty", "not_sqlite", "foreign", "no_access", "unavailable"):
        _title, text = entry.open_error_message(kind, Path("/data/orders.sqlite3"), "", backups)
        assert "/data/orders.sqlite3" in text and "has not changed" in text
        assert str(backups) in text, kind
    _t, text = entry.open_error_message("foreign", Path("/x.db"), "", backups)
    assert "another program" in text


def test_fresh_database_starts_and_shuts_down_cleanly(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "new" / "orders.sqlite3"
    windows: list[Any] = []

    def on_window(window: Any) -> None:
        windows.append(window)
        qtbot.waitUntil(lambda: window.orders.model.has_loaded, timeout=10000)
        assert not window.banner.isVisible()
        assert window.action_new_order.isEnabled()
        # An empty database: the sample-data offer is on screen.
        box = window.findChild(QMessageBox, "sampleDataQuestion")
        assert box is not None and box.isVisible()
        box.done(QMessageBox.StandardButton.No)

    asked: list[str] = []

    def yes(_title: str, text: str) -> bool:  # the folder "new" does not exist yet
        asked.append(text)
        return True

    rc, shown = _run(["--db", str(path)], on_window=on_window, ask=yes)
    assert rc == 0 and not shown and len(asked) == 1
    assert windows
    assert path.exists()
    assert (tmp_path / "logs" / "order-desk.log").exists()
    # Nothing left running: the TaskRunner was drained, the database closed.
    con = sqlite3.connect(path)
    con.execute("BEGIN IMMEDIATE")
    con.rollback()
    con.close()


def test_read_only_flag_opens_with_banner(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    rc, _ = _run(["--db", str(path), "--no-sample-offer"])
    assert rc == 0
    seen: dict[str, Any] = {}

    def on_window(window: Any) -> None:
        seen["banner"] = window.banner.isVisible()
        seen["text"] = window.banner.text()
        seen["new_order"] = window.action_new_order.isEnabled()
        seen["status"] = window.status.read_only.isVisible()
        seen["offer"] = window.findChild(QMessageBox, "sampleDataQuestion")

    rc, shown = _run(["--db", str(path), "--read-only"], on_window=on_window)
    assert rc == 0 and not shown
    assert seen["banner"] and seen["status"] and not seen["new_order"]
    assert "read-only" in seen["text"].lower()
    assert seen["offer"] is None


def test_newer_file_opens_read_only(qtbot: Any, tmp_path: Path) -> None:
    from desktop_app.store.schema import SCHEMA_VERSION

    path = tmp_path / "orders.sqlite3"
    assert _run(["--db", str(path), "--no-sample-offer"])[0] == 0
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.commit()
    con.close()
    seen: dict[str, Any] = {}

    def on_window(window: Any) -> None:
        seen["banner"] = window.banner.isVisible()
        seen["text"] = window.banner.text()
        seen["new_order"] = window.action_new_order.isEnabled()

    rc, shown = _run(["--db", str(path)], on_window=on_window)
    assert rc == 0 and not shown
    assert seen["banner"] and not seen["new_order"]
    assert "newer version" in seen["text"]


def _filled_db(path: Path, events: int = 6) -> None:
    from desktop_app.application import commands as c
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    app = bootstrap(Settings(db_path=path), source="test")
    try:
        product = app.commands.dispatch(
            c.AddProduct(sku="A-1", name="Anchor", price=Decimal("1.00"), currency="EUR")
        ).aggregate_id
        for i in range(events - 1):
            app.commands.dispatch(
                c.ChangeProductPrice(product_id=product, price=Decimal(200 + i) / 100)
            )
    finally:
        app.close()


def test_clean_exit_anchors_the_head_outside_the_database(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R28: closing the program writes the chain head to the anchor log in the data folder."""
    from desktop_app.config import Settings
    from desktop_app.store.anchors import read_anchor_log

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    path = tmp_path / "orders.sqlite3"
    _filled_db(path)
    log = Settings(db_path=path).anchor_log
    assert [a.reason for a in read_anchor_log(log)[0]] == ["created"]

    rc, shown = _run(["--db", str(path), "--no-sample-offer"])

    assert rc == 0 and not shown
    last = read_anchor_log(log)[0][-1]
    assert last.reason == "exit" and last.db_path == str(path)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        head = con.execute("SELECT position, hash FROM events ORDER BY position DESC").fetchone()
    finally:
        con.close()
    assert (last.head_position, last.head_hash) == (head[0], head[1]) == (6, head[1])


def test_missing_trigger_opens_read_only_and_says_why(qtbot: Any, tmp_path: Path) -> None:
    """R29: the read-only mode (banner and status bar) names the missing trigger."""
    path = tmp_path / "orders.sqlite3"
    _filled_db(path)
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER events_no_delete")
    con.commit()
    con.close()
    seen: dict[str, Any] = {}

    def on_window(window: Any) -> None:
        seen["banner"] = window.banner.isVisible()
        seen["text"] = window.banner.text()
        seen["status"] = window.status.read_only.toolTip()
        seen["new_order"] = window.action_new_order.isEnabled()

    rc, shown = _run(["--db", str(path)], on_window=on_window)
    assert rc == 0 and not shown
    assert seen["banner"] and not seen["new_order"]
    assert "trigger events_no_delete is missing" in seen["text"]
    assert "trigger events_no_delete is missing" in seen["status"]
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    finally:
        con.close()
    assert "events_no_delete" not in names  # shown as it is, never silently put back


def test_import_runs_nothing() -> None:
    import importlib

    module = importlib.reload(entry)
    assert callable(module.main)


def test_exception_hook_logs_and_shows_a_dialog(qtbot: Any, caplog: Any) -> None:
    from desktop_app.ui.errors import ExceptionHook

    hook = ExceptionHook()
    hook.install()
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        qtbot.waitUntil(
            lambda: any(
                isinstance(w, QMessageBox) and w.objectName() == "unexpectedErrorDialog"
                for w in QApplication.topLevelWidgets()
            ),
            timeout=30000,
        )
        box = next(
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "unexpectedErrorDialog"
        )
        assert "boom" in box.text() and "safe" in box.text()
        box.done(0)
    finally:
        hook.uninstall()
    assert hook.count == 1
    assert any("boom" in r.getMessage() or "boom" in (r.exc_text or "") for r in caplog.records)


def test_formatting_round_trips() -> None:
    original = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    try:
        assert fmt.format_minor(123456, "EUR") == "1.234,56 €"
        assert fmt.format_int(48213) == "48.213"
        assert fmt.parse_amount("1.234,50", "EUR") == Decimal("1234.50")
        assert fmt.parse_amount("4,5") == Decimal("4.5")
    finally:
        QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    try:
        assert fmt.format_minor(-5, "EUR") == "-0.05 €"
        assert fmt.format_minor(500, "JPY") == "500 ¥"
        assert fmt.parse_amount("1,234.50", "EUR") == Decimal("1234.50")
        with pytest.raises(fmt.ParseError, match="decimal places"):
            fmt.parse_amount("1.234", "EUR")
        with pytest.raises(fmt.ParseError, match="not an amount"):
            fmt.parse_amount("12abc")
        with pytest.raises(fmt.ParseError):
            fmt.parse_amount("NaN")
        assert fmt.parse_quantity(" 3 ") == 3
        for bad in ("0", "-1", "2.5", "", "x", "99999999999999999999"):
            with pytest.raises(fmt.ParseError):
                fmt.parse_quantity(bad)
    finally:
        QLocale.setDefault(original)


def test_start_up_objects_are_frozen_out_of_the_cyclic_gc() -> None:
    """P5: full collections during catch-up must not walk every start-up object."""
    import gc

    assert gc.isenabled()
    try:
        entry.freeze_start_up_objects()
        assert gc.get_freeze_count() > 1000
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_the_cyclic_gc_is_off_during_start_up_and_on_again_after(tmp_path: Path) -> None:
    """P7: no collector passes over the start-up objects before the first paint; it is back on
    once the start is over (freeze_start_up_objects, or the end of the run)."""
    import gc

    seen: list[bool] = []
    try:
        rc = entry.run(
            ["--db", str(tmp_path / "orders.sqlite3")],
            exec_loop=False,
            on_window=lambda _window: seen.append(gc.isenabled()),
        )
    finally:
        gc.unfreeze()
    assert rc == 0
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        entry.freeze_start_up_objects()
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
