"""R23 in the real window with real file permissions: a database file (or its folder) the user
cannot write opens read-only with a clear banner, editing switched off, the list, history and
verify working, and nothing written to the file.

Root ignores file modes, so the window runs in a subprocess
(``tests.fixtures.gui_read_only_probe``) that drops to uid 65534 when the tests run as root;
its logs and settings go to a home folder that user owns.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from desktop_app.store.read_model_file import read_model_path
from tests.fixtures.unprivileged import IS_ROOT, NOBODY, own, shared_dir

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 6


def _populate(path: Path) -> int:
    """A small demo database with the lists caught up (as ``desktop-app-admin demo`` leaves
    it, plus one projector run); returns the number of orders."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo

    app = bootstrap(Settings.default(path), source="test")
    try:
        summary = load_demo(app.commands, orders=ORDERS, seed=7, queries=app.queries)
        assert app.projector is not None
        app.projector.run_once()
        status = app.projector.status()
        assert status.checkpoint == status.head == app.events.head_position()
    finally:
        app.close()
    return int(summary.orders)


def _fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def _probe(path: Path, home: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "QT_"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.gui_read_only_probe", str(path), str(home)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    data["stderr"] = result.stderr
    if IS_ROOT:
        assert data["uid"] == NOBODY
    return data


def _layout(shared_dir: Path) -> tuple[Path, Path, int]:
    folder = shared_dir / "data"
    folder.mkdir(mode=0o700)
    path = folder / "orders.sqlite3"
    orders = _populate(path)
    lists = read_model_path(path)  # the read model's own file beside the database
    # no -wal/-shm left
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, lists.name])
    home = shared_dir / "home"
    home.mkdir(mode=0o700)
    own(folder, path, lists, home)
    return folder, path, orders


def _assert_read_only_window(data: dict[str, Any], orders: int, reason_word: str) -> None:
    assert "probe_error" not in data, data["probe_error"]
    assert data["rc"] == 0 and data["startup_errors"] == [], data
    # The list shows the orders (read through the read-only file).
    assert data["list_loaded"] is True and data["list_failed"] == []
    assert data["orders_shown"] == orders > 0
    assert data["order_count_label"] == f"{orders} orders"
    # The banner says read-only and why.
    assert data["read_only"] is True
    assert reason_word in str(data["reason"]), data["reason"]
    assert data["banner_visible"] is True
    assert "read-only" in data["banner_text"].lower()
    assert str(data["reason"]) in data["banner_text"]
    # Editing is off (menu actions and the order panel's actions); reading and verify are on.
    actions = data["actions"]
    assert actions["new_order"] is False and actions["rebuild"] is False, actions
    assert actions["verify"] is True and actions["refresh"] is True, actions
    assert actions["customers"] is True and actions["products"] is True, actions
    assert data["detail_read_only"] is True
    assert data["detail_actions_enabled"] == [], data["detail_actions_enabled"]
    # The history of an order loads and verify passes.
    assert data["history_events"] and data["history_events"] > 0
    assert data["verify_text"] and "intact" in data["verify_text"], data["verify_text"]
    # The status bar: read-only marker with the reason as tip, lists up to date.
    status = data["status"]
    assert status["read_only_visible"] is True and status["read_only_text"] == "Read-only"
    assert status["read_only_tooltip"] == data["reason"]
    assert status["freshness"].startswith("Up to date"), status
    assert data["status_after"]["freshness"].startswith("Up to date"), data["status_after"]
    assert data["error_boxes"] == [], data["error_boxes"]


@dataclass(frozen=True)
class Session:
    """One window session on a database the user cannot write, and what it left behind."""

    data: dict[str, Any]
    orders: int
    before: tuple[str, int, int]
    after: tuple[str, int, int]
    names_before: list[str]
    names_after: dict[str, int]  # name -> size, beside the database


def _session(make_read_only: str) -> Iterator[Session]:
    with shared_dir("orderdesk-r23-gui-") as base:
        folder, path, orders = _layout(base)
        if make_read_only == "backup":
            # A backup in place of the file: a rollback-journal file, as backups are made.
            from desktop_app.store.backup import create_backup

            made = create_backup(path, base / "made-backups").path
            os.replace(made, path)
            own(path)
            assert path.read_bytes()[18:20] == b"\x01\x01"
        names_before = sorted(p.name for p in folder.iterdir())
        if make_read_only in ("file", "backup"):
            os.chmod(path, 0o444)
        else:
            os.chmod(folder, 0o555)
        before = _fingerprint(path)
        data = _probe(path, base / "home")
        yield Session(
            data=data,
            orders=orders,
            before=before,
            after=_fingerprint(path),
            names_before=names_before,
            names_after={p.name: p.stat().st_size for p in folder.iterdir()},
        )


@pytest.fixture(scope="module")
def read_only_file() -> Iterator[Session]:
    """The file is 0444; its folder is writable by the user."""
    yield from _session("file")


@pytest.fixture(scope="module")
def read_only_folder() -> Iterator[Session]:
    """The folder is 0555; the file itself is writable by the user."""
    yield from _session("folder")


@pytest.fixture(scope="module")
def read_only_backup() -> Iterator[Session]:
    """A backup (not in WAL mode), 0444, in a folder writable by the user."""
    yield from _session("backup")


def test_r32_window_on_a_read_only_backup(read_only_backup: Session) -> None:
    """The GUI's read-only mode on a backup used to fail with "database is read-only": the
    open tried to switch the file to WAL."""
    s = read_only_backup
    _assert_read_only_window(s.data, s.orders, "file is read-only")
    assert s.after == s.before  # same bytes, same mtime: still a rollback-journal file
    # Nothing beside it either, but SQLite's (empty) WAL index of the read model's own file
    # (a WAL database read in a writable folder, as in the read-only file case): its lists
    # belong to this very log, so they are shown as they are; no change is ever in it.
    lists = "orders.readmodel.sqlite3"
    assert sorted(n for n in s.names_after if not n.startswith(lists + "-")) == s.names_before
    assert s.names_after.get(lists + "-wal", 0) == 0, s.names_after


def test_r23_window_on_a_read_only_file(read_only_file: Session) -> None:
    s = read_only_file
    _assert_read_only_window(s.data, s.orders, "file is read-only")
    assert "permission" in s.data["banner_text"]
    assert s.after == s.before  # same bytes, same mtime
    # SQLite may put its (empty) WAL index beside a WAL database in a writable folder; no
    # change is ever in it.
    assert s.names_after.get("orders.sqlite3-wal", 0) == 0, s.names_after


def test_r23_window_on_a_read_only_folder(read_only_folder: Session) -> None:
    s = read_only_folder
    _assert_read_only_window(s.data, s.orders, "folder holding the database is read-only")
    assert s.after == s.before  # same bytes, same mtime
    # Nothing created next to the file: no -wal, -shm, -journal or backups folder.
    assert sorted(s.names_after) == s.names_before
