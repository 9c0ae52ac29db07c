"""Top-level test set-up. Qt needs a platform before anything imports it: without one it aborts
the whole pytest process, so the offscreen platform is chosen here, first.

The per-user folders (HOME and the XDG data, config, state and cache folders: logs, settings,
the user's data folder) point into a fresh folder of this test run, also set before anything
reads them. The suite then never touches the real user's files, and two runs at once on one
machine (two checkouts, two CI jobs) never share or race on one file there.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _isolate_user_folders() -> Path:
    home = Path(tempfile.mkdtemp(prefix="orderdesk-test-home-"))
    os.environ["HOME"] = str(home)
    for variable, folder in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        (home / folder).mkdir(parents=True)
        os.environ[variable] = str(home / folder)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


USER_HOME = _isolate_user_folders()

# Hypothesis times each example (200 ms by default) and checks that generating data is not
# "too slow": both fail a correct test on a busy machine. Speed is the benchmarks' business.
settings.register_profile("order-desk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("order-desk")


def pytest_configure(config: object) -> None:
    """Qt warnings fail the tests (``qt_log_level_fail``), except the offscreen platform's own
    notice that it cannot propagate size hints, which it prints whenever a window is shown."""
    config.addinivalue_line(  # type: ignore[attr-defined]
        "qt_log_ignore", r"This plugin does not support propagateSizeHints\(\)"
    )


# The throwaway PostgreSQL cluster and its fixtures (pg_server, pg_url, pg_login).
pytest_plugins = ["tests.pg_cluster"]
