"""The buses are composed in the application layer: over the in-memory stores they need
neither SQLAlchemy nor the bootstrap; maintenance commands run on the command bus."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.buses import UnknownMessageError
from desktop_app.application.composition import compose
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore

from .helpers import identity

ROOT = Path(__file__).resolve().parents[3]

COMPOSE_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    from decimal import Decimal

    from desktop_app.application import commands as c
    from desktop_app.application import queries as q
    from desktop_app.application.composition import compose
    from desktop_app.application.handlers import Identity
    from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore

    events = InMemoryEventStore()
    snapshots = InMemorySnapshotStore(events)
    who = Identity(user="ada", host="ws-1", app_version="0", source="test")
    _, commands, queries = compose(events, snapshots, identity=who)
    customer = commands.dispatch(c.RegisterCustomer(name="Ada")).aggregate_id
    product = commands.dispatch(
        c.AddProduct(sku="MUG", name="Mug", price=Decimal("4.50"), currency="EUR")
    ).aggregate_id
    line = c.LineInput(product_id=product, quantity=2)
    order = commands.dispatch(c.PlaceOrder(customer_id=customer, lines=(line,))).aggregate_id
    history = queries.ask(q.GetOrderHistory(order_id=order))
    assert len(history) == 2, history
    loaded = sorted(
        name for name in sys.modules
        if name.split(".")[0] == "sqlalchemy" or name == "desktop_app.bootstrap"
    )
    print("loaded:", loaded)
    """
)


def test_the_buses_compose_over_the_in_memory_stores_without_sqlalchemy() -> None:
    # A fresh interpreter: this test process may have imported SQLAlchemy for other tests.
    done = subprocess.run(
        [sys.executable, "-c", COMPOSE_IN_A_FRESH_PROCESS],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded: []"


def _stores() -> tuple[InMemoryEventStore, InMemorySnapshotStore]:
    events = InMemoryEventStore()
    return events, InMemorySnapshotStore(events)


def test_maintenance_commands_run_on_the_command_bus_not_the_query_bus() -> None:
    taken: list[c.BackupNow] = []

    def backup_now(command: c.BackupNow) -> str:
        taken.append(command)
        return f"/backups/{len(taken)}.sqlite3"

    _, commands, queries = compose(
        *_stores(), identity=identity(), maintenance={c.BackupNow: backup_now}
    )
    assert commands.run_maintenance(c.BackupNow()) == "/backups/1.sqlite3"
    assert commands.handles_maintenance(c.BackupNow)
    # Without a read side there is nothing to rebuild, and a query is never a command.
    assert not commands.handles_maintenance(c.RebuildReadModels)
    with pytest.raises(UnknownMessageError, match="RebuildReadModels"):
        commands.run_maintenance(c.RebuildReadModels())
    assert not queries.handles(c.BackupNow)  # type: ignore[arg-type]
    assert len(taken) == 1


def test_a_message_type_is_handled_once() -> None:
    def history(query: q.GetOrderHistory) -> list[q.HistoryEntry]:
        return []

    with pytest.raises(ValueError, match="GetOrderHistory"):
        compose(*_stores(), identity=identity(), queries={q.GetOrderHistory: history})
