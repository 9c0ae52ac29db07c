"""Start-to-first-paint probe for measuring start-up (P7), off unless asked for.

With ``ORDER_DESK_EXIT_AFTER_FIRST_PAINT=1`` in the environment, :func:`watch_first_paint`
makes the main window print one line at its first paint event and quit the event loop (the
program then shuts down normally)::

    first-paint epoch=1764180000.123456 cpu_ms=380 since_start_ms=412

``epoch`` is the wall clock at the paint (``time.time()``), so a measuring script that noted the
time just before starting the process gets the whole start-up, including a one-file build's
unpacking in its bootloader process. ``cpu_ms`` is this process's CPU time so far
(less disturbed by a busy machine than wall time; a one-file build's unpacking, done by its
bootloader process, is not in it). ``since_start_ms`` is measured from this process's own start
as the kernel recorded it (Linux only, 10 ms resolution; absent elsewhere).
``packaging/measure_startup.py`` uses the ``epoch``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

ENV_VAR = "ORDER_DESK_EXIT_AFTER_FIRST_PAINT"
LINE_PREFIX = "first-paint"
_MARK = "orderDeskFirstPaintProbe"


def enabled() -> bool:
    """True when the environment asks for the probe."""
    return os.environ.get(ENV_VAR, "") not in {"", "0"}


def seconds_since_process_start() -> float | None:
    """How long this process has existed, from the kernel's record (Linux); else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        # Field 22 (starttime, in clock ticks after boot); the command name (field 2) may hold
        # spaces, so count from the closing parenthesis.
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[19])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def first_paint_line(now: float | None = None) -> str:
    """The line printed at the first paint."""
    epoch = time.time() if now is None else now
    line = f"{LINE_PREFIX} epoch={epoch:.6f} cpu_ms={time.process_time() * 1000:.0f}"
    since = seconds_since_process_start()
    if since is not None:
        line += f" since_start_ms={since * 1000:.0f}"
    return line


def watch_first_paint(window: Any) -> None:
    """When :func:`enabled`, print :func:`first_paint_line` at ``window``'s first paint and
    quit the application's event loop; otherwise do nothing."""
    if not enabled() or window.property(_MARK):
        return  # off, or already watching (the launcher and __main__ may both ask)
    window.setProperty(_MARK, True)
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

    class _FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                line = first_paint_line()
                stream = sys.stdout if sys.stdout is not None else sys.stderr
                if stream is not None:
                    print(line, file=stream, flush=True)
                # After this paint has finished: leave exec(), shut down as usual.
                QTimer.singleShot(0, QCoreApplication.quit)
            return False

    probe = _FirstPaint(window)  # parented: lives as long as the window
    window.installEventFilter(probe)
