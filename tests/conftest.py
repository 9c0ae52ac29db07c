"""Top-level test set-up. Qt needs a platform before anything imports it: without one it aborts
the whole pytest process, so the offscreen platform is chosen here, first."""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The anchor log (R28) lives in the user's data folder: every test run, and every process it
# starts, gets a throwaway one instead of the real user's.
_DATA_HOME = tempfile.mkdtemp(prefix="order-desk-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME


def pytest_configure(config: object) -> None:
    """Qt warnings fail the tests (``qt_log_level_fail``), except the offscreen platform's own
    notice that it cannot propagate size hints, which it prints whenever a window is shown."""
    config.addinivalue_line(  # type: ignore[attr-defined]
        "qt_log_ignore", r"This plugin does not support propagateSizeHints\(\)"
    )


def pytest_unconfigure(config: object) -> None:
    """Remove the throwaway data folder."""
    shutil.rmtree(_DATA_HOME, ignore_errors=True)
