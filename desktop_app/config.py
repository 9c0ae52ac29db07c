"""Settings: where the database lives and how the background jobs behave (frozen)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import platformdirs

APP_NAME = "OrderDesk"
DB_FILE_NAME = "orders.sqlite3"


def default_data_dir() -> Path:
    """The platform's per-user data folder for Order Desk."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_log_dir() -> Path:
    """The platform's per-user log folder for Order Desk."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def default_key_dir() -> Path:
    """This account's snapshot keys (one per database; 0700, never beside a database)."""
    return default_data_dir() / "keys"


def default_db_path() -> Path:
    """The database a clerk uses unless told otherwise."""
    return default_data_dir() / DB_FILE_NAME


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Everything configurable; ``Settings.default()`` for the normal desktop set-up."""

    db_path: Path
    snapshot_interval: int = 50
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout_ms: int = 5000
    read_only: bool = False
    projector_batch: int = 1000
    projector_bulk_catch_up: bool = True  # False beside a GUI: small batches, no stutter
    projector_poll_seconds: float = 0.2
    backup_dir: Path | None = None
    backup_keep: int = 7
    backup_interval_hours: float = 24.0
    log_dir: Path | None = None
    key_dir: Path | None = None

    @property
    def effective_key_dir(self) -> Path:
        """Where snapshot keys are kept: the configured folder or the user's data folder."""
        return self.key_dir or default_key_dir()

    @classmethod
    def default(cls, db_path: Path | None = None) -> Settings:
        """Default settings, optionally for another database file."""
        return cls(db_path=db_path or default_db_path())

    def with_db(self, db_path: Path) -> Settings:
        """The same settings for another database file."""
        return replace(self, db_path=db_path)

    @property
    def effective_backup_dir(self) -> Path:
        """Where backups go: the configured folder or ``backups/`` beside the database."""
        return self.backup_dir or self.db_path.parent / "backups"
