"""A process that rebuilds the read model and stops at given steps of the write:
``python -m tests.integration.read_side.rebuild_child DB STEP [STEP ...]``.

At each named step of ``replace_all`` (``replace_cleared``, ``replace_rows_written``,
``replace_aside``, ``replace_copying``, ``replace_swapped``) it prints ``at STEP`` and waits
for a line on stdin before going on; at the end it prints ``rebuilt APPLIED CHECKPOINT HEAD
ERROR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.read_model import SqliteProjectionTarget


def main(argv: list[str]) -> int:
    path, steps = Path(argv[0]), set(argv[1:])
    app = bootstrap(Settings(db_path=path), source="test", create=False)
    try:
        assert app.projector is not None and isinstance(
            app.read_model.target, SqliteProjectionTarget
        )

        def fault(step: str) -> None:
            if step in steps:
                print("at", step, flush=True)
                sys.stdin.readline()

        app.read_model.target.fault = fault
        applied = app.projector.rebuild()
        status = app.projector.status()
        print("rebuilt", applied, status.checkpoint, status.head, status.last_error, flush=True)
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
