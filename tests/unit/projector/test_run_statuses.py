"""What a projector run publishes: progress while catching up, then the run's end, once."""

from __future__ import annotations

from desktop_app.application import commands as c
from desktop_app.application.queries import ProjectorStatus
from desktop_app.bootstrap import bootstrap_in_memory


def test_a_run_publishes_its_start_and_its_end_and_progress_only_while_behind() -> None:
    app = bootstrap_in_memory()
    try:
        assert app.projector is not None
        seen: list[ProjectorStatus] = []
        app.projector.add_listener(seen.append)
        for n in range(3):
            app.commands.dispatch(c.RegisterCustomer(name=f"Customer {n}"))
        assert app.projector.run_once() == 3  # one batch reaches the head
        assert [s.running for s in seen] == [True, False]
        assert seen[-1].checkpoint == seen[-1].head == 3 and seen[-1].events_per_second > 0

        seen.clear()
        for n in range(5):
            app.commands.dispatch(c.RegisterCustomer(name=f"More {n}"))
        app.projector._batch_size = 2  # three batches: progress after the first two
        assert app.projector.run_once() == 5
        assert [(s.running, s.checkpoint) for s in seen] == [
            (True, 3),
            (True, 5),
            (True, 7),
            (False, 8),
        ]
    finally:
        app.close()
