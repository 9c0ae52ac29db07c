"""A small random command workload over the bus (used in-process and by the writer child).

Run as ``python -m tests.integration.read_side.workload DB SEED [COUNT] [--die-after-commit]``:
issues commands and prints ``ack <command id>`` after each acknowledged one (flushed). With
``--die-after-commit`` it kills itself with SIGKILL right after the first command commits,
before printing (R2: the caller never hears back).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application.buses import CommandBus
from desktop_app.domain.errors import DomainError

NAMES = ("Müller GmbH", "Café 100%", "O'Brien_Ltd", "back\\slash", "ßtraße", "Øre", "Plain Co")
SKUS = ("AB-1", "A_B-2", "CD_3", "X.Y-4", "Q-5")


@dataclass
class World:
    """What the workload has created so far (ids only)."""

    rnd: random.Random
    customers: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))


def seed_catalog(bus: CommandBus, world: World) -> list[str]:
    """Customers and products (deterministic ids and command ids: re-running is a no-op)."""
    acked: list[str] = []
    for i, name in enumerate(NAMES):
        cmd = c.RegisterCustomer(command_id=f"reg-{i}", customer_id=f"cust-{i}", name=name)
        bus.dispatch(cmd)
        world.customers.append(cmd.customer_id)
        acked.append(cmd.command_id)
    for i, sku in enumerate(SKUS):
        cmd2 = c.AddProduct(
            command_id=f"prod-{i}",
            product_id=f"prod-{i}",
            sku=sku,
            name=f"Product {i} {NAMES[i]}",
            price=Decimal(f"{i + 1}.25"),
            currency="EUR",
        )
        bus.dispatch(cmd2)
        world.products.append(cmd2.product_id)
        acked.append(cmd2.command_id)
    return acked


def random_command(world: World) -> c.Command:
    """One plausible command (it may be refused by the domain; that is fine)."""
    rnd = world.rnd
    cid = world.new_id()
    roll = rnd.random()
    if not world.orders or roll < 0.25:
        lines = tuple(
            c.LineInput(product_id=rnd.choice(world.products), quantity=rnd.randint(1, 9))
            for _ in range(rnd.randint(1, 3))
        )
        order_id = world.new_id()
        world.orders.append(order_id)
        return c.PlaceOrder(
            command_id=cid, order_id=order_id, customer_id=rnd.choice(world.customers), lines=lines
        )
    order_id = rnd.choice(world.orders)
    if roll < 0.35:
        line = c.LineInput(product_id=rnd.choice(world.products), quantity=rnd.randint(1, 5))
        return c.AddOrderLine(command_id=cid, order_id=order_id, line=line, line_id=world.new_id())
    if roll < 0.5:
        return c.ConfirmOrder(command_id=cid, order_id=order_id)
    if roll < 0.6:
        return c.ShipOrder(command_id=cid, order_id=order_id, tracking_number="T-1", carrier="DHL")
    if roll < 0.65:
        return c.DeliverOrder(command_id=cid, order_id=order_id)
    if roll < 0.72:
        return c.CancelOrder(command_id=cid, order_id=order_id, reason="customer asked")
    if roll < 0.82:
        i = rnd.randrange(len(world.customers))
        return c.RenameCustomer(
            command_id=cid, customer_id=world.customers[i], name=f"{NAMES[i]} #{rnd.randint(1, 99)}"
        )
    if roll < 0.9:
        i = rnd.randrange(len(world.products))
        return c.RenameProduct(
            command_id=cid, product_id=world.products[i], name=f"Renamed {rnd.randint(1, 99)}"
        )
    if roll < 0.95:
        return c.ChangeProductPrice(
            command_id=cid, product_id=rnd.choice(world.products), price=Decimal("7.50")
        )
    return c.ConfirmOrder(command_id=cid, order_id=order_id)


def run(bus: CommandBus, world: World, count: int, *, echo: bool = False) -> list[str]:
    """Issue ``count`` random commands; returns the ids of the acknowledged ones."""
    acked: list[str] = []
    for _ in range(count):
        command = random_command(world)
        try:
            bus.dispatch(command)
        except DomainError:
            continue
        acked.append(command.command_id)
        if echo:
            print("ack", command.command_id, flush=True)
    return acked


def main(argv: list[str]) -> int:
    from tests.integration.read_side.support import open_app

    path, seed = Path(argv[0]), int(argv[1])
    count = int(argv[2]) if len(argv) > 2 else 1_000_000
    app = open_app(path)
    world = World(random.Random(seed))
    for command_id in seed_catalog(app.commands, world):
        print("ack", command_id, flush=True)
    if "--die-after-commit" in argv:
        command = random_command(world)
        print("sending", command.command_id, flush=True)
        app.commands.dispatch(command)
        os.kill(os.getpid(), signal.SIGKILL)
    run(app.commands, world, count, echo=True)
    app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
