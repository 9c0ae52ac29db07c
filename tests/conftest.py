"""Top-level test set-up. Qt needs a platform before anything imports it: without one it aborts
the whole pytest process, so the offscreen platform is chosen here, first."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_configure(config: object) -> None:
    """Qt warnings fail the tests (``qt_log_level_fail``), except the offscreen platform's own
    notice that it cannot propagate size hints, which it prints whenever a window is shown."""
    config.addinivalue_line(  # type: ignore[attr-defined]
        "qt_log_ignore", r"This plugin does not support propagateSizeHints\(\)"
    )


def _private_data_home() -> None:
    """Snapshot keys live in the user's data folder: give the test run its own, so no test
    reads or leaves keys in the real one (subprocesses inherit it)."""
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="orderdesk-test-data-")
    os.environ["XDG_DATA_HOME"] = folder
    atexit.register(shutil.rmtree, folder, True)


_private_data_home()
