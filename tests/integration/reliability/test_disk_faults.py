"""R22: disk full and I/O errors at the 1st, 2nd, 3rd, … operation until the command completes.

For every N a fresh copy of a prepared database is opened through ``bootstrap``; the Nth
SQLite operation of one command (or of one projector run) fails (see ``faults.py``). After
each: the command is wholly absent or wholly present, the caller got a ``StoreError`` with a
plain message (never a raw sqlite3 exception), the hash chain verifies, the projector's
checkpoint never runs ahead of the data, and the file passes ``integrity_check`` once space
is back.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import StoreError, StoreUnavailableError
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.store.read_model_file import read_model_path
from desktop_app.store.schema import APPEND_ONLY_TRIGGERS
from tests.integration.read_side import workload
from tests.integration.read_side.support import checkpoint, dump_read_model, rebuilt_copy
from tests.integration.reliability import faults as faults_mod
from tests.integration.reliability.faults import Faults, Mode
from tests.integration.reliability.support import (
    command_state,
    integrity_ok,
    plain,
    sqlite_copy,
)

ORDER_ID = "order-fault"
CUSTOMER_ID = "cust-fault"
PRODUCT_ID = "prod-fault"
LONG = "Ω" + "x" * 118  # names at their maximum length make OrderPlaced span several pages

PLAIN_MESSAGES = (
    "The disk is full, so the change was not saved.",
    "The database file could not be read or written (a disk input/output error).",
)

MAX_OPERATIONS = 400  # a command needing more means the loop never ends: fail loudly


def _settle(path: Path) -> None:
    """Pack the file (no free pages: the next insert must grow it) and fold the WAL in."""
    con = plain(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def command_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Catalog, a few orders, one pending order; projected; packed. Returns (file, version)."""
    path = tmp_path_factory.mktemp("r22") / "template.sqlite3"
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        bus = app.commands
        bus.dispatch(c.RegisterCustomer(customer_id=CUSTOMER_ID, name=LONG))
        bus.dispatch(
            c.AddProduct(
                product_id=PRODUCT_ID, sku="F-1", name=LONG, price=Decimal("3.10"), currency="EUR"
            )
        )
        line = c.LineInput(product_id=PRODUCT_ID, quantity=2)
        for k in range(3):
            bus.dispatch(c.PlaceOrder(order_id=f"old-{k}", customer_id=CUSTOMER_ID, lines=(line,)))
        bus.dispatch(c.PlaceOrder(order_id=ORDER_ID, customer_id=CUSTOMER_ID, lines=(line,)))
        version = bus.dispatch(
            c.AddOrderLine(order_id=ORDER_ID, line=line, line_id="line-fixed")
        ).version
        assert app.projector is not None
        app.projector.run_once()
        assert app.projector.status().last_error is None
    finally:
        app.close()
    _settle(path)
    return path, version


def add_line(version: int) -> c.Command:
    return c.AddOrderLine(
        command_id="cmd-add-line",
        order_id=ORDER_ID,
        expected_version=version,
        line=c.LineInput(product_id=PRODUCT_ID, quantity=5),
        line_id="line-new",
    )


def place_big(version: int) -> c.Command:
    """An order whose one event (~6 kB) cannot fit in the packed file's free space."""
    return c.PlaceOrder(
        command_id="cmd-place-big",
        order_id="order-big",
        customer_id=CUSTOMER_ID,
        lines=tuple(c.LineInput(product_id=PRODUCT_ID, quantity=k + 1) for k in range(16)),
    )


def confirm(version: int) -> c.Command:
    return c.ConfirmOrder(command_id="cmd-confirm", order_id=ORDER_ID, expected_version=version)


COMMANDS: dict[str, Callable[[int], c.Command]] = {
    "add_line": add_line,
    "place_big": place_big,
    "confirm": confirm,
}


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    injector = faults_mod.install(monkeypatch)
    yield injector
    injector.disarm()


def _counts(path: Path) -> tuple[int, int]:
    con = plain(path)
    try:
        events = con.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        commands = con.execute("SELECT count(*) FROM commands").fetchone()[0]
        return int(events), int(commands)
    finally:
        con.close()


def _assert_plain_store_error(error: BaseException, mode: Mode) -> None:
    assert isinstance(error, StoreError), repr(error)
    assert not isinstance(error, sqlite3.Error)
    assert type(error) is StoreUnavailableError, repr(error)
    message = str(error)
    assert message.startswith(PLAIN_MESSAGES), message
    if mode == "full":
        assert message.startswith(PLAIN_MESSAGES[0]), message


def _write_lock_is_free(path: Path) -> None:
    """No connection kept the write lock after the failure (another program can write now),
    neither the database's nor its read model's (in its own file)."""
    for file in (path, read_model_path(path)):
        if not file.exists():
            continue
        con = sqlite3.connect(file, isolation_level=None, timeout=0)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
        finally:
            con.close()


def _projector_matches_data(app: App, path: Path, tmp: Path) -> None:
    """Run the projector (space is back): checkpoint = head, read model = a fresh rebuild."""
    assert app.projector is not None
    app.projector.run_once()
    status = app.projector.status()
    assert status.last_error is None, status.last_error
    head = app.events.head_position()
    assert checkpoint(path) == head == status.checkpoint
    assert dump_read_model(path) == rebuilt_copy(path, tmp)


@dataclass
class Outcome:
    fired: bool
    error: BaseException | None
    present: bool


def _command_case(
    tmp: Path, template: Path, version: int, kind: str, mode: Mode, n: int, faults: Faults
) -> Outcome:
    path = sqlite_copy(template, tmp / f"{kind}-{mode}-{n}.sqlite3")
    command = COMMANDS[kind](version)
    app = bootstrap(Settings(db_path=path), source="test", create=False)
    try:
        before = _counts(path)
        faults.arm(n, mode)
        error: BaseException | None = None
        try:
            result: c.CommandResult | None = app.commands.dispatch(command)
        except Exception as exc:
            error, result = exc, None
        finally:
            fired = faults.fired
            faults.disarm()  # space is back / the disk works again
        if not fired:
            assert error is None, f"{error!r} without an injected fault"
        if error is not None:
            _assert_plain_store_error(error, mode)

        integrity_ok(path)
        _write_lock_is_free(path)
        state = command_state(path, command.command_id)  # asserts it is whole or absent
        if error is None:
            assert state is not None and result is not None
            assert (state[0], state[1], state[2]) == (
                result.version,
                result.first_position,
                result.position,
            )
        elif mode != "io-after":
            # The fault struck before the commit finished: nothing at all was written.
            assert state is None, (n, faults.ops)
        if state is None:
            assert _counts(path) == before
        assert app.events.verify().ok
        _projector_matches_data(app, path, tmp)

        # The clerk is told and presses Save again: the same command id is written once.
        again = app.commands.dispatch(command)
        assert again.duplicate == (state is not None)
        if state is not None:
            assert (again.first_position, again.position) == (state[1], state[2])
        after = command_state(path, command.command_id)
        assert after is not None
        assert app.events.verify().ok
        assert app.projector is not None
        app.projector.run_once()
        assert checkpoint(path) == app.events.head_position()
        return Outcome(fired=fired, error=error, present=state is not None)
    finally:
        app.close()
        for leftover in tmp.glob(f"*{kind}-{mode}-{n}*"):
            leftover.unlink()


def _every_operation(
    tmp: Path, template: tuple[Path, int], kind: str, mode: Mode, faults: Faults
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for n in range(1, MAX_OPERATIONS + 1):
        outcome = _command_case(tmp, template[0], template[1], kind, mode, n, faults)
        outcomes.append(outcome)
        if not outcome.fired:
            break
    else:
        pytest.fail(f"{kind} still hit the fault after {MAX_OPERATIONS} operations")
    assert len(outcomes) > 3
    assert outcomes[-1].error is None and outcomes[-1].present
    if mode != "full":  # a small command may fit in the space that is left
        assert any(o.error is not None for o in outcomes), "no fault ever reached the caller"
    return outcomes


DEFAULT_CASES = [
    ("add_line", "io-once"),
    ("add_line", "io-sticky"),
    ("add_line", "io-after"),
    ("place_big", "full"),
]
SLOW_CASES = [
    (kind, mode)
    for kind in COMMANDS
    for mode in faults_mod.MODES
    if (kind, mode) not in DEFAULT_CASES
]


@pytest.mark.parametrize(("kind", "mode"), DEFAULT_CASES)
def test_r22_command_fault_at_every_operation(
    tmp_path: Path, command_template: tuple[Path, int], faults: Faults, kind: str, mode: Mode
) -> None:
    outcomes = _every_operation(tmp_path, command_template, kind, mode, faults)
    if mode == "io-after":
        # Some replies were lost after the commit: written, and the clerk was told it failed.
        assert any(o.error is not None and o.present for o in outcomes)
    if mode == "full":
        # The disk really filled: SQLite itself refused to grow the file.
        assert any(o.error is not None and "full" in str(o.error) for o in outcomes)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "mode"), SLOW_CASES)
def test_r22_command_fault_at_every_operation_all_modes(
    tmp_path: Path, command_template: tuple[Path, int], faults: Faults, kind: str, mode: Mode
) -> None:
    _every_operation(tmp_path, command_template, kind, mode, faults)


# ---------------------------------------------------------------------------- projector

BATCH = 40


@pytest.fixture(scope="module")
def projector_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~200 events, none projected yet (checkpoint 0); packed."""
    path = tmp_path_factory.mktemp("r22p") / "template.sqlite3"
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        world = workload.World(random.Random(22))
        workload.seed_catalog(app.commands, world)
        workload.run(app.commands, world, 110)
        assert checkpoint(path) == 0
    finally:
        app.close()
    _settle(path)
    return path


def _prefix_rebuild(path: Path, upto: int, tmp: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The read model a rebuild of events 1..upto gives (on a copy with the rest cut off)."""
    cut = sqlite_copy(path, tmp / f"prefix-{path.stem}.sqlite3")
    con = plain(cut)
    try:
        con.execute("DROP TRIGGER events_no_delete")  # only on this scratch copy
        con.execute("DELETE FROM events WHERE position > ?", (upto,))
        # Put it back exactly: a file without it opens read-only (R29) and could not rebuild.
        con.execute(APPEND_ONLY_TRIGGERS[1])
    finally:
        con.close()
    try:
        return rebuilt_copy(cut, tmp)
    finally:
        for leftover in tmp.glob(f"*prefix-{path.stem}*"):
            leftover.unlink()


def _projector_case(
    tmp: Path, template: Path, mode: Mode, n: int, faults: Faults, errors: list[str | None]
) -> bool:
    path = sqlite_copy(template, tmp / f"proj-{mode}-{n}.sqlite3")
    app = bootstrap(Settings(db_path=path, projector_batch=BATCH), source="test", create=False)
    try:
        projector = app.projector
        assert projector is not None
        head = app.events.head_position()
        assert head < 10 * BATCH  # so the projector keeps to BATCH-sized transactions
        faults.arm(n, mode)
        try:
            projector.run_once()  # never raises: problems land in its status
        finally:
            fired = faults.fired
            faults.disarm()
        status = projector.status()
        stored = checkpoint(path)
        _write_lock_is_free(path)
        if fired and mode in ("io-once", "io-sticky"):
            assert status.last_error is not None, (n, faults.ops)
        if not fired:
            assert status.last_error is None
        errors.append(status.last_error)
        integrity_ok(path)
        # The checkpoint only moves with whole batches, never past the data it reflects.
        assert stored <= head
        assert stored == head or stored % BATCH == 0, stored
        assert status.checkpoint <= stored
        con = plain(read_model_path(path))
        try:
            newest = con.execute("SELECT max(last_position) FROM rm_orders").fetchone()[0]
        finally:
            con.close()
        assert (newest or 0) <= stored
        assert dump_read_model(path) == _prefix_rebuild(path, stored, tmp)

        # A later run, with the disk working again, catches up exactly.
        projector.run_once()
        assert projector.status().last_error is None
        assert checkpoint(path) == head
        assert dump_read_model(path) == rebuilt_copy(path, tmp)
        return fired
    finally:
        app.close()
        for leftover in tmp.glob(f"*proj-{mode}-{n}*"):
            leftover.unlink()


def _projector_every_operation(
    tmp: Path, template: Path, mode: Mode, faults: Faults
) -> list[str | None]:
    """Each run's ``last_error``, for N = 1 until a run no longer reaches the Nth operation."""
    errors: list[str | None] = []
    for n in range(1, MAX_OPERATIONS + 1):
        if not _projector_case(tmp, template, mode, n, faults, errors):
            assert len(errors) > 10
            assert any(errors), "no fault ever reached the projector"
            return errors
    pytest.fail(f"the projector still hit the fault after {MAX_OPERATIONS} operations")


@pytest.mark.parametrize("mode", ["io-once", "full"])
def test_r22_projector_fault_at_every_operation(
    tmp_path: Path, projector_template: Path, faults: Faults, mode: Mode
) -> None:
    errors = _projector_every_operation(tmp_path, projector_template, mode, faults)
    if mode == "full":
        assert any("full" in (e or "") for e in errors)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["io-sticky", "io-after"])
def test_r22_projector_fault_at_every_operation_all_modes(
    tmp_path: Path, projector_template: Path, faults: Faults, mode: Mode
) -> None:
    _projector_every_operation(tmp_path, projector_template, mode, faults)
