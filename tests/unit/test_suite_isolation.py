"""R36: two test runs at once on one machine share no per-user file. Every run has its own
HOME and XDG folders (set in tests/conftest.py before anything reads them)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from desktop_app.config import default_data_dir, default_db_path, default_log_dir
from tests.conftest import USER_HOME


def test_user_folders_belong_to_this_run() -> None:
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert Path(os.environ["HOME"]) == USER_HOME != real_home
    assert USER_HOME.name.startswith("orderdesk-test-home-")
    qt_config = Path(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    )
    for folder in (default_data_dir(), default_log_dir(), default_db_path().parent, qt_config):
        assert folder.is_relative_to(USER_HOME), folder
