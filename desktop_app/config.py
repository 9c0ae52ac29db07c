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


def default_anchor_dir() -> Path:
    """Where anchors of the chain head are kept: outside any database, in the data folder."""
    return default_data_dir() / "anchors"


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
    anchor_dir: Path | None = None
    anchor_interval_hours: float = 24.0
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

    @property
    def anchor_log(self) -> Path:
        """The append-only anchor log (R28): in ``anchor_dir`` or the user's data folder."""
        return (self.anchor_dir or default_anchor_dir()) / "anchors.jsonl"


# --- company details for printed documents ------------------------------------------------

COMPANY_FILE_NAME = "company.json"
MAX_COMPANY_TEXT = 200


def default_config_dir() -> Path:
    """The platform's per-user configuration folder for Order Desk."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def company_profile_path() -> Path:
    """Where the company details printed on confirmations and packing slips are kept."""
    return default_config_dir() / COMPANY_FILE_NAME


@dataclass(frozen=True, kw_only=True, slots=True)
class CompanyProfile:
    """The sender printed on an order confirmation and a packing slip."""

    name: str = "Order Desk"
    address: str = ""  # several lines
    email: str = ""
    phone: str = ""
    logo_path: Path | None = None

    def to_json(self) -> dict[str, str]:
        """The profile as JSON values (the logo as a path string, empty when none)."""
        return {
            "name": self.name,
            "address": self.address,
            "email": self.email,
            "phone": self.phone,
            "logo_path": str(self.logo_path) if self.logo_path else "",
        }


class CompanyProfileError(ValueError):
    """The company details file cannot be read or holds a bad value."""


def _profile_text(data: dict[str, object], key: str, *, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise CompanyProfileError(f"company details: {key!r} must be text")
    if len(value) > MAX_COMPANY_TEXT:
        raise CompanyProfileError(f"company details: {key!r} is longer than {MAX_COMPANY_TEXT}")
    return value


def load_company_profile(path: Path | None = None) -> CompanyProfile:
    """The saved company details; the defaults when nothing was saved yet."""
    import json

    file = path or company_profile_path()
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CompanyProfile()
    except OSError as exc:
        raise CompanyProfileError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CompanyProfileError(f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CompanyProfileError(f"{file} does not hold company details")
    logo = _profile_text(data, "logo_path", default="")
    return CompanyProfile(
        name=_profile_text(data, "name", default="Order Desk").strip() or "Order Desk",
        address=_profile_text(data, "address", default=""),
        email=_profile_text(data, "email", default=""),
        phone=_profile_text(data, "phone", default=""),
        logo_path=Path(logo) if logo else None,
    )


def save_company_profile(profile: CompanyProfile, path: Path | None = None) -> Path:
    """Write the company details (old or new file, never half: temp file + rename)."""
    import json
    import os
    import tempfile

    file = path or company_profile_path()
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(profile.to_json(), fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return file
