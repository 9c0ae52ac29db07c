"""Settings: where the database lives and how the background jobs behave (frozen)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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


# --- where the database is: a file or a PostgreSQL server --------------------------------

SERVER_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
"""URL schemes that name a PostgreSQL server (``--db postgresql://user@host:5432/dbname``)."""


class LocationError(ValueError):
    """A ``--db`` value that names neither a file nor a usable server URL."""


@dataclass(frozen=True, slots=True)
class ServerLocation:
    """A PostgreSQL database named by a libpq URL. Passwords are never kept by Order Desk:
    the URL may leave everything to libpq's own means (``~/.pgpass``, the service file via
    ``?service=NAME``, ``PGHOST``/``PGUSER``/``PGDATABASE``…) and carries TLS parameters
    (``?sslmode=verify-full&sslrootcert=…``) as libpq reads them."""

    url: str
    """As given, normalised to the ``postgresql://`` scheme (what libpq reads)."""

    @property
    def display(self) -> str:
        """The URL for titles, logs and messages: a password in it is replaced by ``***``."""
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        query = "&".join(
            f"{k}={'***' if k == 'password' else v}" for k, v in parse_qsl(parts.query)
        )
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    @property
    def has_password(self) -> bool:
        """True when the URL itself holds a password (works, but the README advises .pgpass)."""
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
        return ":" in userinfo or any(k == "password" for k, _ in parse_qsl(parts.query))

    def __str__(self) -> str:
        return self.display


DatabaseLocation = Path | ServerLocation
"""Where a database is: a SQLite file (the default) or a PostgreSQL server."""


def parse_location(text: str) -> DatabaseLocation:
    """``--db``'s value: a ``postgresql://`` (``postgres://``, ``postgresql+psycopg://``) URL
    names a server; anything else is a file path. ``LocationError`` for a malformed URL."""
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() in SERVER_SCHEMES:
        url = "postgresql://" + rest
        try:
            parts = urlsplit(url)
            _ = parts.port  # a non-numeric port raises here
        except ValueError as exc:
            raise LocationError(f"{text!r} is not a valid PostgreSQL URL: {exc}") from exc
        if parts.fragment:
            raise LocationError(f"{text!r}: a PostgreSQL URL has no '#' part")
        return ServerLocation(url)
    if sep and "/" not in scheme and scheme.isalpha() and len(scheme) > 1:
        raise LocationError(
            f"{text!r}: {scheme}:// is not a database this program can open "
            "(a file path, or postgresql://user@host:port/dbname)"
        )
    return Path(text)


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
    server: ServerLocation | None = None
    """Set when the database is on a PostgreSQL server (``db_path`` is then not used for it)."""

    @property
    def location(self) -> DatabaseLocation:
        """The database: the server when one is set, else the file."""
        return self.server if self.server is not None else self.db_path

    @classmethod
    def for_location(cls, location: DatabaseLocation, **options: object) -> Settings:
        """Settings for a file or a server (``options`` as for the constructor)."""
        if isinstance(location, ServerLocation):
            return cls(db_path=default_db_path(), server=location, **options)  # type: ignore[arg-type]
        return cls(db_path=location, **options)  # type: ignore[arg-type]

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
