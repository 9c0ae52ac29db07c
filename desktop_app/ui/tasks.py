"""Run blocking calls (commands, queries, long jobs) off the GUI thread.

A ``TaskRunner`` lives in the GUI thread. Work runs on a ``QThreadPool``; the worker reports
through signals of a QObject owned by the runner, so results, errors and progress arrive as
queued calls on the GUI thread and the callbacks run there. Only the callable's return value
(frozen rows, results) crosses threads.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, overload

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from desktop_app.application.ports import StoreUnavailableError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
T = TypeVar("T")


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, object)
    progress = Signal(int, int, int)


class _Job(QRunnable):
    def __init__(
        self, task_id: int, fn: Callable[..., Any], with_progress: bool, signals: _Signals
    ):
        super().__init__()
        self.setAutoDelete(True)
        self._id = task_id
        self._fn = fn
        self._with_progress = with_progress
        self._signals = signals

    def run(self) -> None:  # runs on a pool thread
        try:
            result = self._fn(self._report) if self._with_progress else self._fn()
        except Exception as exc:  # every failure must reach the GUI, never vanish here
            log.debug("task %s failed:\n%s", self._id, traceback.format_exc())
            self._signals.failed.emit(self._id, exc)
        else:
            self._signals.done.emit(self._id, result)

    def _report(self, done: int, total: int) -> None:
        self._signals.progress.emit(self._id, done, total)


class TaskRunner(QObject):
    """Submit callables; get ``on_done(result)`` / ``on_error(exc)`` / ``on_progress(done,
    total)`` back on the GUI thread."""

    busy_changed = Signal(bool)
    store_unavailable = Signal(str)
    """A task failed because the database cannot be used (a lost server, a broken file):
    the reason, for the status bar."""
    store_available = Signal()
    """A task succeeded after a ``store_unavailable``: the database answers again."""

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._store_problem = False
        self._pool = pool or QThreadPool.globalInstance()
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.progress.connect(self._on_progress)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[..., None], Callable[..., None], Any]] = {}

    @overload
    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        on_progress: None = None,
    ) -> int: ...

    @overload
    def submit(
        self,
        fn: Callable[[Progress], T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        on_progress: Progress,
    ) -> int: ...

    def submit(
        self,
        fn: Callable[..., T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        on_progress: Progress | None = None,
    ) -> int:
        """Run ``fn`` on the pool (``fn(progress)`` when ``on_progress`` is given); the
        callbacks run on the GUI thread."""
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error, on_progress)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        self._pool.start(_Job(task_id, fn, on_progress is not None, self._signals))
        return task_id

    def pending(self) -> int:
        """How many submitted tasks have not reported back yet."""
        return len(self._callbacks)

    def wait_idle(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (shutdown and tests only)."""
        return self._pool.waitForDone(msecs)

    @staticmethod
    def _alive(callback: Callable[..., None] | None) -> bool:
        """False when the callback is a method of a Qt object that was deleted meanwhile (a
        closed dialog, a window torn down): its result has nobody left to show it to."""
        owner = getattr(callback, "__self__", None)
        return not isinstance(owner, QObject) or shiboken6.isValid(owner)

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except RuntimeError as exc:
            # A late result for a widget or model Qt has already deleted (a closed window):
            # nothing is left to update. Any other RuntimeError is a real bug: re-raise it.
            text = str(exc)
            if "already deleted" not in text and "has been deleted" not in text:
                raise
            log.debug("dropped a late task result: %s", text)

    def _finish(self, task_id: int) -> tuple[Any, Any, Any] | None:
        callbacks = self._callbacks.pop(task_id, None)
        if not self._callbacks:
            self.busy_changed.emit(False)
        return callbacks

    @Slot(int, object)
    def _on_done(self, task_id: int, result: object) -> None:
        if self._store_problem:
            self._store_problem = False
            self.store_available.emit()
        callbacks = self._finish(task_id)
        if callbacks is not None and self._alive(callbacks[0]):
            self._call(callbacks[0], result)

    @Slot(int, object)
    def _on_failed(self, task_id: int, exc: object) -> None:
        if isinstance(exc, StoreUnavailableError):
            self._store_problem = True
            self.store_unavailable.emit(str(exc))
        callbacks = self._finish(task_id)
        if callbacks is not None and self._alive(callbacks[1]):
            self._call(callbacks[1], exc)
        else:
            log.error("background task %s failed: %s", task_id, exc)

    @Slot(int, int, int)
    def _on_progress(self, task_id: int, done: int, total: int) -> None:
        callbacks = self._callbacks.get(task_id)
        if callbacks is not None and callbacks[2] is not None and self._alive(callbacks[2]):
            self._call(callbacks[2], done, total)
