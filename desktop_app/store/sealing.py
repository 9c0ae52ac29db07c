"""Snapshot seals (R26): an HMAC only this account's copy of the program can compute.

The public checksum of a snapshot row catches damage, not forgery: anyone who can edit the file
can recompute it. A seal is ``<key id>:<HMAC-SHA256 hex>`` over the snapshot's stream, version,
aggregate type, snapshot schema, the hash of the event at the snapshot's version (so a sealed
snapshot cannot be moved onto another history or version) and the state text.

The key is a per-database secret kept OUTSIDE the database file: ``<key dir>/<database id>.key``
(32 random bytes as hex, file 0600, folder 0700, in the user's data folder). The database id is a
random id stored in the file (``store_meta``), so the key follows the file through backup and
restore (a restored backup has the same id: its snapshots stay trusted) but not to another OS
account or a copy on another machine: there no key exists and every snapshot is ignored (full
replay). Where the file is writable a fresh key is made for it, so the snapshots this account
takes from then on are trusted by this account only; a read-only open never makes a key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.store.private_files import make_private_folder

log = logging.getLogger(__name__)

KEY_BYTES = 32
_KEY_TEXT = re.compile(r"[0-9a-f]{64}")
DATABASE_ID = re.compile(r"[0-9a-f]{32}")

NO_SEAL = ""
"""The seal of a row written before seals existed (schema 1): never trusted."""


@dataclass(frozen=True, slots=True)
class SealKey:
    """A database's sealing secret and its public id (written into each seal)."""

    secret: bytes = field(repr=False)
    key_id: str
    # The keyed HMAC state, copied per seal: keying it again costs as much as a short seal.
    mac: hmac.HMAC = field(repr=False, compare=False)

    @classmethod
    def from_secret(cls, secret: bytes) -> SealKey:
        """The key for ``secret``; its id is a hash of it, so an id says nothing of the key."""
        key_id = hashlib.sha256(b"order-desk snapshot key id\n" + secret).hexdigest()[:16]
        return cls(secret=secret, key_id=key_id, mac=hmac.new(secret, digestmod=hashlib.sha256))

    @classmethod
    def generate(cls) -> SealKey:
        """A fresh random key (the in-memory store's; files get theirs from a key file)."""
        return cls.from_secret(secrets.token_bytes(KEY_BYTES))


def _message(
    stream_id: str,
    version: int,
    aggregate_type: str,
    schema_version: int,
    event_hash: str,
    state: str,
) -> bytes:
    head = json.dumps(
        [stream_id, version, aggregate_type, schema_version, event_hash], ensure_ascii=False
    )
    return (head + "\n" + state).encode("utf-8", "surrogatepass")


def seal(
    key: SealKey,
    stream_id: str,
    version: int,
    aggregate_type: str,
    schema_version: int,
    event_hash: str,
    state: str,
) -> str:
    """The seal of one snapshot row: ``<key id>:<hmac hex>``."""
    mac = key.mac.copy()
    mac.update(_message(stream_id, version, aggregate_type, schema_version, event_hash, state))
    return f"{key.key_id}:{mac.hexdigest()}"


def seal_verdict(
    key: SealKey | None,
    stored_seal: object,
    stream_id: str,
    version: int,
    aggregate_type: str,
    schema_version: int,
    event_hash: object,
    state: str,
) -> tuple[str, bool] | None:
    """None when the row carries this key's valid seal; else (why it must not be trusted,
    whether that is evidence of tampering rather than a seal this account cannot check)."""
    if not isinstance(event_hash, str):
        return (
            f"no event at version {version} of the stream (a snapshot ahead of its history)",
            True,
        )
    if key is None:
        return (
            "no snapshot key for this database on this account (snapshots are not trusted)",
            False,
        )
    if not isinstance(stored_seal, str) or stored_seal == NO_SEAL:
        return "not sealed (written before snapshots were sealed, or the seal was removed)", False
    key_id, _, _ = stored_seal.partition(":")
    if key_id != key.key_id:
        return "sealed with another key (another account, another copy, or a lost key)", False
    expected = seal(key, stream_id, version, aggregate_type, schema_version, event_hash, state)
    if not hmac.compare_digest(expected, stored_seal):
        return (
            "the seal does not match: the snapshot was changed outside the program "
            "or moved onto another history or version",
            True,
        )
    return None


# ---------------------------------------------------------------------------- key files


def read_database_id(con: sqlite3.Connection) -> str | None:
    """The database id stored in the file, or None (an older file opened read-only)."""
    try:
        row = con.execute("SELECT value FROM store_meta WHERE name = 'database_id'").fetchone()
    except sqlite3.Error:
        return None
    if row is None or not isinstance(row[0], str) or not DATABASE_ID.fullmatch(row[0]):
        return None
    return str(row[0])


def key_path(key_dir: Path, database_id: str) -> Path:
    """Where the key of ``database_id`` lives."""
    return key_dir / f"{database_id}.key"


def _read_key(path: Path) -> SealKey | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeError) as exc:
        log.warning("snapshot key %s cannot be read (%s): snapshots are not trusted", path, exc)
        return None
    if not _KEY_TEXT.fullmatch(text):
        log.warning("snapshot key %s is malformed: snapshots are not trusted", path)
        return None
    mode = path.stat().st_mode & 0o777
    # POSIX modes only: on Windows st_mode does not show the ACLs that keep the per-user data
    # folder private, and always reads 0o666 for a writable file.
    if os.name == "posix" and mode & 0o077:
        # Someone widened it: others may have read it, so it no longer proves anything.
        log.warning(
            "snapshot key %s is readable by others (mode %o): snapshots are not trusted",
            path,
            mode,
        )
        return None
    return SealKey.from_secret(bytes.fromhex(text))


def _create_key(path: Path) -> SealKey | None:
    """Write a fresh key atomically (temp file 0600, then a hard link that fails if another
    process made one first); returns whichever key ends up in the file."""
    folder = path.parent
    try:
        make_private_folder(folder)
        key = SealKey.generate()
        temp = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(key.secret.hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot create the snapshot key %s (%s): snapshots are not taken", path, exc)
        return None
    return _read_key(path)


_key_lock = threading.Lock()


def load_key(key_dir: Path | None, database_id: str | None, *, create: bool) -> SealKey | None:
    """This account's key for the database, made first when ``create`` (a writable file)."""
    if key_dir is None or database_id is None:
        return None
    path = key_path(key_dir, database_id)
    with _key_lock:
        key = _read_key(path)
        if key is None and create and not path.exists():
            key = _create_key(path)
    return key


__all__ = [
    "NO_SEAL",
    "SealKey",
    "key_path",
    "load_key",
    "read_database_id",
    "seal",
    "seal_verdict",
]
