"""The projector: catches the read model up with the event log, one transaction per batch.

Each batch reads events after the checkpoint, loads the rows they touch, applies the pure
projections in memory and writes the rows plus the new checkpoint in ONE transaction whose
checkpoint update is a compare-and-set on the old value (R4, R5). A failing projection stops the
projector at that event (everything before it is applied and checkpointed) and is reported in
:class:`ProjectorStatus`; the next run retries from there.

Nothing here starts a thread: the scheduler calls :meth:`Projector.run_once` (and installs a
wake hook); the headless runner in ``__main__`` loops on it.

Over 500 lines on purpose: catch-up, bulk rebuild and status share the checkpoint rules (R4, R5).
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from desktop_app.application.ports import (
    READ_MODEL_CHECKPOINT,
    CheckpointConflictError,
    EventFeed,
    EventRecord,
    EventStore,
    NotReadModelOwnerError,
    ProjectionTarget,
    ReadModelOwner,
    StoreReadOnlyError,
    WorkingSet,
)
from desktop_app.application.queries import ProjectorStatus
from desktop_app.projector.projections import (
    PROJECTIONS,
    Projection,
    ProjectionError,
    keys_for,
    placed_in,
    project_rebuild,
)
from desktop_app.projector.projections import project as apply_events

log = logging.getLogger("desktop_app.projector")

REBUILD_BATCH = 25_000
"""Events per transaction when far behind (and in the batch-by-batch rebuild fallback)."""

REBUILD_CHUNK = 50_000
"""Events read (and reported as progress) at a time by the in-memory full rebuild."""

SCAN_SHARE = 0.6
"""Share of a full rebuild's reported progress taken by the scan; the final write (rows,
search index, indexes: seconds at 1M orders) reports the rest."""

_INDEXED = ("OrderPlaced", "OrderLineAdded", "CustomerRenamed", "ProductRenamed")
"""The projections that keep and use :class:`WorkingSet`'s rename indexes."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Projector:
    """Keeps the read model current; safe to call from several threads (one run at a time)."""

    def __init__(
        self,
        events: EventStore,
        feed: EventFeed,
        target: ProjectionTarget,
        *,
        name: str = "main",
        batch_size: int = 1000,
        clock: Callable[[], datetime] = _utc_now,
        projections: Mapping[str, Projection] = PROJECTIONS,
        bulk_catch_up: bool = True,
    ) -> None:
        self._events = events
        self._feed = feed
        self._target = target
        self._name = name
        self._batch_size = batch_size
        # Headless, big batches catch up fastest. Beside a GUI in the same process they hold
        # the GIL for tens of ms per batch (json decoding, executemany) and the window stutters,
        # so the GUI keeps batches small instead.
        self._bulk_catch_up = bulk_catch_up
        self._clock = clock
        self._projections = projections
        self._run_lock = threading.RLock()
        self._changed = threading.Condition()
        self._listeners: list[Callable[[ProjectorStatus], None]] = []
        self._wake_hook: Callable[[], None] | None = None
        self.woken = threading.Event()
        """Set by :meth:`wake`; a simple loop may wait on it."""
        self.hurried = threading.Event()
        """Set by :meth:`wait_until` before it wakes the projector: someone waits for the
        lists, so a scheduler's pause to gather more commits before the next run ends now."""
        self._last_data_version: int | None = None
        self._owns = False
        """This process projects into the tables (R33); else it only follows their owner."""
        self._needs_rebuild = False
        self._status = ProjectorStatus(
            checkpoint=0, head=0, lag=0, events_per_second=0.0, running=False
        )

    # --- status and listeners

    @property
    def name(self) -> str:
        """The projector's name: how it shows as the read model's owner and in logs."""
        return self._name

    @property
    def checkpoint_name(self) -> str:
        """The tables' one checkpoint (the same whatever the projector's name, R33)."""
        return READ_MODEL_CHECKPOINT

    def status(self) -> ProjectorStatus:
        """The latest status (frozen; safe to hand to another thread)."""
        return self._status

    def add_listener(self, callback: Callable[[ProjectorStatus], None]) -> None:
        """Call ``callback(status)`` from the projector's thread after every batch/state change."""
        self._listeners.append(callback)

    def _publish(self, status: ProjectorStatus) -> None:
        with self._changed:
            self._status = status
            self._changed.notify_all()
        for callback in list(self._listeners):
            try:
                callback(status)
            except Exception:  # a broken listener must not stop the projector
                log.exception("projector status listener failed")

    def _status_with(
        self,
        *,
        checkpoint: int,
        head: int,
        rate: float,
        running: bool,
        error: str | None = None,
        failed: int | None = None,
        read_only: bool = False,
        owner: str | None = None,
    ) -> ProjectorStatus:
        lag = max(0, head - checkpoint)
        return ProjectorStatus(
            checkpoint=checkpoint,
            head=head,
            lag=lag,
            events_per_second=rate,
            running=running,
            last_error=error,
            failed_position=failed,
            updated_at=self._clock(),
            # Known before the first write is tried, so the GUI never says "catching up"
            # for lists that cannot catch up.
            read_only=read_only or bool(lag and self._target.read_only),
            owner=owner,
        )

    # --- waking

    def wake(self) -> None:
        """A commit happened in this process: run soon."""
        self.woken.set()
        hook = self._wake_hook
        if hook is not None:
            hook()

    def set_wake_hook(self, hook: Callable[[], None]) -> None:
        """Install how to run the job now (the scheduler's business)."""
        self._wake_hook = hook

    def has_news(self) -> bool:
        """Cheap: has another connection committed since the last look, or is there a lag?"""
        version = self._target.data_version()
        changed = version != self._last_data_version
        self._last_data_version = version
        # A read-only file's lag cannot shrink here: wait for another process's commit.
        behind = self._status.head > self._status.checkpoint and not self._status.read_only
        # Following another process's projector: look every time, to take over at once when
        # it stops (its OS lock is gone the moment its process ends, even when killed).
        following = self._status.owner is not None
        return changed or behind or following

    # --- running

    def run_once(self) -> int:
        """Catch up in batches to the log's end as the last (short) batch read it; returns
        events applied. Never raises for a failed projection or a store problem: both are
        recorded in :meth:`status`."""
        if self._needs_rebuild:
            self._needs_rebuild = False
            applied = self.rebuild()
            if self._status.owner is None:
                return applied
            # Another process projects into these tables (and rebuilds them): just follow.
        return self._run(self._batch_size)

    def prepare(self) -> bool:
        """Create the read-model tables; True when a read-model schema change reset them, in
        which case the next :meth:`run_once` is a full :meth:`rebuild`."""
        reset = self._target.prepare()
        self._needs_rebuild = self._needs_rebuild or reset
        try:  # a truthful status before the first run (the GUI asks for it at once)
            checkpoint = self._target.checkpoint(READ_MODEL_CHECKPOINT)
            head = self._feed.head_position()
        except Exception:  # the first run reports it properly
            log.debug("projector %s: no initial status", self._name, exc_info=True)
        else:
            with self._changed:
                self._status = self._status_with(
                    checkpoint=checkpoint, head=head, rate=0.0, running=False
                )
        return reset

    def _run(self, batch_size: int, progress: Callable[[int, int], None] | None = None) -> int:
        with self._run_lock:
            self.woken.clear()
            applied = 0
            started = time.perf_counter()
            try:
                owner = self._claim()
                checkpoint = self._target.checkpoint(READ_MODEL_CHECKPOINT)
                head = self._feed.head_position()
            except Exception as exc:
                self._publish(
                    self._status_with(
                        checkpoint=self._status.checkpoint,
                        head=self._status.head,
                        rate=0.0,
                        running=False,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )
                return 0
            if owner is not None:  # another process projects: follow its progress
                status = self._status_with(
                    checkpoint=checkpoint, head=head, rate=0.0, running=False, owner=owner
                )
                if replace(status, updated_at=None) != replace(self._status, updated_at=None):
                    self._publish(status)  # (polled often while following: news only)
                return 0
            self._publish(
                self._status_with(
                    checkpoint=checkpoint, head=head, rate=0.0, running=checkpoint < head
                )
            )
            if self._bulk_catch_up and head - checkpoint > 10 * batch_size:
                batch_size = max(batch_size, REBUILD_BATCH)  # far behind: catch up in bulk
            error: str | None = None
            failed: int | None = None
            read_only = False
            while True:
                try:
                    events = self._feed.read_events(after_position=checkpoint, limit=batch_size)
                    if not events:
                        break
                    try:
                        checkpoint = self._apply(checkpoint, events)
                    except ProjectionError as exc:
                        checkpoint = self._apply_prefix(checkpoint, events, exc)
                        failed = exc.event.position
                        error = str(exc)
                        log.error("projector %s stopped: %s", self._name, exc)
                        applied += self._count_upto(events, checkpoint)
                        break
                    applied += len(events)
                    head = max(head, events[-1].position)
                    if len(events) < batch_size:
                        # Short: the log's end as it was read. Events committed since are
                        # news for the next run, which the scheduler holds back a moment to
                        # take them together (going round here at once made batches of a
                        # few events while commands kept coming: each batch costs its own
                        # transaction, ~1 ms of CPU beside the clerk's thread).
                        break
                except CheckpointConflictError as exc:
                    # Another projector got there first; continue from where it is now.
                    log.info("projector %s: %s", self._name, exc)
                    checkpoint = exc.actual
                    continue
                except StoreReadOnlyError:
                    # Not a failure: this file cannot be written, so the lists stay behind
                    # until it is opened writable (or another process catches them up).
                    read_only = True
                    break
                except NotReadModelOwnerError as exc:
                    # Another process holds the tables now (our hold was lost): follow it.
                    self._owns = False
                    owner = exc.owner.describe() if exc.owner is not None else "another process"
                    log.warning("projector %s: %s", self._name, exc)
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("projector %s: %s", self._name, error)
                    break
                elapsed = time.perf_counter() - started
                rate = applied / elapsed if elapsed > 0 else 0.0
                if progress is not None:
                    progress(checkpoint, max(head, checkpoint))
                if checkpoint < head:  # still catching up (the run's end is published below:
                    # a batch that reached the head would only announce it twice, and each
                    # status costs its listeners, the report file among them)
                    self._publish(
                        self._status_with(checkpoint=checkpoint, head=head, rate=rate, running=True)
                    )
            elapsed = time.perf_counter() - started
            rate = applied / elapsed if elapsed > 0 and applied else 0.0
            try:
                head = max(head, self._feed.head_position())
            except Exception as exc:  # keep the older head
                error = error or f"{type(exc).__name__}: {exc}"
            self._publish(
                self._status_with(
                    checkpoint=checkpoint,
                    head=head,
                    rate=rate,
                    running=False,
                    error=error,
                    failed=failed,
                    read_only=read_only,
                    owner=owner,
                )
            )
            return applied

    def _claim(self) -> str | None:
        """Own the tables (R33) or learn who does: None when this process may project (or
        the file is read-only: nobody writes then), else who projects, in words."""
        if self._target.read_only:
            return None
        if self._target.claim(self._name):
            if not self._owns:
                self._owns = True
                log.info("projector %s: projecting into the read model", self._name)
            return None
        self._owns = False
        owner: ReadModelOwner | None = self._target.owner()
        return owner.describe() if owner is not None else "another process"

    @staticmethod
    def _count_upto(events: Sequence[EventRecord], checkpoint: int) -> int:
        return sum(1 for e in events if e.position <= checkpoint)

    def _apply(self, checkpoint: int, events: Sequence[EventRecord]) -> int:
        """One transaction: load rows, project, write rows and the checkpoint (CAS)."""
        new_checkpoint = events[-1].position
        with self._target.batch(READ_MODEL_CHECKPOINT, checkpoint) as batch:
            keys = keys_for(events)
            keys.orders.difference_update(placed_in(events))
            work: WorkingSet = batch.load(keys)
            apply_events(work, events, self._projections)
            batch.save(work, new_checkpoint)
        return new_checkpoint

    def _apply_prefix(
        self, checkpoint: int, events: Sequence[EventRecord], failure: ProjectionError
    ) -> int:
        """Apply the events before the failing one so the projector stops exactly there."""
        prefix = [e for e in events if e.position < failure.event.position]
        if not prefix:
            return checkpoint
        return self._apply(checkpoint, prefix)

    # --- read-your-writes

    def wait_until(self, position: int, timeout: float) -> bool:
        """Block until the read model has reached ``position``; False on timeout.

        Without a scheduler (no wake hook) the caller's thread runs the catch-up itself.
        """
        deadline = time.monotonic() + timeout
        hurry = True
        while True:
            if self._status.checkpoint >= position:
                return True
            try:
                if self._target.checkpoint(READ_MODEL_CHECKPOINT) >= position:
                    return True
            except Exception:
                log.debug("checkpoint read failed while waiting", exc_info=True)
            if self._wake_hook is None:
                self.run_once()
                if self._status.checkpoint >= position:
                    return True
                if self._status.failed_position is not None:
                    return False
            elif hurry:
                # Once: the run that follows reads every commit made before (a run under way
                # goes round once more). Hurrying again at each status of that run made the
                # scheduler start another run at once after it, which took the first few
                # commits that came next alone (a write transaction for a handful of events).
                self.hurried.set()
                self.wake()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                # No status for a while (a wake lost somewhere, another process): hurry again.
                hurry = not self._changed.wait(min(remaining, 0.05))

    # --- rebuild

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild every read-model row from position 0; returns events applied.

        Every event is read in one lean scan and projected in memory into ONE working set
        (with rename indexes); then the target replaces the whole read model by it in one
        atomic swap (``replace_all``; the SQLite file's is built aside and copied in: commands
        of other processes go on meanwhile, R34), and the events committed since the scan are
        projected as usual. Until the swap, readers keep seeing the old read model and its
        checkpoint. Never raises: problems go to :meth:`status`.
        If a projection fails, the rebuild starts again batch by batch, which stops exactly at
        the failing event with everything before it applied (as :meth:`run_once` does).
        """
        with self._run_lock:
            self.woken.clear()
            self._needs_rebuild = False
            started = time.perf_counter()
            try:
                owner = self._claim()
                committed = self._target.checkpoint(READ_MODEL_CHECKPOINT)
                head = self._feed.head_position()
            except Exception as exc:
                self._publish_error(exc)
                return 0
            if owner is not None:
                self._publish(
                    self._status_with(
                        checkpoint=committed,
                        head=head,
                        rate=0.0,
                        running=False,
                        error=f"Not rebuilt: the lists are kept up to date by {owner}. "
                        "Rebuild them there, or stop that process first.",
                        owner=owner,
                    )
                )
                return 0
            self._publish(
                self._status_with(checkpoint=committed, head=head, rate=0.0, running=True)
            )
            if progress is not None:
                progress(0, head)
            work = self._empty_working_set()
            fold = self._rebuild_fold(work)
            applied = last = 0
            failed = False
            # The working set grows to millions of objects: with the cyclic GC on, each full
            # collection walks them all (measured: ~40% of the rebuild). Nothing here makes
            # cycles; the GC is switched back on (if it was) as soon as the swap is done.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                with self._feed.scan_events(after_position=0, chunk=REBUILD_CHUNK) as scan:
                    for events in scan:
                        fold(events)
                        applied += len(events)
                        last = events[-1].position
                        head = max(head, last)
                        elapsed = time.perf_counter() - started
                        if progress is not None and last < head:
                            # (head, head) only once it is written
                            progress(int(last * SCAN_SHARE), head)
                        self._publish(
                            self._status_with(
                                checkpoint=committed,
                                head=head,
                                rate=applied / elapsed if elapsed > 0 else 0.0,
                                running=True,
                            )
                        )
                self._target.replace_all(
                    READ_MODEL_CHECKPOINT, work, last, self._write_progress(progress, head)
                )
            except ProjectionError as exc:
                log.warning("projector %s: rebuilding batch by batch: %s", self._name, exc)
                failed = True
            except Exception as exc:
                log.warning("projector %s: rebuild failed: %s", self._name, exc)
                self._publish_error(exc)
                return 0
            finally:
                # Freed before the GC is back on: its first collection would otherwise walk
                # every object made since the scan began (they are all still "young").
                del work, fold
                if gc_was_enabled:
                    gc.enable()
            if failed:
                return self._rebuild_in_batches(progress)
            elapsed = time.perf_counter() - started
            try:
                head = max(head, self._feed.head_position())
            except Exception:  # keep the older head
                log.debug("head read failed after a rebuild", exc_info=True)
            self._publish(
                self._status_with(
                    checkpoint=last,
                    head=head,
                    rate=applied / elapsed if elapsed > 0 and applied else 0.0,
                    running=False,
                )
            )
            if progress is not None:
                progress(last, max(head, last))
            # Commands went on during the rebuild (R34): what they added since the scan's
            # snapshot is projected now, in ordinary batches.
            return applied + self._run(self._batch_size)

    @staticmethod
    def _write_progress(
        progress: Callable[[int, int], None] | None, head: int
    ) -> Callable[[float], None] | None:
        """The final write's fraction as rebuild progress: from the scan's share up to just
        below ``head`` (``(head, head)`` is only reported once the swap is committed)."""
        if progress is None or head <= 0:
            return None
        base = int(head * SCAN_SHARE)
        reported = -1

        def write_progress(fraction: float) -> None:
            nonlocal reported
            done = min(head - 1, base + int((head - base) * fraction))
            if done > reported:
                reported = done
                progress(done, head)

        return write_progress

    def _rebuild_fold(self, work: WorkingSet) -> Callable[[Sequence[EventRecord]], None]:
        """How the in-memory rebuild applies a chunk of events to ``work``: the specialised
        fold when the projections are the standard ones (same rows, fewer steps per event)."""
        projections = self._projections
        standard = len(projections) == len(PROJECTIONS) and all(
            projections.get(name) is projection for name, projection in PROJECTIONS.items()
        )
        if standard and work.orders_by_customer is not None:
            return functools.partial(project_rebuild, work)
        return functools.partial(apply_events, work, projections=projections)

    def _empty_working_set(self) -> WorkingSet:
        """With rename indexes when the projections that keep them are the standard ones."""
        projections = self._projections
        if all(projections.get(name) is PROJECTIONS[name] for name in _INDEXED):
            return WorkingSet.indexed()
        return WorkingSet()

    def _publish_error(self, exc: BaseException) -> None:
        self._publish(
            self._status_with(
                checkpoint=self._status.checkpoint,
                head=self._status.head,
                rate=0.0,
                running=False,
                error=f"{type(exc).__name__}: {exc}",
            )
        )

    def _rebuild_in_batches(self, progress: Callable[[int, int], None] | None = None) -> int:
        """The batch-by-batch rebuild: reset, then catch up one transaction per batch."""
        with self._run_lock:
            head = self._feed.head_position()
            self._target.reset(READ_MODEL_CHECKPOINT)
            self._publish(self._status_with(checkpoint=0, head=head, rate=0.0, running=True))
            if progress is not None:
                progress(0, head)
            self._target.begin_bulk()
            try:
                applied = self._run(max(self._batch_size, REBUILD_BATCH), progress)
            finally:
                self._target.end_bulk()
            return applied
