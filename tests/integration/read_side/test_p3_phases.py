"""P3's split of a rebuild into scan + fold and write, read from the rebuild's own progress."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.p3_rebuild import generate, log_file, scan_seconds
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.projector.runner import SCAN_SHARE


def test_the_write_begins_at_the_first_call_at_the_scans_share(tmp_path: Path) -> None:
    path = tmp_path / "p3.sqlite3"
    generate(path, 3_000)
    app = bootstrap(Settings(db_path=path), source="test", create=False)
    try:
        assert app.projector is not None
        calls: list[tuple[float, int, int]] = []

        def progress(done: int, total: int) -> None:
            calls.append((time.perf_counter(), done, total))

        started = time.perf_counter()
        applied = app.projector.rebuild(progress)
        seconds = time.perf_counter() - started
    finally:
        app.close()
    assert applied == 3_000
    share = [i for i, (_, done, total) in enumerate(calls) if done >= int(total * SCAN_SHARE)]
    assert share, "the write reported no progress"
    first = share[0]
    # Before it only the scan reported (below its share); from it on, only the write.
    assert all(done < int(total * SCAN_SHARE) for _, done, total in calls[:first])
    assert first + 1 < len(calls)  # the write reported more than its start
    write_began = calls[first][0] - started
    assert scan_seconds(started, calls, seconds) == write_began
    assert 0 < write_began < seconds


def test_without_a_write_report_everything_is_the_scan() -> None:
    calls = [(1.5, 10, 100), (2.0, 50, 100)]  # all below the scan's share of 100
    assert scan_seconds(1.0, calls, 4.0) == 4.0
    assert scan_seconds(1.0, [], 4.0) == 4.0
    assert scan_seconds(1.0, [(3.0, 0, 0)], 4.0) == 4.0  # an empty log: no share to reach


def test_a_kept_log_is_generated_once_then_used_again(tmp_path: Path) -> None:
    kept = tmp_path / "kept" / "p3.sqlite3"
    kept.parent.mkdir()
    path, seconds, events = log_file(tmp_path, kept, 500)
    assert (path, events) == (kept, 500)
    assert seconds > 0
    made = kept.stat().st_mtime_ns
    path, seconds, events = log_file(tmp_path, kept, 700)  # (a different size: not made again)
    assert (path, seconds, events) == (kept, 0.0, 500)
    assert kept.stat().st_mtime_ns == made


def test_without_a_kept_log_it_is_generated_in_the_folder(tmp_path: Path) -> None:
    path, _, events = log_file(tmp_path, None, 300)
    assert (path, events) == (tmp_path / "p3.sqlite3", 300)
