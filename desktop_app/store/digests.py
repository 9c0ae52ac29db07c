"""Digest files: the head of the hash chain kept somewhere else (``verify --export-digest``,
Tools ▸ Export digest…) and read back to check the log still extends it.

A digest file is a small JSON object (``format: order-desk-digest``). It is written atomically
(temporary file, fsync, rename, fsync of the folder): a reader finds the old file or the new
one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.application.ports import Digest, StoreError

DIGEST_FORMAT = "order-desk-digest"


class DigestFileError(StoreError):
    """A digest file cannot be read or written; the message says which and why."""


def read_digest(path: Path) -> Digest:
    """The digest saved in ``path``; raises :class:`DigestFileError` in plain words."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DigestFileError(f"cannot read digest {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise DigestFileError(f"{path} is not a digest file (invalid JSON: {exc})") from exc
    try:
        if data.get("format") != DIGEST_FORMAT:
            raise ValueError("wrong format marker")
        position, head, count = data["head_position"], data["head_hash"], data["event_count"]
        if not (isinstance(position, int) and isinstance(count, int) and isinstance(head, str)):
            raise ValueError("wrong field types")
        taken_at = datetime.fromisoformat(data["taken_at"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DigestFileError(f"{path} is not an Order Desk digest file ({exc})") from exc
    return Digest(head_position=position, head_hash=head, event_count=count, taken_at=taken_at)


def digest_json(digest: Digest, db: Path | object) -> str:
    """The digest file's text for ``digest`` of the database ``db`` (a file, or a server
    location: its URL as shown, never a password)."""
    data = {
        "format": DIGEST_FORMAT,
        "head_position": digest.head_position,
        "head_hash": digest.head_hash,
        "event_count": digest.event_count,
        "taken_at": digest.taken_at.astimezone(UTC).isoformat(),
        "db_path": str(db.absolute()) if isinstance(db, Path) else str(db),
    }
    return json.dumps(data, indent=2) + "\n"


def write_digest(path: Path, digest: Digest, db: Path | object) -> None:
    """Write ``digest`` of ``db`` to ``path`` atomically; :class:`DigestFileError` if not."""
    write_atomically(path, digest_json(digest, db))


def write_atomically(path: Path, text: str) -> None:
    """Write temp file, fsync, rename over ``path``, fsync the folder: old or new, never half."""
    folder = path.absolute().parent
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise DigestFileError(f"cannot write digest {path}: {exc.strerror or exc}") from exc


__all__ = [
    "DIGEST_FORMAT",
    "DigestFileError",
    "digest_json",
    "read_digest",
    "write_atomically",
    "write_digest",
]
