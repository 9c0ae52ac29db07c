"""The background jobs: projector freshness, job options, shutdown, failing jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from desktop_app.bootstrap import App
from desktop_app.jobs import (
    ANCHOR_JOB,
    CHECKPOINT_JOB,
    PROJECTOR_JOB,
    SNAPSHOT_JOB,
    Jobs,
    JobsConfig,
    JobStatus,
    build_jobs,
)
from desktop_app.projector.projections import PROJECTIONS
from desktop_app.projector.runner import Projector

from .support import WAIT, Writer, change_price, wait_for

FAST = JobsConfig(
    projector_poll_seconds=0.2,
    snapshot_sweep_seconds=0.5,
    checkpoint_check_seconds=0.2,
    idle_seconds=0.5,
    backup_interval_seconds=None,
)


@pytest.fixture
def jobs(app: App) -> Iterator[Jobs]:
    running = build_jobs(app, FAST, backups=False)
    running.start()
    try:
        yield running
    finally:
        running.shutdown(wait=True)


def test_every_job_is_single_instance_and_coalesced(jobs: Jobs) -> None:
    assert set(jobs.job_ids()) == {PROJECTOR_JOB, SNAPSHOT_JOB, CHECKPOINT_JOB, ANCHOR_JOB}
    for job_id in jobs.job_ids():
        options = jobs.job_options(job_id)
        assert options["max_instances"] == 1
        assert options["coalesce"] is True
    assert jobs.job_options(PROJECTOR_JOB)["misfire_grace_time"] is None
    assert jobs.job_options(CHECKPOINT_JOB)["misfire_grace_time"] == FAST.misfire_grace_seconds


def test_in_process_commit_wakes_the_projector(app: App, product: str) -> None:
    """An in-process commit moves the projector job to *now*: with the poll an hour away, every
    commit is still projected. (How fast is P4's figure, measured by the benchmark.)"""
    projector = app.projector
    assert projector is not None
    jobs = build_jobs(app, replace(FAST, projector_poll_seconds=3600), backups=False)
    with jobs:
        # The start-up run (the job's first run is at start) is over: from now on only a wake
        # runs the projector.
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)
        for i in range(10):
            position = change_price(app, product, 100 + i)
            reached = wait_for(lambda p=position: projector.status().checkpoint >= p, WAIT)
            assert reached, position
        assert projector.status().lag == 0


def test_other_process_commits_are_seen_by_polling(
    app: App, product: str, jobs: Jobs, db: Path
) -> None:
    """Nothing wakes the projector for another process's commits: the poll finds them."""
    projector = app.projector
    assert projector is not None
    writer = Writer(db, product, limit=5)
    last = writer.stop()
    assert wait_for(lambda: projector.status().checkpoint >= last, WAIT)


def test_shutdown_stops_every_job_and_thread(app: App, product: str) -> None:
    before = set(threading.enumerate())
    jobs = build_jobs(app, FAST, backups=False)
    jobs.start()
    jobs.start()  # idempotent
    position = change_price(app, product, 123)
    projector = app.projector
    assert projector is not None
    # Projected by a job (not only a stale "no lag" from before the commit): a worker exists.
    assert wait_for(lambda: projector.status().checkpoint >= position, WAIT)
    assert len(set(threading.enumerate()) - before) >= 2  # scheduler + a worker
    jobs.shutdown(wait=True)
    jobs.shutdown(wait=True)  # idempotent
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []
    assert jobs.job_ids() == []
    assert not jobs.running
    # The wake hook is gone: a commit now neither fails nor needs the scheduler, and a
    # read-your-writes wait catches up in the caller's thread.
    position = change_price(app, product, 456)
    assert projector.wait_until(position, WAIT)
    # And it can be started again.
    jobs.start()
    try:
        position = change_price(app, product, 789)
        assert wait_for(lambda: projector.status().checkpoint >= position, WAIT)
    finally:
        jobs.shutdown()


class CountedProjector(Projector):
    """The real projector on the app's stores, counting its runs; ``slow`` event types take
    ``delay`` seconds each to project (a real projection with a sleep in front)."""

    def __init__(self, app: App, *, slow: str | None = None, delay: float = 0.0) -> None:
        projections = dict(PROJECTIONS)
        if slow is not None:
            real = PROJECTIONS[slow]
            self.projecting = threading.Event()

            def slow_projection(work: Any, event: Any, payload: Any) -> None:
                self.projecting.set()
                time.sleep(delay)
                real(work, event, payload)

            projections[slow] = slow_projection
        assert app.read_model is not None
        super().__init__(
            app.events,
            app.read_model.feed,
            app.read_model.target,
            name="counted",
            projections=projections,
        )
        self.prepare()
        self.runs = 0

    def run_once(self) -> int:
        self.runs += 1
        return super().run_once()


def test_a_failing_job_does_not_kill_the_scheduler(app: App) -> None:
    projector = CountedProjector(app)
    calls = [0]

    def broken_sweep() -> int:
        calls[0] += 1
        raise RuntimeError("disk on fire")

    seen: list[JobStatus] = []
    jobs = Jobs(
        config=JobsConfig(projector_poll_seconds=0.05, snapshot_sweep_seconds=0.05),
        projector=projector,
        snapshot_sweep=broken_sweep,
    )
    jobs.add_listener(seen.append)

    def broken_listener(status: JobStatus) -> None:
        raise ValueError(status.name)

    jobs.add_listener(broken_listener)  # a broken listener is survived too
    with jobs:
        assert wait_for(lambda: calls[0] >= 3, WAIT)
        runs = projector.runs
        projector.wake()
        assert wait_for(lambda: projector.runs > runs, WAIT)
        status = jobs.status()[SNAPSHOT_JOB]
        assert status.failures >= 3
        assert status.last_error == "RuntimeError: disk on fire"
        assert any(s.name == SNAPSHOT_JOB and s.last_error for s in seen)
        assert jobs.running


def test_a_wake_during_a_run_is_not_lost(app: App, product: str) -> None:
    projector = CountedProjector(app, slow="ProductPriceChanged", delay=0.3)
    projector.run_once()  # the product itself, before the scheduler starts
    jobs = Jobs(config=JobsConfig(projector_poll_seconds=30), projector=projector)
    with jobs:
        # The scheduler's first look at start-up is over (its run is recorded when done).
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)
        runs = projector.runs
        position = change_price(app, product, 1234)
        projector.wake()
        assert projector.projecting.wait(WAIT)
        assert projector.runs == runs + 1
        projector.wake()  # arrives while that run is still projecting
        assert wait_for(lambda: projector.runs == runs + 2, WAIT)
        assert wait_for(lambda: projector.status().checkpoint >= position, WAIT)
        # Looking for something that must NOT happen: a while without extra runs (a slow
        # machine makes this check weaker, never red).
        time.sleep(0.4)
        assert projector.runs == runs + 2  # poll interval is 30 s: no extra runs


def test_commits_that_follow_soon_are_projected_by_the_lingering_job(
    app: App, product: str
) -> None:
    """After a run the projector job stays on its worker for ``projector_linger_seconds``,
    waiting for the next in-process commit: a stream of commands with short gaps is projected
    by ONE job run (no scheduler round trip per burst). Shutdown ends the lingering at once."""
    projector = CountedProjector(app)  # (the app's commits wake the app's own projector)
    config = JobsConfig(projector_poll_seconds=3600, projector_linger_seconds=3600)
    jobs = Jobs(config=config, projector=projector)
    jobs.start()
    try:
        for i in range(3):
            position = change_price(app, product, 300 + i)
            projector.wake()
            assert wait_for(lambda p=position: projector.status().checkpoint >= p, WAIT)
        assert PROJECTOR_JOB not in jobs.status()  # the job's one run has not returned yet
    finally:
        stopper = threading.Thread(target=jobs.shutdown)
        stopper.start()
        stopper.join(WAIT)
    assert not stopper.is_alive()  # the lingering ended at shutdown, not after an hour
    assert jobs.status()[PROJECTOR_JOB].runs == 1
    # One projector run per awaited commit (each waited for before the next); the job's
    # start-up look may come before the first commit or take it along, so not counted.
    assert projector.runs >= 3


def test_a_read_your_writes_wait_ends_the_projectors_gathering_pause(
    app: App, product: str
) -> None:
    """Commits that came in during a run are gathered for a moment before the next run; a
    thread waiting for its own write (``wait_until``) does not wait that moment out."""
    from desktop_app.store.read_model import SqliteProjectionTarget

    projector, target = app.projector, app.read_model.target
    assert projector is not None and isinstance(target, SqliteProjectionTarget)
    pause = 3 * WAIT  # longer than the wait below allows: only hurrying can meet it
    jobs = build_jobs(
        app,
        replace(FAST, projector_poll_seconds=3600, projector_coalesce_seconds=pause),
        backups=False,
    )
    meanwhile: list[int] = []

    def commit_while_writing(step: str) -> None:
        if step == "rows_written" and not meanwhile:  # a commit while a batch writes
            meanwhile.append(change_price(app, product, 777))

    with jobs:
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)  # start-up run over
        target.fault = commit_while_writing
        first = change_price(app, product, 555)  # wakes the job, which gathers first
        assert projector.wait_until(first, WAIT)  # (hurried) its batch commits another
        assert meanwhile
        target.fault = None
        # The job now gathers commits for `pause` before projecting `meanwhile[0]`.
        assert projector.wait_until(meanwhile[0], WAIT)
        assert projector.status().checkpoint >= meanwhile[0]


def _target(app: App) -> Any:
    """The app's SQLite read-model target (its ``fault`` hook sees each batch's steps)."""
    from desktop_app.store.read_model import SqliteProjectionTarget

    assert app.read_model is not None
    target = app.read_model.target
    assert isinstance(target, SqliteProjectionTarget)
    return target


def _gathering_jobs(app: App, quiet: float, longest: float) -> Jobs:
    """Jobs whose projector runs only when woken, gathering for ``quiet`` s without a commit
    or ``longest`` s at most."""
    return build_jobs(
        app,
        replace(
            FAST,
            projector_poll_seconds=3600,
            projector_coalesce_seconds=quiet,
            projector_gather_max_seconds=longest,
        ),
        backups=False,
    )


def test_the_projector_gathers_streaming_commits_until_the_longest_pause(
    app: App, product: str
) -> None:
    """Commits that keep coming (closer together than the quiet gap) are gathered into one
    later run, up to ``projector_gather_max_seconds``: a stream of commands costs a few large
    read-model writes, not one each ``projector_coalesce_seconds``."""
    projector = app.projector
    assert projector is not None
    quiet, longest = 0.1, 0.6
    jobs = _gathering_jobs(app, quiet, longest)
    target = _target(app)
    steps: list[tuple[str, float]] = []
    meanwhile: list[int] = []

    def record(step: str) -> None:
        steps.append((step, time.monotonic()))
        if step == "rows_written" and not meanwhile:  # a commit while the first batch writes
            meanwhile.append(change_price(app, product, 777))

    def batches(step: str) -> list[float]:
        return [at for name, at in steps if name == step]

    with jobs:
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)  # start-up run over
        target.fault = record
        change_price(app, product, 555)  # wakes the job; its batch commits another
        assert wait_for(lambda: bool(batches("checkpoint_written")), WAIT)
        # The job now gathers: commit on, closer together than the quiet gap, until it runs.
        commits = [batches("checkpoint_written")[0]]
        last = meanwhile[0]
        deadline = time.monotonic() + WAIT
        while len(batches("loaded")) < 2 and time.monotonic() < deadline:
            last = change_price(app, product, 600 + len(commits) % 100)
            commits.append(time.monotonic())
        target.fault = None
        assert len(batches("loaded")) >= 2
        assert projector.wait_until(last, WAIT)
        second = batches("loaded")[1]
        gaps = [b - a for a, b in zip(commits, [*commits[1:], second], strict=True)]
        # A machine so busy that this thread stalled for a quiet gap ends the gathering
        # early, as it should: the check is then skipped (weaker, never red).
        if max(gaps) < quiet:
            assert second - commits[0] >= 0.9 * longest


def test_a_lone_commit_is_gathered_only_for_a_quiet_moment(app: App, product: str) -> None:
    """Once commits stop, the gathering ends after the quiet gap, not the longest pause."""
    projector = app.projector
    assert projector is not None
    jobs = build_jobs(
        app,
        replace(
            FAST,
            projector_poll_seconds=3600,
            projector_coalesce_seconds=0.05,
            projector_gather_max_seconds=3600,  # only the quiet gap can end it within WAIT
        ),
        backups=False,
    )
    target = _target(app)
    meanwhile: list[int] = []

    def commit_while_writing(step: str) -> None:
        if step == "rows_written" and not meanwhile:
            meanwhile.append(change_price(app, product, 777))

    with jobs:
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)
        target.fault = commit_while_writing
        first = change_price(app, product, 555)
        assert wait_for(lambda: bool(meanwhile), WAIT)
        target.fault = None
        assert wait_for(lambda: projector.status().checkpoint >= first, WAIT)
        # No read-your-writes wait here (it would hurry the job): the job's own next run.
        assert wait_for(lambda: projector.status().checkpoint >= meanwhile[0], WAIT)


def test_a_stream_of_commits_from_idle_is_gathered_before_the_first_run(
    app: App, product: str
) -> None:
    """The first commit of a stream does not start a run of its own: the job gathers the
    commits that follow it (closer together than the quiet gap) up to the longest pause."""
    projector = app.projector
    assert projector is not None
    quiet, longest = 0.1, 0.6
    jobs = _gathering_jobs(app, quiet, longest)
    target = _target(app)
    loaded: list[float] = []
    with jobs:
        assert wait_for(lambda: PROJECTOR_JOB in jobs.status(), WAIT)  # start-up run over
        target.fault = lambda step: loaded.append(time.monotonic()) if step == "loaded" else None
        commits: list[float] = []
        last = 0
        deadline = time.monotonic() + WAIT
        while not loaded and time.monotonic() < deadline:
            commits.append(time.monotonic())
            last = change_price(app, product, 600 + len(commits) % 100)
        target.fault = None
        assert loaded
        assert projector.wait_until(last, WAIT)
        gaps = [b - a for a, b in zip(commits, [*commits[1:], loaded[0]], strict=True)]
        if max(gaps) < quiet:  # (a stalled thread ends the gathering early: weaker, never red)
            assert loaded[0] - commits[0] >= 0.9 * longest
