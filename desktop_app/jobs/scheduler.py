"""Background jobs on an APScheduler ``BackgroundScheduler`` (headless; never QtScheduler).

Five jobs, each ``max_instances=1, coalesce=True``:

``projector``
    Every ``projector_poll_seconds`` it asks ``projector.has_news()`` (cheap) and runs
    ``run_once()`` only then. An in-process commit calls ``projector.wake()``, whose hook (installed
    here) moves the job's next run time to *now*; a wake that arrives while a run is in progress
    makes that run go round once more instead of being dropped. Either way the job first
    gathers the commits that follow (see ``JobsConfig.projector_coalesce_seconds``): a stream of
    commands is projected in a few large batches, a lone one a few ms later. After its last
    run the job lingers on its worker for ``projector_linger_seconds`` (still looking for
    news every ``projector_poll_seconds``): a commit meanwhile is projected without a round
    trip through the scheduler.
``snapshots``
    Every ``snapshot_sweep_seconds`` a sweep callable snapshots streams that lack a recent one.
``wal-checkpoint``
    Every ``checkpoint_check_seconds``: when nothing happened for ``idle_seconds`` (no wake, no
    projector progress) and the WAL is not empty, a checkpoint callable folds it into the
    database and truncates it; a WAL above ``wal_soft_limit_bytes`` is checkpointed even when busy
    (non-blocking PASSIVE). Together with ``journal_size_limit`` this keeps the WAL bounded (R9).
``backup``
    Every ``backup_check_seconds`` (and shortly after start): when the newest backup is older
    than ``backup_interval_seconds`` a backup callable takes one (with retention). Checking
    instead of a plain interval means a program restarted daily still backs up daily.
``anchor``
    The same check every ``anchor_check_seconds``: when the newest anchor of the database is
    older than ``anchor_interval_seconds`` an anchor callable writes the head of the hash chain
    outside the database (R28: at least daily, whatever the backups do).

A tick that falls due while the job's one instance still runs is declined quietly by the
executor (and counted, see :meth:`Jobs.skipped_runs`): the running instance covers it -- a
catch-up goes on while there is news, a wake makes it go round once more. APScheduler itself
logs such a tick as a WARNING ("maximum number of running instances reached"), so a long
projector catch-up at a 0.2 s cadence wrote five warnings a second into the log (R35).

One module over 500 lines on purpose: the lifecycle, the wake handling and the job bodies
share one lock and one state.

Nothing starts at import or construction: :meth:`Jobs.start` and :meth:`Jobs.shutdown` are
explicit and idempotent. A job never lets an exception reach APScheduler: it is logged and
reported in :class:`JobStatus` to the listeners.

This module knows no store: it is handed callables (:func:`desktop_app.jobs.wiring.build_jobs`
does that for a bootstrapped app).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from desktop_app.config import Settings

log = logging.getLogger("desktop_app.jobs")

PROJECTOR_JOB = "projector"
SNAPSHOT_JOB = "snapshots"
CHECKPOINT_JOB = "wal-checkpoint"
BACKUP_JOB = "backup"
ANCHOR_JOB = "anchor"

_EXECUTOR = "order_desk"


class _OneAtATimeExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """The thread pool, declining without a warning a run of a job that is still running.

    Every job here is single-instance and coalesced: a tick that falls due meanwhile has
    nothing to add to the run in progress, so it is normal operation, not something to warn
    about on every tick. Declined runs are counted per job, so they stay visible.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers)
        self.skipped: dict[str, int] = {}
        self._skipped_lock = threading.Lock()

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        """Submit as usual; a job at its instance limit is skipped and counted, silently."""
        try:
            super().submit_job(job, run_times)
        except MaxInstancesReachedError:
            with self._skipped_lock:
                self.skipped[job.id] = self.skipped.get(job.id, 0) + 1

    def skipped_counts(self) -> dict[str, int]:
        """A copy of the per-job counts of declined runs."""
        with self._skipped_lock:
            return dict(self.skipped)


class ProjectorLike(Protocol):
    """What the jobs need from the projector."""

    def run_once(self) -> int: ...

    def has_news(self) -> bool: ...

    def set_wake_hook(self, hook: Callable[[], None]) -> None: ...

    @property
    def hurried(self) -> threading.Event:
        """Set when someone waits for the lists (read-your-writes) or on shutdown: ends the
        job's gathering pause at once."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class JobsConfig:
    """Cadences of the background jobs (seconds). ``None`` leaves a job out."""

    projector_poll_seconds: float = 0.2
    projector_coalesce_seconds: float = 0.005
    """An in-process commit is projected together with the commits that follow it: the job
    (woken by it, or finding it came in during a run) gathers them for as long as more keep
    coming, and runs once this long passed without a commit (a user's command is in the
    lists about this much later: P4 well inside 50 ms)..."""
    projector_gather_max_seconds: float = 0.04
    """... or at the latest this long after it began. While commits stream (an import, a
    script: hundreds a second) the lists then follow every ~40 ms in a few large batches
    instead of many small ones, each a write transaction (~0.5 ms of CPU and the GIL,
    whatever its size) beside the clerk's commands (P1 with the projector)."""
    projector_linger_seconds: float = 0.5
    """After its last run the projector job stays this long on its worker, waiting for the
    next in-process commit (and looking for other processes' news every
    ``projector_poll_seconds`` meanwhile), before it returns: a stream of commands with short
    gaps is projected without a scheduler round trip per burst (~0.2 ms of CPU and the GIL
    each: moving the job's next run time, the scheduler thread handing it to a worker)."""
    snapshot_sweep_seconds: float | None = 600.0
    checkpoint_check_seconds: float | None = 30.0
    idle_seconds: float = 10.0
    wal_soft_limit_bytes: int = 16 * 1024 * 1024
    backup_interval_seconds: float | None = 24 * 3600.0
    backup_check_seconds: float = 600.0
    backup_first_check_seconds: float = 60.0
    anchor_interval_seconds: float | None = 24 * 3600.0
    anchor_check_seconds: float = 600.0
    misfire_grace_seconds: int = 300
    workers: int = 3

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> JobsConfig:
        """Cadences from the application settings (plus explicit overrides)."""
        interval = settings.backup_interval_hours * 3600.0
        config = cls(
            projector_poll_seconds=settings.projector_poll_seconds,
            backup_interval_seconds=interval if interval > 0 else None,
            backup_check_seconds=min(600.0, interval) if interval > 0 else 600.0,
            snapshot_sweep_seconds=600.0 if settings.snapshot_interval > 0 else None,
            anchor_interval_seconds=(
                settings.anchor_interval_hours * 3600.0
                if settings.anchor_interval_hours > 0
                else None
            ),
        )
        return replace(config, **overrides)


@dataclass(frozen=True, kw_only=True, slots=True)
class JobStatus:
    """How one job is doing (frozen; safe to hand to another thread)."""

    name: str
    runs: int = 0
    failures: int = 0
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_result: str | None = None


JobListener = Callable[[JobStatus], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Jobs:
    """The application's background jobs on one ``BackgroundScheduler``."""

    def __init__(
        self,
        *,
        config: JobsConfig | None = None,
        projector: ProjectorLike | None = None,
        snapshot_sweep: Callable[[], int] | None = None,
        wal_bytes: Callable[[], int] | None = None,
        checkpoint: Callable[[bool], object] | None = None,
        backup: Callable[[], object] | None = None,
        last_backup_at: Callable[[], datetime | None] | None = None,
        anchor: Callable[[], object] | None = None,
        last_anchor_at: Callable[[], datetime | None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``checkpoint(idle)`` checkpoints the WAL (``idle``: truncating is allowed);
        ``backup()`` takes a backup; ``last_backup_at()`` says when the newest was taken;
        ``anchor()`` writes an anchor of the chain head, ``last_anchor_at()`` says when the
        newest was written."""
        self.config = config or JobsConfig()
        self._projector = projector
        self._snapshot_sweep = snapshot_sweep
        self._wal_bytes = wal_bytes
        self._checkpoint = checkpoint
        self._backup = backup
        self._last_backup_at = last_backup_at
        self._anchor = anchor
        self._last_anchor_at = last_anchor_at
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._stopped = threading.Event()  # cuts a coalescing pause short at shutdown
        self._wake_pending = False
        self._woken = threading.Condition(self._lock)
        """Notified by a wake (and at shutdown): ends the projector job's lingering."""
        self._wakes = 0
        """In-process commits seen (wakes): a gathering pause ends when it stops growing."""
        self._in_projector = False
        self._last_activity = monotonic()
        self._listeners: list[JobListener] = []
        self._status: dict[str, JobStatus] = {}
        self._scheduler: BackgroundScheduler | None = None
        self._executor: _OneAtATimeExecutor | None = None

    # --- lifecycle

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`shutdown`."""
        return self._started

    def start(self) -> None:
        """Create the scheduler, add the jobs, install the wake hook and start (idempotent)."""
        with self._state_lock:
            if self._started:
                return
            # APScheduler logs "Running job …" at INFO for every run and the projector runs
            # several times a second: quieten only this scheduler's own executor logger.
            executor_log = logging.getLogger(f"apscheduler.executors.{_EXECUTOR}")
            if executor_log.level == logging.NOTSET:
                executor_log.setLevel(logging.WARNING)
            self._executor = _OneAtATimeExecutor(self.config.workers)
            scheduler = BackgroundScheduler(
                executors={_EXECUTOR: self._executor},
                job_defaults={
                    "max_instances": 1,
                    "coalesce": True,
                    "misfire_grace_time": self.config.misfire_grace_seconds,
                },
                timezone=UTC,
                daemon=True,
            )
            self._add_jobs(scheduler)
            self._stopping = False
            self._stopped.clear()
            self._scheduler = scheduler
            scheduler.start()
            self._started = True
            if self._projector is not None:
                self._projector.set_wake_hook(self._wake)

    def shutdown(self, wait: bool = True) -> None:
        """Stop every job; with ``wait`` the running ones finish first (idempotent).

        The projector's wake hook is removed, so ``wait_until`` runs the catch-up itself again.
        """
        with self._state_lock:
            if not self._started:
                return
            self._stopping = True
            self._stopped.set()
            with self._lock:
                self._woken.notify_all()  # a lingering projector job returns now
            hurried = self._hurried()
            if hurried is not None:
                hurried.set()  # ends a gathering pause of the projector job now
            self._started = False
            if self._projector is not None:
                # The projector treats "no hook" as "run the catch-up in the caller's thread".
                self._projector.set_wake_hook(cast("Callable[[], None]", None))
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                scheduler.shutdown(wait=wait)

    def __enter__(self) -> Jobs:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    def _add_jobs(self, scheduler: BackgroundScheduler) -> None:
        cfg = self.config
        now = self._clock()
        if self._projector is not None:
            scheduler.add_job(
                self._guarded(PROJECTOR_JOB, self._projector_tick),
                "interval",
                executor=_EXECUTOR,
                seconds=cfg.projector_poll_seconds,
                id=PROJECTOR_JOB,
                name=PROJECTOR_JOB,
                # A late catch-up is still worth running (after a suspend, say): once.
                misfire_grace_time=None,
                next_run_time=now,
            )
        if self._snapshot_sweep is not None and cfg.snapshot_sweep_seconds:
            scheduler.add_job(
                self._guarded(SNAPSHOT_JOB, self._snapshot_tick),
                "interval",
                executor=_EXECUTOR,
                seconds=cfg.snapshot_sweep_seconds,
                id=SNAPSHOT_JOB,
                name=SNAPSHOT_JOB,
            )
        if self._checkpoint is not None and cfg.checkpoint_check_seconds:
            scheduler.add_job(
                self._guarded(CHECKPOINT_JOB, self._checkpoint_tick),
                "interval",
                executor=_EXECUTOR,
                seconds=cfg.checkpoint_check_seconds,
                id=CHECKPOINT_JOB,
                name=CHECKPOINT_JOB,
            )
        if self._backup is not None and cfg.backup_interval_seconds:
            scheduler.add_job(
                self._guarded(BACKUP_JOB, self._backup_tick),
                "interval",
                executor=_EXECUTOR,
                seconds=cfg.backup_check_seconds,
                id=BACKUP_JOB,
                name=BACKUP_JOB,
                next_run_time=now + timedelta(seconds=cfg.backup_first_check_seconds),
            )
        if self._anchor is not None and cfg.anchor_interval_seconds:
            scheduler.add_job(
                self._guarded(ANCHOR_JOB, self._anchor_tick),
                "interval",
                executor=_EXECUTOR,
                seconds=cfg.anchor_check_seconds,
                id=ANCHOR_JOB,
                name=ANCHOR_JOB,
                next_run_time=now + timedelta(seconds=cfg.backup_first_check_seconds),
            )

    # --- status and listeners

    def add_listener(self, callback: JobListener) -> None:
        """Call ``callback(status)`` from a worker thread after a job ran (the projector job:
        only when it applied events or failed)."""
        self._listeners.append(callback)

    def status(self) -> dict[str, JobStatus]:
        """The latest status of every job that has run."""
        with self._lock:
            return dict(self._status)

    def skipped_runs(self) -> dict[str, int]:
        """Per job, the ticks that fell due while it was still running (declined quietly)."""
        executor = self._executor
        return {} if executor is None else executor.skipped_counts()

    def job_ids(self) -> list[str]:
        """Ids of the scheduled jobs (empty when not running)."""
        scheduler = self._scheduler
        return [job.id for job in scheduler.get_jobs()] if scheduler is not None else []

    def job_options(self, job_id: str) -> dict[str, Any]:
        """``max_instances``, ``coalesce``, ``misfire_grace_time`` and the trigger of a job."""
        scheduler = self._scheduler
        if scheduler is None:
            raise LookupError("the jobs are not running")
        job = scheduler.get_job(job_id)
        if job is None:
            raise LookupError(f"no job {job_id!r}")
        return {
            "max_instances": job.max_instances,
            "coalesce": job.coalesce,
            "misfire_grace_time": job.misfire_grace_time,
            "trigger": job.trigger,
            "executor": job.executor,
        }

    def run_now(self, job_id: str) -> None:
        """Ask the scheduler to run a job at once (no-op when stopped or unknown)."""
        scheduler = self._scheduler
        if scheduler is None or not self._started:
            return
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            scheduler.modify_job(job_id, next_run_time=self._clock())

    def _record(self, name: str, *, ok: bool, result: str | None, error: str | None) -> JobStatus:
        with self._lock:
            old = self._status.get(name) or JobStatus(name=name)
            now = self._clock()
            new = replace(
                old,
                runs=old.runs + 1,
                failures=old.failures + (0 if ok else 1),
                last_run_at=now,
                last_ok_at=now if ok else old.last_ok_at,
                last_error=error if not ok else None,
                last_result=result if ok else old.last_result,
            )
            self._status[name] = new
        return new

    def _publish(self, status: JobStatus) -> None:
        for callback in list(self._listeners):
            try:
                callback(status)
            except Exception:
                log.exception("job status listener failed")

    def _guarded(self, name: str, body: Callable[[], str | None]) -> Callable[[], None]:
        """The job as APScheduler sees it: it never raises."""

        def run() -> None:
            try:
                result = body()
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("background job %s failed", name)
                self._publish(self._record(name, ok=False, result=None, error=error))
                return
            status = self._record(name, ok=True, result=result, error=None)
            if name != PROJECTOR_JOB or result is not None:
                self._publish(status)

        run.__name__ = f"order_desk_{name.replace('-', '_')}"
        run.__qualname__ = run.__name__
        return run

    # --- activity and waking

    def notify_activity(self) -> None:
        """Something was written (in-process commit, projector progress): not idle now."""
        self._last_activity = self._monotonic()

    def idle_for(self) -> float:
        """Seconds since the last activity."""
        return self._monotonic() - self._last_activity

    def _hurried(self) -> threading.Event | None:
        """The projector's "someone waits for the lists" event (None: no projector job)."""
        return None if self._projector is None else self._projector.hurried

    def _wake(self) -> None:
        """The projector's wake hook: run the projector job now."""
        self.notify_activity()
        with self._lock:
            self._wake_pending = True
            self._wakes += 1
            if self._in_projector or not self._started:
                self._woken.notify_all()  # a lingering tick runs again
                return  # the running tick goes round once more
            scheduler = self._scheduler
        if scheduler is None:
            return
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            scheduler.modify_job(PROJECTOR_JOB, next_run_time=self._clock())

    # --- job bodies (each returns a short result text, or None for "nothing to report")

    def _projector_tick(self) -> str | None:
        projector = self._projector
        assert projector is not None
        hurried = self._hurried()
        with self._lock:
            self._in_projector = True
            woken = self._wake_pending
        total = 0
        linger, poll = self.config.projector_linger_seconds, self.config.projector_poll_seconds
        try:
            if woken:
                # Woken by a commit of this process: more may follow at once (a stream of
                # commands, an import), so they are gathered before the first run too. A
                # lone commit waits only the quiet gap; a read-your-writes wait not at all.
                self._gather(hurried)
            ran_at = time.monotonic()
            while True:
                with self._lock:
                    woken, self._wake_pending = self._wake_pending, False
                if hurried is not None:
                    hurried.clear()  # this run reads every commit its waiter waits for
                if projector.has_news() or woken:
                    ran_at = time.monotonic()
                    applied = projector.run_once()
                    if applied:
                        total += applied
                        self.notify_activity()
                with self._lock:
                    if not self._wake_pending and not self._stopping:
                        # Linger for the next commit of this process (see the config); the
                        # poll's look for other processes' news goes on meanwhile (the
                        # scheduler declines its ticks while this job runs).
                        remaining = ran_at + linger - time.monotonic()
                        if remaining > 0:
                            self._woken.wait(min(remaining, poll))
                            if not self._wake_pending and not self._stopping:
                                continue  # the poll's look (has_news) at the loop's top
                    if not self._wake_pending or self._stopping:
                        self._in_projector = False
                        break
                # Commits came in while this run worked (or lingered): project them together
                # with those that follow (one write transaction instead of one each).
                self._gather(hurried)
        except BaseException:
            with self._lock:
                self._in_projector = False
            raise
        return f"applied {total} events" if total else None

    def _gather(self, hurried: threading.Event | None) -> None:
        """The pause before the next run: over once ``projector_coalesce_seconds`` pass
        without an in-process commit, or ``projector_gather_max_seconds`` after it began, or
        at once when someone waits for the lists (``hurried``; shutdown sets it too)."""
        quiet = self.config.projector_coalesce_seconds
        if quiet <= 0:
            return
        waiter = hurried or self._stopped
        # Real time (the waits are), not the injectable clock of the idle checks.
        deadline = time.monotonic() + max(quiet, self.config.projector_gather_max_seconds)
        while True:
            with self._lock:
                seen = self._wakes
            remaining = deadline - time.monotonic()
            if remaining <= 0 or waiter.wait(min(quiet, remaining)):
                return
            with self._lock:
                if self._wakes == seen or self._stopping:
                    return  # a quiet moment: the burst is over

    def _snapshot_tick(self) -> str:
        assert self._snapshot_sweep is not None
        taken = self._snapshot_sweep()
        return f"{taken} snapshots taken"

    def _checkpoint_tick(self) -> str | None:
        assert self._checkpoint is not None
        wal = self._wal_bytes() if self._wal_bytes is not None else None
        idle = self.idle_for() >= self.config.idle_seconds
        if idle and (wal is None or wal > 0):
            result = self._checkpoint(True)
            return f"idle checkpoint: {result}"
        if wal is not None and wal > self.config.wal_soft_limit_bytes:
            result = self._checkpoint(False)
            return f"checkpoint of a {wal}-byte WAL: {result}"
        return None

    def _backup_tick(self) -> str | None:
        assert self._backup is not None
        interval = self.config.backup_interval_seconds
        if interval is None:
            return None
        last = self._last_backup_at() if self._last_backup_at is not None else None
        if last is not None and (self._clock() - last).total_seconds() < interval:
            return None
        result = self._backup()
        return f"backup taken: {result}"

    def _anchor_tick(self) -> str | None:
        assert self._anchor is not None
        interval = self.config.anchor_interval_seconds
        if interval is None:
            return None
        last = self._last_anchor_at() if self._last_anchor_at is not None else None
        if last is not None and (self._clock() - last).total_seconds() < interval:
            return None
        result = self._anchor()
        return f"anchor written: {result}"


__all__ = [
    "ANCHOR_JOB",
    "BACKUP_JOB",
    "CHECKPOINT_JOB",
    "PROJECTOR_JOB",
    "SNAPSHOT_JOB",
    "JobStatus",
    "Jobs",
    "JobsConfig",
    "ProjectorLike",
]
