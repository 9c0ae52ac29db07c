"""Property: after any sequence of commands, projected in any batch sizes at any moments, the
read model equals a fresh rebuild."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.projector.runner import Projector
from tests.integration.read_side import workload
from tests.integration.read_side.support import dump_read_model, open_app, rebuilt_copy


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.tuples(st.integers(0, 12), st.booleans()), min_size=1, max_size=8),
    batch=st.integers(1, 9),
)
def test_incremental_read_model_equals_rebuild(
    seed: int, steps: list[tuple[int, bool]], batch: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = tmp / "db.sqlite3"
        app = open_app(path)
        try:
            assert app.read_model is not None
            projector = Projector(
                app.events, app.read_model.feed, app.read_model.target, batch_size=batch
            )
            world = workload.World(random.Random(seed))
            workload.seed_catalog(app.commands, world)
            for count, project_now in steps:
                workload.run(app.commands, world, count)
                if project_now:
                    projector.run_once()
            projector.run_once()
            assert projector.status().last_error is None
        finally:
            app.close()
        assert dump_read_model(path) == rebuilt_copy(path, tmp)
