"""Moving an office onto the server: copy an Order Desk file's history into an initialised
PostgreSQL database (``desktop-app-admin copy --from FILE --to postgresql://…``, issue 10).

What is copied, exactly as stored: every event (position, ids, payload and metadata text,
``recorded_at``, previous hash and hash), every command record (with its fingerprint), every
snapshot (with its seal), the rejection log (with its ids), the claimed unique keys (and any
clashes an old file recorded) and the number sequences (so order numbers continue).

* **Source read-only.** The file is opened read-only and read inside ONE read transaction: the
  copy is of one consistent moment of the file, up to its head when the copy started.
* **Batches in position order**, each ONE server transaction that first takes the append lock
  (``ddl.APPEND_LOCK_KEY``, as every append does) and checks that the server's head is still
  where the copy left it; a command record goes in with the batch holding its last event.
  Rows go in with PostgreSQL's ``COPY`` protocol.
* **Resumable.** A re-run starts after the server's highest position, once the overlapping
  head matches (the event there, all its columns: its hash covers every event before it). A
  server holding different history, or more than the file, is refused before anything is
  written. Rejections resume the same way by their ids; snapshots, keys and sequences are
  idempotent inserts.
* **Verified.** Afterwards every event of the server is read back in position order, compared
  with the file's row column by column, and its hash recomputed (``hashing.ChainVerifier``):
  same count, same head hash, same hash at every position. Command records, snapshots,
  rejections and keys are compared too.
* **Authorship.** ``events.author_role`` is filled by the server with the role that inserts
  (a trigger: no client can choose it), so a copied event's ``author_role`` is the role that
  ran the copy. Who recorded each event on the workstation (OS user, host, program version) is
  in its metadata, copied unchanged and covered by the hash.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from desktop_app.application.ports import StoreError
from desktop_app.store.engine import Database, open_database
from desktop_app.store.hashing import GENESIS_HASH, ChainVerifier, Row
from desktop_app.store.postgres import ddl
from desktop_app.store.postgres.database import PostgresDatabase, open_postgres
from desktop_app.store.rejection_log import COLUMNS
from desktop_app.store.schema import SCHEMA_VERSION
from desktop_app.store.sealing import DATABASE_ID, key_path, read_database_id

Progress = Callable[[str, int, int], None]
"""``progress(what, done, total)``: called after every committed batch (and verified batch)."""

BATCH = 10_000
"""Events per server transaction (and per progress line)."""
COPY_LOCK_TIMEOUT = "60s"
"""How long a batch waits for the append lock (a clerk still working) before giving up."""

EVENT_COLUMNS = (
    "position",
    "stream_id",
    "version",
    "event_id",
    "type_name",
    "schema_version",
    "payload",
    "metadata",
    "recorded_at",
    "prev_hash",
    "hash",
)
COMMAND_COLUMNS = (
    "command_id",
    "stream_id",
    "version",
    "first_position",
    "last_position",
    "fingerprint",
)
SNAPSHOT_COLUMNS = (
    "stream_id",
    "version",
    "aggregate_type",
    "schema_version",
    "state",
    "checksum",
    "size_bytes",
    "taken_at",
    "seal",
)
REJECTION_COLUMNS = COLUMNS
"""The rejection log's columns, in the order both ends read them (one definition)."""


class CopyRefused(StoreError):
    """The copy cannot go on (nothing further was written): the reason is the message."""


@dataclass(slots=True)
class CopyResult:
    """What a copy did and found."""

    source_head: int
    resumed_from: int
    events: int
    commands: int
    snapshots: int
    rejections: int
    keys: int
    author_role: str
    head_hash: str
    copy_seconds: float = 0.0
    verify_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    """What the verification found different (empty: the server's history is identical)."""
    chain_problem: str | None = None
    """The history's own hash-chain problem (then the file has it too), else None."""
    key_note: str = ""
    verified: int = 0
    """Events read back from the server, compared with the file's and hash-checked."""

    @property
    def identical(self) -> bool:
        """True when the server holds exactly the file's history."""
        return not self.problems


def _q(name: str) -> str:
    return ddl.quote_ident(name)


def _columns(names: Sequence[str]) -> str:
    return ", ".join(_q(n) for n in names)


def _sqlite_columns(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


@contextlib.contextmanager
def _source_snapshot(db: Database) -> Iterator[Any]:
    with db.raw_read(hold=False) as con:
        yield con


def _open_source(path: Path) -> Database:
    if not path.exists():
        raise CopyRefused(f"There is no file at {path}.")
    db = open_database(path, create=False, read_only=True)
    if db.schema_version != SCHEMA_VERSION:
        db.close()
        raise CopyRefused(
            f"{path} has file format {db.schema_version}; this program copies format "
            f"{SCHEMA_VERSION}. Open the file once with this version of Order Desk (it upgrades "
            "the file after a backup) and copy again."
        )
    return db


def _open_target(url: str) -> PostgresDatabase:
    target = open_postgres(url)
    if target.schema_version != ddl.PG_SCHEMA_VERSION:
        target.close()
        raise CopyRefused(
            f"The server database has schema {target.schema_version}; this program writes "
            f"{ddl.PG_SCHEMA_VERSION}."
        )
    if target.read_only_reason is not None:
        target.close()
        raise CopyRefused(f"Nothing can be copied to the server: {target.read_only_reason}")
    with target.read() as conn:
        owner = conn.exec_driver_sql(
            "SELECT tableowner, pg_has_role(session_user, tableowner, 'MEMBER') "
            "FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'events'"
        ).one()
    if not owner[1]:
        target.close()
        # A clerk may append, but not set the rejection numbering or the key clashes.
        raise CopyRefused(
            f"Run the copy as the role that owns the server's tables ({owner[0]!r}, the role "
            f"that ran `init`), not as {target.facts.session_user!r}. Nothing was copied."
        )
    return target


def _row_text(row: Sequence[object]) -> str:
    return ", ".join(repr(v)[:40] for v in row)


class _Copier:
    def __init__(
        self,
        source: Database,
        target: PostgresDatabase,
        *,
        batch: int,
        progress: Progress | None,
    ) -> None:
        self.source = source
        self.target = target
        self.batch = batch
        self.progress = progress

    # ------------------------------------------------------------------ checks (no writes)

    def _target_head(self, con: psycopg.Connection[Any]) -> tuple[int, int]:
        row = con.execute("SELECT coalesce(max(position), 0), count(*) FROM events").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def check_events(self, src: Any, pg: psycopg.Connection[Any], source_head: int) -> int:
        """The position to continue after; CopyRefused when the server's history differs."""
        head, count = self._target_head(pg)
        pg.rollback()
        if head == 0:
            return 0
        if count != head:
            raise CopyRefused(
                f"The server database's events are not numbered 1…{head} without gaps "
                f"({count:,} events): it is not a copy in progress. Nothing was copied."
            )
        if head > source_head:
            raise CopyRefused(
                f"The server database already holds {head:,} events, more than the file "
                f"({source_head:,}): it holds other history. Nothing was copied."
            )
        theirs = pg.execute(
            f"SELECT {_columns(EVENT_COLUMNS)} FROM events WHERE position = %s",  # noqa: S608
            (head,),
        ).fetchone()
        pg.rollback()
        ours = src.execute(
            f"SELECT {_sqlite_columns(EVENT_COLUMNS)} FROM events WHERE position = ?",  # noqa: S608
            (head,),
        ).fetchone()
        if theirs is None or ours is None or tuple(theirs) != tuple(ours):
            raise CopyRefused(
                f"The server database holds different history: its event #{head:,} is not "
                f"the file's event #{head:,}. It is not a copy of this file; nothing was "
                "copied. (Copy into a new database made with `desktop-app-admin init`.)"
            )
        return head

    def check_rejections(self, src: Any, pg: psycopg.Connection[Any]) -> int:
        row = pg.execute("SELECT coalesce(max(rejection_id), 0) FROM rejections").fetchone()
        pg.rollback()
        last = int(row[0]) if row else 0
        if last == 0:
            return 0
        select = f"SELECT {{}} FROM rejections WHERE rejection_id = {last}"  # noqa: S608
        theirs = pg.execute(select.format(_columns(REJECTION_COLUMNS))).fetchone()
        pg.rollback()
        ours = src.execute(select.format(_sqlite_columns(REJECTION_COLUMNS))).fetchone()
        if ours is None or theirs is None or tuple(ours) != tuple(theirs):
            raise CopyRefused(
                f"The server database's rejection log differs from the file's (refusal "
                f"#{last}); it is not a copy of this file. Nothing was copied."
            )
        return last

    # ------------------------------------------------------------------ copying

    def copy_events(
        self, src: Any, pg: psycopg.Connection[Any], after: int, source_head: int
    ) -> tuple[int, int]:
        """Events and command records after ``after`` up to ``source_head``, batch by batch."""
        events = src.execute(
            f"SELECT {_sqlite_columns(EVENT_COLUMNS)} FROM events "  # noqa: S608
            "WHERE position > ? AND position <= ? ORDER BY position",
            (after, source_head),
        )
        commands = src.cursor().execute(
            f"SELECT {_sqlite_columns(COMMAND_COLUMNS)} FROM commands "  # noqa: S608
            "WHERE last_position > ? AND last_position <= ? ORDER BY last_position",
            (after, source_head),
        )
        pending_command = commands.fetchone()
        expected_head, copied_events, copied_commands = after, 0, 0
        copy_events = f"COPY events ({_columns(EVENT_COLUMNS)}) FROM STDIN"
        copy_commands = f"COPY commands ({_columns(COMMAND_COLUMNS)}) FROM STDIN"
        while True:
            rows = events.fetchmany(self.batch)
            if not rows:
                break
            last = int(rows[-1][0])
            batch_commands = []
            while pending_command is not None and pending_command[4] <= last:
                batch_commands.append(pending_command)
                pending_command = commands.fetchone()
            pg.execute("SELECT pg_advisory_xact_lock(%s)", (ddl.APPEND_LOCK_KEY,))
            # The head from the primary key's index (a count(*) per batch would scan the
            # whole table each time: quadratic over a large copy).
            row = pg.execute(
                "SELECT position FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            head = int(row[0]) if row else 0
            if head != expected_head:
                pg.rollback()
                raise CopyRefused(
                    f"Someone else wrote to the server database while copying (its head moved "
                    f"from #{expected_head:,} to #{head:,}). Copying stopped; nothing of this "
                    "batch was written. Copy into a database nobody uses yet."
                )
            with pg.cursor() as cur:
                with cur.copy(copy_events) as cp:
                    for row in rows:
                        cp.write_row(row)
                if batch_commands:
                    with cur.copy(copy_commands) as cp:
                        for row in batch_commands:
                            cp.write_row(row)
            pg.commit()
            expected_head = last
            copied_events += len(rows)
            copied_commands += len(batch_commands)
            if self.progress is not None:
                self.progress("events", last, source_head)
        return copied_events, copied_commands

    def copy_rejections(self, src: Any, pg: psycopg.Connection[Any], after: int) -> int:
        rows_cursor = src.execute(
            f"SELECT {_sqlite_columns(REJECTION_COLUMNS)} FROM rejections "  # noqa: S608
            "WHERE rejection_id > ? ORDER BY rejection_id",
            (after,),
        )
        copied = 0
        statement = f"COPY rejections ({_columns(REJECTION_COLUMNS)}) FROM STDIN"
        while True:
            rows = rows_cursor.fetchmany(self.batch)
            if not rows:
                break
            pg.execute("SELECT pg_advisory_xact_lock(%s)", (ddl.REJECTION_LOCK_KEY,))
            with pg.cursor() as cur, cur.copy(statement) as cp:
                for row in rows:
                    cp.write_row(row)
            copied += len(rows)
            pg.commit()
        # Later refusals recorded on the server take the numbers after the copied ones.
        pg.execute(
            "SELECT setval(pg_get_serial_sequence('rejections', 'rejection_id'), "
            "greatest((SELECT max(rejection_id) FROM rejections), 1))"
        )
        pg.commit()
        return copied

    def copy_rest(self, src: Any, pg: psycopg.Connection[Any]) -> tuple[int, int]:
        """Snapshots, unique keys, clashes and number sequences (idempotent inserts)."""
        snaps = src.execute(
            f"SELECT {_sqlite_columns(SNAPSHOT_COLUMNS)} FROM snapshots"  # noqa: S608
        ).fetchall()
        placeholders = ", ".join(["%s"] * len(SNAPSHOT_COLUMNS))
        with pg.cursor() as cur:
            cur.executemany(
                f"INSERT INTO snapshots ({_columns(SNAPSHOT_COLUMNS)}) "  # noqa: S608
                f"VALUES ({placeholders}) ON CONFLICT DO NOTHING",
                snaps,
            )
            keys = src.execute("SELECT namespace, key, owner_id FROM unique_keys").fetchall()
            cur.executemany(
                "INSERT INTO unique_keys (namespace, key, owner_id) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                keys,
            )
            clashes = src.execute(
                "SELECT namespace, key, holder_id, owner_id, position FROM unique_key_clashes"
            ).fetchall()
            cur.executemany(
                "INSERT INTO unique_key_clashes (namespace, key, holder_id, owner_id, position) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                clashes,
            )
            # Order numbers continue after the file's (never reused on the server).
            cur.executemany(
                "INSERT INTO sequences (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                "DO UPDATE SET value = greatest(sequences.value, EXCLUDED.value)",
                src.execute("SELECT name, value FROM sequences").fetchall(),
            )
        pg.commit()
        return len(snaps), len(keys)

    # ------------------------------------------------------------------ verification

    def verify(self, src: Any, pg: psycopg.Connection[Any], source_head: int) -> CopyResult:
        """Compare the server's rows with the file's and recompute the server's chain."""
        problems: list[str] = []
        chain = ChainVerifier()
        ours = src.execute(
            f"SELECT {_sqlite_columns(EVENT_COLUMNS)} FROM events "  # noqa: S608
            "WHERE position <= ? ORDER BY position",
            (source_head,),
        )
        checked = 0
        with pg.cursor(name="order_desk_copy_verify") as theirs:
            theirs.itersize = self.batch
            theirs.execute(
                f"SELECT {_columns(EVENT_COLUMNS)} FROM events "  # noqa: S608
                "WHERE position <= %s ORDER BY position",
                (source_head,),
            )
            while True:
                mine = ours.fetchmany(self.batch)
                server = theirs.fetchmany(self.batch)
                if not mine and not server:
                    break
                for a, b in zip(mine, server, strict=False):
                    if tuple(a) != tuple(b):
                        problems.append(f"event #{a[0]:,} differs on the server ({_row_text(b)})")
                        break
                if len(mine) != len(server):
                    problems.append(
                        f"the server holds {checked + len(server):,} events where the file "
                        f"holds {checked + len(mine):,}"
                    )
                if problems:
                    break
                rows: list[Row] = [tuple(r) for r in server]
                chain.feed(rows)
                checked += len(server)
                if self.progress is not None:
                    self.progress("verified", checked, source_head)
        tail = pg.execute(
            "SELECT count(*), coalesce(max(position), 0) FROM events WHERE position > %s",
            (source_head,),
        ).fetchone()
        if tail is not None and int(tail[0]):
            problems.append(f"the server holds {int(tail[0]):,} more events after #{source_head:,}")
        problems.extend(self._compare_others(src, pg, source_head))
        role = pg.execute("SELECT session_user").fetchone()
        pg.rollback()
        result = CopyResult(
            source_head=source_head,
            resumed_from=0,
            events=0,
            verified=checked,
            commands=0,
            snapshots=0,
            rejections=0,
            keys=0,
            author_role=str(role[0]) if role else "",
            head_hash=chain.head_hash,
            problems=problems,
        )
        if chain.problem is not None:
            result.chain_problem = chain.problem.problem
        return result

    def _compare_others(self, src: Any, pg: psycopg.Connection[Any], source_head: int) -> list[str]:
        problems: list[str] = []
        checks = (
            (
                "command records",
                f"SELECT {_columns(COMMAND_COLUMNS)} FROM commands "  # noqa: S608
                f"WHERE last_position <= {source_head} ORDER BY last_position",
                f"SELECT {_sqlite_columns(COMMAND_COLUMNS)} FROM commands "  # noqa: S608
                f"WHERE last_position <= {source_head} ORDER BY last_position",
                False,
            ),
            (
                "rejections",
                f"SELECT {_columns(REJECTION_COLUMNS)} FROM rejections "  # noqa: S608
                "ORDER BY rejection_id",
                f"SELECT {_sqlite_columns(REJECTION_COLUMNS)} FROM rejections "  # noqa: S608
                "ORDER BY rejection_id",
                False,
            ),
            (
                "snapshots",
                f"SELECT {_columns(SNAPSHOT_COLUMNS)} FROM snapshots",  # noqa: S608
                f"SELECT {_sqlite_columns(SNAPSHOT_COLUMNS)} FROM snapshots",  # noqa: S608
                True,
            ),
            (
                "unique keys",
                "SELECT namespace, key, owner_id FROM unique_keys",
                "SELECT namespace, key, owner_id FROM unique_keys",
                True,
            ),
        )
        for what, server_sql, file_sql, as_set in checks:
            server_rows = [tuple(r) for r in pg.execute(server_sql)]
            file_rows = [tuple(r) for r in src.execute(file_sql)]
            if as_set:
                missing = set(file_rows) - set(server_rows)
                if missing:
                    problems.append(f"{len(missing):,} {what} of the file are not on the server")
            elif server_rows != file_rows:
                problems.append(
                    f"the {what} differ ({len(server_rows):,} on the server, "
                    f"{len(file_rows):,} in the file)"
                )
        return problems


def carry_seal_key(key_dir: Path | None, source_id: str | None, target_id: str) -> str:
    """Let this account keep trusting the copied snapshots: its key for the file (the seals'
    key) becomes its key for the server database too, when it has none yet. A note to print."""
    if key_dir is None or source_id is None or not DATABASE_ID.fullmatch(target_id):
        return "Snapshots were copied with their seals; this account has no key to carry over."
    source_key = key_path(key_dir, source_id)
    target_key = key_path(key_dir, target_id)
    if not source_key.exists():
        return (
            "Snapshots were copied with their seals; this account holds no key for the file, "
            "so they are checked by replay until new ones are taken."
        )
    if target_key.exists():
        return "Snapshots were copied with their seals; this account already had a server key."
    secret = source_key.read_bytes()
    fd = os.open(target_key, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return (
        "Snapshots were copied with their seals; this account's key for the file now also "
        f"seals the server database ({target_key.name})."
    )


def copy_to_server(
    source_path: Path,
    url: str,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
    key_dir: Path | None = None,
) -> CopyResult:
    """Copy (or continue copying) the file at ``source_path`` into the server database
    ``url`` (made by ``init``), then verify it. ``CopyRefused`` when the server holds other
    history (nothing written) or someone else writes to it meanwhile."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    source = _open_source(source_path)
    try:
        target = _open_target(url)
        try:
            return _copy(source, target, batch=batch, progress=progress, key_dir=key_dir)
        finally:
            target.close()
    finally:
        source.close()


def _copy(
    source: Database,
    target: PostgresDatabase,
    *,
    batch: int,
    progress: Progress | None,
    key_dir: Path | None,
) -> CopyResult:
    copier = _Copier(source, target, batch=batch, progress=progress)
    with _source_snapshot(source) as src, target.raw(transaction=True) as pg:
        pg.execute(f"SET lock_timeout = '{COPY_LOCK_TIMEOUT}'")
        pg.commit()
        head_row = src.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        source_head = int(head_row[0])
        # Every check before the first write: a refused copy writes nothing.
        after = copier.check_events(src, pg, source_head)
        after_rejection = copier.check_rejections(src, pg)
        started = time.perf_counter()
        events, commands = copier.copy_events(src, pg, after, source_head)
        rejections = copier.copy_rejections(src, pg, after_rejection)
        snapshots, keys = copier.copy_rest(src, pg)
        copied_at = time.perf_counter()
        result = copier.verify(src, pg, source_head)
        result.verify_seconds = time.perf_counter() - copied_at
        result.copy_seconds = copied_at - started
        source_id = read_database_id(src)
    result.resumed_from = after
    result.events, result.commands, result.rejections = events, commands, rejections
    result.snapshots, result.keys = snapshots, keys
    if source_head == 0:
        result.head_hash = GENESIS_HASH
    result.key_note = carry_seal_key(key_dir, source_id, target.facts.database_id)
    return result


__all__ = ["BATCH", "CopyRefused", "CopyResult", "carry_seal_key", "copy_to_server"]
