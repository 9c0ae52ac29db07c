"""A projector process that stops dead inside a batch: ``python -m
tests.integration.read_side.projector_child DB STEP BATCH``.

At the named step of its second batch (``loaded``, ``before_rows``, ``orders_written``,
``rows_written``, ``checkpoint_written``) it prints ``at STEP`` and sleeps, waiting for the parent
to ``kill -9`` it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.read_model import SqliteProjectionTarget


def main(argv: list[str]) -> int:
    path, step, batch = Path(argv[0]), argv[1], int(argv[2])
    app = bootstrap(Settings(db_path=path, projector_batch=batch), source="test", create=False)
    assert app.projector is not None and isinstance(app.read_model.target, SqliteProjectionTarget)
    seen = {"n": 0}

    def fault(name: str) -> None:
        if name == "loaded":
            seen["n"] += 1
        if name == step and seen["n"] >= 2:
            print("at", name, flush=True)
            time.sleep(60)

    app.read_model.target.fault = fault
    app.projector.run_once()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
