"""Composition root: opens the database, builds the SQLite stores and the projector, then has
:func:`desktop_app.application.composition.compose` wire repositories, handlers and buses over
them. No Qt here, and nothing runs at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop_app.application import audit
from desktop_app.application import commands as c
from desktop_app.application import handlers as h
from desktop_app.application import queries as q
from desktop_app.application import read_handlers as rh
from desktop_app.application.as_of import as_of_query_handlers
from desktop_app.application.buses import CommandBus, MaintenanceHandler, QueryBus, QueryHandler
from desktop_app.application.composition import compose
from desktop_app.application.event_browser import browse_query_handlers
from desktop_app.application.ports import (
    Digest,
    EventStore,
    ReadModel,
    SnapshotStore,
    SnapshotTrust,
    StoreError,
    StoreInfo,
    VerifyResult,
)
from desktop_app.config import Settings
from desktop_app.identity import app_version, host_name, os_user
from desktop_app.projector.as_of import fold_desk
from desktop_app.projector.runner import Projector
from desktop_app.store.anchors import anchor_now, check_file, last_anchor
from desktop_app.store.as_of_log import SqliteDeskHistory
from desktop_app.store.backup import (
    check_backup,
    create_backup,
    list_backups,
    parse_backup_name,
    restore,
)
from desktop_app.store.digests import read_digest, write_digest
from desktop_app.store.engine import Database, open_database
from desktop_app.store.event_browse import SqliteLogBrowse
from desktop_app.store.event_hashes import stored_event_hash
from desktop_app.store.event_store import SqliteEventStore, SqliteSnapshotStore
from desktop_app.store.projector_report import StatusReporter
from desktop_app.store.read_model import open_read_model_database, sqlite_read_model
from desktop_app.store.rejection_store import SqliteRejectionLog

Clock = Callable[[], datetime]

log = logging.getLogger("desktop_app")


def utc_now() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


@dataclass(kw_only=True)
class App:
    """The composed application: buses for the UI and CLI, stores for admin tools."""

    settings: Settings | None
    database: Database | None
    events: EventStore
    snapshots: SnapshotStore
    commands: CommandBus
    queries: QueryBus
    deps: h.Deps
    info: StoreInfo
    read_model: ReadModel | None = None
    read_database: Database | None = None
    """The read model's own file beside ``database`` (SQLite; see store.read_model_file)."""
    projector: Projector | None = None
    """Not started here: the scheduler runs ``projector.run_once`` and installs its wake hook."""
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def read_only(self) -> bool:
        """True when the database cannot be written (read-only file, newer version…)."""
        return self.info.read_only

    def close(self) -> None:
        """Stop background work and release the database."""
        while self.closers:
            self.closers.pop()()
        if self.database is not None:
            self.database.close()


def snapshot_summary(trust: SnapshotTrust) -> str:
    """One line on snapshot trust for the About box and the log (R26)."""
    text = trust.key_note
    if trust.ignored:
        text += f"; {trust.ignored:,} ignored since opening (last: {trust.last_problem})"
    return text


def store_query_handlers(
    settings: Settings, database: Database, events: EventStore, snapshots: SnapshotStore
) -> dict[type[q.Query[Any]], QueryHandler]:
    """The Tools menu's reports on the database file: store info, verify history."""

    def store_info(query: q.GetStoreInfo) -> StoreInfo:
        info = store_info_with_anchor(database, settings)
        details = {**info.details, "snapshots": snapshot_summary(snapshots.trust())}
        return replace(info, details=details)

    def verify_history(query: q.VerifyHistory) -> VerifyResult:
        result = audit.verify_history(
            events,
            snapshots,
            progress=query.progress,
            chain_only=query.chain_only,
            cancel=query.cancel,
        )
        return with_anchor_check(result, database, settings)

    def check_digest(query: q.CheckDigest) -> q.DigestCheck:
        digest = read_digest(Path(query.path))
        return q.DigestCheck(
            path=query.path,
            digest=digest,
            result=events.check_digest(digest),
            head_position=events.head_position(),
        )

    def review_backup(query: q.ReviewBackup) -> q.BackupReview:
        return review_backup_file(Path(query.path), database.path, settings.anchor_log)

    def backup_overview(query: q.GetBackupOverview) -> q.BackupOverview:
        folder = settings.effective_backup_dir
        backups = list_backups(folder)
        return q.BackupOverview(
            folder=str(folder),
            count=len(backups),
            newest=backups[0].taken_at if backups else None,
            interval_hours=max(settings.backup_interval_hours, 0.0),
        )

    return {
        q.GetStoreInfo: store_info,
        q.VerifyHistory: verify_history,
        q.CheckDigest: check_digest,
        q.ReviewBackup: review_backup,
        q.GetBackupOverview: backup_overview,
    }


def review_backup_file(backup: Path, target: Path, anchor_log: Path) -> q.BackupReview:
    """``backup`` checked as ``restore`` checks it before replacing ``target`` (R25, R28):
    the same refusals as ``desktop-app-admin restore``, in words; nothing is changed."""
    backup, target = backup.absolute(), target.absolute()

    def refused(problem: str, events: int = 0) -> q.BackupReview:
        return q.BackupReview(
            backup=str(backup),
            target=str(target),
            ok=False,
            problem=problem,
            events=events,
            taken_at=None,
        )

    if backup == target:
        return refused("the backup and the database are the same file")
    if not backup.is_file():
        return refused(f"there is no backup at {backup}")
    check = check_backup(backup, target=target, anchor_log=anchor_log)
    events = check.chain.checked if check.chain else 0
    if not check.ok:
        return refused(f"{backup.name} cannot be restored: {check.problem}", events)
    given_up = None
    if check.anchors is not None and check.anchors.beyond:
        newest = max(check.anchors.beyond, key=lambda a: a.head_position)
        given_up = (
            f"Events after #{events:,} are given up: anchors reach #{newest.head_position:,} "
            f"({newest.describe()})."
        )
    named = parse_backup_name(backup.name)
    return q.BackupReview(
        backup=str(backup),
        target=str(target),
        ok=True,
        problem=None,
        events=events,
        taken_at=named[0] if named else None,
        given_up=given_up,
    )


@dataclass(frozen=True, kw_only=True)
class RestoreReport:
    """What a restore from the window did, for the reopened window to say."""

    ok: bool
    text: str


def restore_backup(backup: Path, target: Path, anchor_log: Path) -> RestoreReport:
    """Put ``backup`` in place of ``target`` (closed by the caller: the window's database is
    restored between closing it and opening it again). Refusals become a report, the file
    unchanged."""
    try:
        result = restore(backup, target, anchor_log=anchor_log)
    except StoreError as exc:
        return RestoreReport(ok=False, text=f"Nothing was restored: {exc}")
    events = result.check.chain.checked if result.check.chain else 0
    kept = (
        f"\n\nThe replaced database was kept as {result.previous}."
        if result.previous is not None
        else ""
    )
    return RestoreReport(
        ok=True,
        text=f"{result.target} was restored from {result.backup.name} ({events:,} events; "
        "stamps, append-only triggers, integrity, anchors and hash chain verified)." + kept,
    )


def maintenance_handlers(
    settings: Settings,
    database: Database,
    events: EventStore,
    snapshots: SnapshotStore,
    clock: Clock = utc_now,
) -> dict[type[c.MaintenanceCommand[Any]], MaintenanceHandler]:
    """The Tools menu's maintenance commands on the database file: backup now, export a
    digest."""

    def export_digest(command: c.ExportDigest) -> c.DigestExport:
        result = with_anchor_check(
            audit.verify_history(
                events, snapshots, progress=command.progress, cancel=command.cancel
            ),
            database,
            settings,
        )
        if not result.ok:  # never a digest of a history that does not hold (as the CLI)
            return c.DigestExport(path=command.path, verify=result, digest=None)
        # The head that was verified, not whatever was appended since.
        digest = Digest(
            head_position=result.head_position,
            head_hash=result.head_hash,
            event_count=result.checked,
            taken_at=clock(),
        )
        write_digest(Path(command.path), digest, database.path)
        return c.DigestExport(path=command.path, verify=result, digest=digest)

    def backup_now(command: c.BackupNow) -> str:
        backup = create_backup(
            database.path,
            settings.effective_backup_dir,
            keep=settings.backup_keep,
            anchor_log=settings.anchor_log,
        )
        return str(backup.path)

    def export_audit_bundle(command: c.ExportAuditBundle) -> c.AuditBundleExport:
        from desktop_app.store.audit_export import export_order_bundle  # on demand: start-up

        exported = export_order_bundle(
            database,
            f"order-{command.order_id}",
            Path(command.path),
            key_dir=settings.effective_key_dir,
            anchor_log=settings.anchor_log,
            render=command.render,
            clock=clock,
        )
        written = exported.written
        return c.AuditBundleExport(
            path=str(written.path),
            order_number=exported.header.order_number,
            size=written.size,
            events=written.events,
            proof_events=written.proof_events,
            snapshots=written.snapshots,
            keyed=written.keyed,
            check_failure=exported.check_failure,
        )

    return {
        c.BackupNow: backup_now,
        c.ExportDigest: export_digest,
        c.ExportAuditBundle: export_audit_bundle,
    }


def _projector(
    events: EventStore, read_model: ReadModel, settings: Settings, name: str, clock: Clock
) -> Projector:
    """The projector over a backend's read model, as the settings ask (not started)."""
    return Projector(
        events,
        read_model.feed,
        read_model.target,
        name=name,
        batch_size=settings.projector_batch,
        clock=clock,
        bulk_catch_up=settings.projector_bulk_catch_up,
    )


def audit_query_handlers(events: EventStore) -> dict[type[q.Query[Any]], QueryHandler]:
    """The audit view's query; its module (timeline grouping, business language) is imported
    on the first question, not at start-up."""

    def order_audit(query: q.GetOrderAudit) -> Any:
        from desktop_app.application.audit_timeline import get_order_audit

        return get_order_audit(events, stored_event_hash, query)

    return {q.GetOrderAudit: order_audit}


def store_info_with_anchor(database: Database, settings: Settings) -> StoreInfo:
    """The database's info plus its newest anchor (``details["last_anchor"]``, R28), read
    from the tail of the anchor log (a small file outside the database)."""
    info = database.info
    anchor = last_anchor(settings.anchor_log, database.path)
    if anchor is None:
        text = f"none yet (anchors are kept in {settings.anchor_log})"
    else:
        when = anchor.taken_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        text = (
            f"#{anchor.head_position:,} (hash {anchor.head_hash[:12]}…) at {when}, "
            f"on {anchor.reason}"
        )
    return replace(info, details={**info.details, "last_anchor": text})


def with_anchor_check(result: VerifyResult, database: Database, settings: Settings) -> VerifyResult:
    """A chain that verified is also checked against its anchors outside the database (R28):
    a failed anchor makes the result fail, naming the anchor. Where exactly the history was
    cut or rewritten is not known then (``first_bad_position`` None)."""
    if not result.ok:
        return result
    with database.raw_read() as con:
        report = check_file(
            con, db_path=database.path, log=settings.anchor_log, sidecar_of=database.path
        )
    if report.ok:
        return result
    problem = "; ".join(
        f"the log no longer extends {failure.message}" for failure in report.failures
    )
    return replace(result, ok=False, first_bad_position=None, problem=problem)


def identity_of(source: str) -> h.Identity:
    """Who runs this program, for every event's metadata: the OS account (never the
    environment), the host, the program version and ``source`` (gui, cli, …)."""
    return h.Identity(user=os_user(), host=host_name(), app_version=app_version(), source=source)


def bootstrap(
    settings: Settings,
    *,
    source: str = "gui",
    clock: Clock = utc_now,
    create: bool = True,
    projector_name: str = "main",
) -> App:
    """Open (or create) the database in ``settings`` and compose the application on it.

    A database created here is recorded in the anchor log (``created``): anchors of an earlier
    database at the same path no longer apply to it (R28). With ``settings.server`` the
    database is on a PostgreSQL server (see :func:`bootstrap_server`)."""
    if settings.server is not None:
        return bootstrap_server(settings, source=source, clock=clock, projector_name=projector_name)
    fresh = create and not settings.read_only and not settings.db_path.exists()
    database = open_database(
        settings.db_path,
        create=create,
        synchronous=settings.synchronous,
        busy_timeout_ms=settings.busy_timeout_ms,
        read_only=settings.read_only,
    )
    read_database: Database | None = None
    try:
        events = SqliteEventStore(database, clock=clock)
        snapshots = SqliteSnapshotStore(database, clock=clock, key_dir=settings.effective_key_dir)
        # The read model's own file: the projector and a rebuild never hold the event file's
        # write lock, so clerks' commands never wait for them.
        read_database = open_read_model_database(database)
        read_model = sqlite_read_model(database, read_database)
        projector = _projector(events, read_model, settings, projector_name, clock)
        # Creates the read-model tables; after a read-model schema change (or when the read
        # model was made from another log) they are reset and the projector's first run_once
        # is a full rebuild. Nothing is started here.
        projector.prepare()
        closers: list[Callable[[], None]] = [read_database.close, read_model.close]
        if not settings.read_only:  # its rate and last error, for `status` in another process
            reporter = StatusReporter(settings.db_path, user=os_user(), host=host_name())
            projector.add_listener(reporter)
            closers.append(reporter.close)  # popped first: gone before the tables close
        deps, commands, queries = compose(
            events,
            snapshots,
            identity=identity_of(source),
            snapshot_interval=settings.snapshot_interval,
            read=rh.ReadDeps(orders=read_model.queries, projector=projector),
            wake=projector.wake,
            queries={
                **store_query_handlers(settings, database, events, snapshots),
                **audit_query_handlers(events),
                **browse_query_handlers(SqliteLogBrowse(database), events),
            },
            maintenance=maintenance_handlers(settings, database, events, snapshots, clock),
            rejections=SqliteRejectionLog(database, clock=clock),
        )
        history = SqliteDeskHistory(database, read_database, projector_name=projector_name)
        queries.register_all(as_of_query_handlers(history, fold_desk, deps.orders))
        if fresh:
            _record_creation(database, settings)
    except BaseException:
        if read_database is not None:
            read_database.close()
        database.close()
        raise
    return App(
        read_model=read_model,
        read_database=read_database,
        projector=projector,
        closers=closers,
        settings=settings,
        database=database,
        events=events,
        snapshots=snapshots,
        commands=commands,
        queries=queries,
        deps=deps,
        info=replace(
            database.info,
            details={**database.info.details, "snapshots": snapshot_summary(snapshots.trust())},
        ),
    )


def bootstrap_server(
    settings: Settings,
    *,
    source: str = "gui",
    clock: Clock = utc_now,
    projector_name: str = "main",
) -> App:
    """Compose the application on an Order Desk database on a PostgreSQL server (issue 10).

    Never creates anything there (``desktop-app-admin init`` does, with the roles). The write
    side is the server's (events, commands, snapshots, rejections), and so is the read model
    (``store.postgres.read_side``: one projector at a time holds its lease, the others follow;
    a LISTEN thread wakes the projector on every commit anywhere). File-only tools (backups,
    anchors, WAL) are not offered: the server's backups are ``pg_dump``'s. ``app.database``
    is None.
    """
    # Imported here: psycopg is loaded only when a server is named (start-up time).
    from desktop_app.store.postgres.as_of_log import PostgresDeskHistory
    from desktop_app.store.postgres.database import open_postgres
    from desktop_app.store.postgres.event_browse import PgLogBrowse
    from desktop_app.store.postgres.event_store import PostgresEventStore, PostgresSnapshotStore
    from desktop_app.store.postgres.notify import start_change_listener
    from desktop_app.store.postgres.read_side import postgres_read_model
    from desktop_app.store.postgres.rejections import PostgresRejectionLog

    assert settings.server is not None
    server = open_postgres(
        settings.server.url,
        read_only=settings.read_only,
        lock_timeout_ms=settings.busy_timeout_ms,  # as a file's busy timeout (R8)
    )
    try:
        events = PostgresEventStore(server, clock=clock)
        snapshots = PostgresSnapshotStore(server, clock=clock, key_dir=settings.effective_key_dir)
        read_model = postgres_read_model(server)
        projector = _projector(events, read_model, settings, projector_name, clock)
        projector.prepare()

        def store_info(query: q.GetStoreInfo) -> StoreInfo:
            info = server.info
            details = {**info.details, "snapshots": snapshot_summary(snapshots.trust())}
            return replace(info, details=details)

        def verify_history(query: q.VerifyHistory) -> VerifyResult:
            # No anchors outside a server database (R28 is the file's); a saved digest is.
            return audit.verify_history(
                events,
                snapshots,
                progress=query.progress,
                chain_only=query.chain_only,
                cancel=query.cancel,
            )

        def check_digest(query: q.CheckDigest) -> q.DigestCheck:
            digest = read_digest(Path(query.path))
            return q.DigestCheck(
                path=query.path,
                digest=digest,
                result=events.check_digest(digest),
                head_position=events.head_position(),
            )

        deps, commands, queries = compose(
            events,
            snapshots,
            identity=identity_of(source),
            snapshot_interval=settings.snapshot_interval,
            read=rh.ReadDeps(orders=read_model.queries, projector=projector),
            wake=projector.wake,
            queries={
                q.GetStoreInfo: store_info,
                q.VerifyHistory: verify_history,
                q.CheckDigest: check_digest,
                **audit_query_handlers(events),
                **browse_query_handlers(PgLogBrowse(server), events),
            },
            rejections=PostgresRejectionLog(server, clock=clock),
        )
        history = PostgresDeskHistory(server, projector_name=projector_name)
        queries.register_all(as_of_query_handlers(history, fold_desk, deps.orders))
        # Commits on any workstation wake this projector (and, through it, the live lists).
        listener = start_change_listener(server, projector.wake)
    except BaseException:
        server.close()
        raise
    return App(
        read_model=read_model,
        projector=projector,
        # Closed last to first: the listener, the read model (it clears its owner row on the
        # still-open database), the database.
        closers=[server.close, read_model.close, listener.close],
        settings=settings,
        database=None,
        events=events,
        snapshots=snapshots,
        commands=commands,
        queries=queries,
        deps=deps,
        info=replace(
            server.info,
            details={**server.info.details, "snapshots": snapshot_summary(snapshots.trust())},
        ),
    )


def _record_creation(database: Database, settings: Settings) -> None:
    try:
        with database.raw() as con:
            anchor_now(
                con,
                db_path=database.path,
                log=settings.anchor_log,
                reason="created",
                clock=utc_now,
                if_empty=True,
            )
    except OSError as exc:  # the database is fine; only the record of its creation is missing
        log.warning("could not record the new database in %s: %s", settings.anchor_log, exc)


def bootstrap_in_memory(
    *, source: str = "test", clock: Clock = utc_now, snapshot_interval: int = 50
) -> App:
    """The same application over the in-memory stores, read side included (tests, demos);
    nothing is started: call ``app.projector.run_once()`` to bring the lists up to date."""
    from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore
    from desktop_app.store.memory_browse import InMemoryLogBrowse
    from desktop_app.store.memory_read_model import InMemoryReadModelTables, memory_read_model
    from desktop_app.store.rejection_log import InMemoryRejectionLog

    events = InMemoryEventStore(clock=clock)
    snapshots = InMemorySnapshotStore(events, clock=clock)
    tables = InMemoryReadModelTables(events)
    read_model = memory_read_model(events, tables)
    projector = Projector(events, read_model.feed, read_model.target, clock=clock)
    rejections = InMemoryRejectionLog(clock=clock)
    deps, commands, queries = compose(
        events,
        snapshots,
        identity=identity_of(source),
        snapshot_interval=snapshot_interval,
        rejections=rejections,
        read=rh.ReadDeps(orders=read_model.queries, projector=projector),
        wake=projector.wake,
        queries={
            **audit_query_handlers(events),
            **browse_query_handlers(InMemoryLogBrowse(events, rejections), events),
        },
    )
    from desktop_app.store.memory_as_of import InMemoryDeskHistory  # tests and demos only

    history = InMemoryDeskHistory(events, tables)
    queries.register_all(as_of_query_handlers(history, fold_desk, deps.orders))
    return App(
        read_model=read_model,
        projector=projector,
        closers=[read_model.close],
        settings=None,
        database=None,
        events=events,
        snapshots=snapshots,
        commands=commands,
        queries=queries,
        deps=deps,
        info=StoreInfo(location=":memory:", read_only=False),
    )
