"""``--self-test`` and ``--version`` from source, as separate processes (the packaged bundle
runs the same code; CI runs it there: ``dist/OrderDesk/OrderDesk --self-test``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from desktop_app import __version__

ROOT = Path(__file__).resolve().parents[2]
OK_LINE = re.compile(
    r"self-test OK: (\d+) events, chain verified, 2 orders listed, window \d+x\d+, [\d.]+ s"
)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_self_test_passes_from_source_and_prints_one_line() -> None:
    done = _run(
        "-c", "from desktop_app.self_test import run_self_test; raise SystemExit(run_self_test())"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    match = OK_LINE.fullmatch(lines[0])
    assert match, lines[0]
    assert int(match.group(1)) >= 10


def test_launcher_answers_self_test_and_version() -> None:
    done = _run("packaging/launcher.py", "--self-test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert OK_LINE.fullmatch(done.stdout.strip()), done.stdout

    version = _run("packaging/launcher.py", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"Order Desk {__version__} (Python "), version.stdout
    assert "Qt 6." in version.stdout


def test_launcher_reports_first_paint_and_exits(tmp_path: Path) -> None:
    """The start-up probe the P7 measurement relies on, through the real GUI entry point."""
    home = str(tmp_path / "home")
    done = _run(
        "packaging/launcher.py",
        "--db",
        str(tmp_path / "orders.sqlite3"),
        "--no-sample-offer",
        env={
            "ORDER_DESK_EXIT_AFTER_FIRST_PAINT": "1",
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "XDG_DATA_HOME": home,
            "XDG_STATE_HOME": home,
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^first-paint epoch=\d+\.\d+", done.stdout, re.MULTILINE), done.stdout
