"""Background jobs: the scheduler (:mod:`.scheduler`, APScheduler, store-agnostic) and their
wiring to a bootstrapped application (:mod:`.wiring`). Above the store, the projector and the
bootstrap: none of them imports this package."""

from desktop_app.jobs.scheduler import (
    ANCHOR_JOB,
    BACKUP_JOB,
    CHECKPOINT_JOB,
    PROJECTOR_JOB,
    SNAPSHOT_JOB,
    Jobs,
    JobsConfig,
    JobStatus,
)
from desktop_app.jobs.wiring import SWEEP_LIMIT, build_jobs, sweep_snapshots

__all__ = [
    "ANCHOR_JOB",
    "BACKUP_JOB",
    "CHECKPOINT_JOB",
    "PROJECTOR_JOB",
    "SNAPSHOT_JOB",
    "SWEEP_LIMIT",
    "JobStatus",
    "Jobs",
    "JobsConfig",
    "build_jobs",
    "sweep_snapshots",
]
