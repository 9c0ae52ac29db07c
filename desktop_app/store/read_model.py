"""The read model of an Order Desk SQLite database: its own file, its three parts, wired.

* :class:`~desktop_app.store.event_feed.SqliteEventFeed` — the log as the projector reads it
  (from the event file);
* :class:`~desktop_app.store.projection_target.SqliteProjectionTarget` — the tables as the
  projector writes them (ownership, batches, checkpoint, the rebuild's swap in
  :mod:`~desktop_app.store.read_model_rebuild`), in the read model's file;
* :class:`~desktop_app.store.order_queries.SqliteOrderListQueries` — the screens' queries.

The tables live in the read model's own file beside the event file
(:mod:`~desktop_app.store.read_model_file`: why, and how it is bound to its log), opened by
:func:`open_read_model_database`. They are defined in :mod:`desktop_app.store.schema`; the
statements the parts share are in :mod:`desktop_app.store.read_model_sql`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from desktop_app.application.ports import ReadModel, StoreError
from desktop_app.store.engine import Database, open_side_file
from desktop_app.store.event_feed import SqliteEventFeed
from desktop_app.store.order_queries import SqliteOrderListQueries, fts_query
from desktop_app.store.projection_target import SqliteProjectionTarget
from desktop_app.store.read_model_file import (
    binding_problem,
    is_read_model_file,
    read_model_path,
    stamp,
)
from desktop_app.store.read_model_sql import READ_MODEL_SCHEMA_VERSION, FaultHook

log = logging.getLogger("desktop_app.store.read_model")


def _open_companion(path: Path, events: Database, reason: str | None) -> Database | None:
    """The read model's file at ``path`` (created when writable), or None when it is not
    ours or cannot be used."""
    try:
        db = open_side_file(
            path,
            read_only_reason=reason,
            synchronous="NORMAL",  # rebuilt from the log when in doubt (see read_model_file)
            busy_timeout_ms=events.busy_timeout_ms,
        )
    except (StoreError, OSError) as exc:
        log.warning("read model %s cannot be used (%s)", path, exc)
        return None
    try:
        with db.raw(hold=False) as con:
            kind = is_read_model_file(con)
            if kind is None and reason is None:
                stamp(con)
                kind = True
        if not kind:
            log.warning("%s is not an Order Desk read model: it is left alone", path)
            db.close()
            return None
        if reason is not None:  # read only: show it only when bound to this log
            # (one snapshot of it: its owner may be committing a batch meanwhile)
            with db.raw_read(hold=False) as con, events.raw_read(hold=False) as ev:
                problem = binding_problem(con, ev)
            if problem is not None:
                log.info("read model %s is not used: %s", path, problem)
                db.close()
                return None
    except (StoreError, OSError) as exc:
        log.warning("read model %s cannot be used (%s)", path, exc)
        db.close()
        return None
    return db


def _temporary(events: Database) -> Database:
    """A read model in a private temporary folder, removed when it is closed: the lists of a
    database whose own read model cannot be written (or shown) are projected there."""
    folder = Path(tempfile.mkdtemp(prefix="order-desk-lists-"))  # 0700
    try:
        db = open_side_file(
            read_model_path(folder / events.path.name),
            read_only_reason=None,
            synchronous="NORMAL",
            busy_timeout_ms=events.busy_timeout_ms,
        )
        with db.raw(hold=False) as con:
            stamp(con)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    db.call_after_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    log.info("the lists of %s are kept in %s while it is open", events.path, db.path)
    return db


def open_read_model_database(events: Database) -> Database:
    """Open the read model of the event database ``events`` (see the module).

    A writable database gets its read model's file beside it, created on first use. A
    read-only one (a backup, another account's file, media) uses that file read-only when it
    exists and is bound to this very log, like the lists of a read-only database always were
    (behind until another process catches them up). Otherwise, and whenever the file cannot
    be used, the lists are projected into a temporary file of this process instead.
    """
    path = read_model_path(events.path)
    if not events.read_only:
        db = _open_companion(path, events, None)
        if db is not None:
            return db
    elif path.exists():
        db = _open_companion(path, events, events.read_only_reason)
        if db is not None:
            return db
    return _temporary(events)


def sqlite_read_model(
    events: Database, read: Database, *, fault: FaultHook | None = None
) -> ReadModel:
    """The feed (from the event file ``events``), target and queries (in the read model's
    file ``read``, see :func:`open_read_model_database`; the caller closes both)."""
    return ReadModel(
        feed=SqliteEventFeed(events),
        target=SqliteProjectionTarget(read, events=events, fault=fault),
        queries=SqliteOrderListQueries(read),
    )


__all__ = [
    "READ_MODEL_SCHEMA_VERSION",
    "SqliteEventFeed",
    "SqliteOrderListQueries",
    "SqliteProjectionTarget",
    "fts_query",
    "open_read_model_database",
    "read_model_path",
    "sqlite_read_model",
]
