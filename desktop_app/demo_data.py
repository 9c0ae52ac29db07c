"""Realistic, deterministic sample data, written through the command bus only (no Qt, no SQL).

``load_demo(commands, orders=300, seed=7)`` registers about 40 customers and 60 products (in
EUR), renames a few, changes some prices, discontinues some products halfway through, and places
``orders`` orders that end in every status with varied histories: lines added and removed,
quantities changed, and a few long orders (60-120 events) so snapshots exist. Most customers
have a default shipping address (orders take it when placed) and some orders carry notes.

Every id (aggregates, added lines, commands) comes from ``random.Random(seed)``, so two runs with
the same seed produce the same ids, and re-running on the same database writes nothing twice
(the command ids repeat and are deduplicated). Lines created by ``PlaceOrder`` get their ids
from the application; the data never depends on them (lines are picked by position).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.buses import CommandBus, QueryBus
from desktop_app.domain.errors import DomainError

Progress = Callable[[int, int], None]

CURRENCY = "EUR"

CUSTOMER_NAMES: tuple[str, ...] = (
    "Müller GmbH",
    "Café Olé",
    "Łódź Trading",
    "Ørestad Møbler ApS",
    "Åkesson & Söner AB",
    "Société Parisienne de Papeterie",
    "Hernández y Asociados S.L.",
    "Kovács és Társa Kft.",
    "Dvořák Nábytek s.r.o.",
    "Nowak Sp. z o.o.",
    "Brouwerij De Gulden Kroon",
    "Fiorentino Ristorazione S.r.l.",
    "Thornbury Office Supplies Ltd",
    "Greenleaf Garden Centre",
    "Harbourside Hotel",
    "Northwind Traders",
    "Bäckerei Schönbrunn",
    "Żabka Delikatesy",
    "Åland Seafood Oy",
    "Gaststätte Zum Löwen",
    "Atelier Élodie Marchand",
    "O'Sullivan & Daughters",
    "Blue Harbour Logistics",
    "Riverside Medical Practice",
    "Pinecrest Primary School",
    "Lindqvist Arkitekter",
    "Papelería López",
    "Vinhos do Douro Lda.",
    "Kaffeehaus Grünwald",
    "Sunrise Yoga Studio",
    "Meridian Consulting BV",
    "Tavern on the Green Ltd",
    "Čokoládovna Brno",
    "Hôtel Belle Époque",
    "Nordlys Bokhandel AS",
    "Galway Bay Crafts",
    "Stadtwerke Kühlungsborn",
    "Ionescu & Fiii SRL",
    "Papadopoulos Bros.",
    "Jensen Cykler",
)

# (SKU stem, name, price stem); three variants of each give 60 products.
_PRODUCT_BASES: tuple[tuple[str, str, str], ...] = (
    ("MUG", "Stoneware Mug", "6.90"),
    ("TEA", "Loose-Leaf Tea Tin", "8.50"),
    ("COF", "Espresso Beans 1 kg", "18.40"),
    ("NTB", "Dotted Notebook A5", "4.75"),
    ("PEN", "Gel Pen Box of 12", "9.99"),
    ("LMP", "Ørsted Desk Lamp", "49.00"),
    ("CHR", "Ergonomic Office Chair", "239.00"),
    ("RAM", "Crème Brûlée Ramekin", "3.20"),
    ("TWL", "Linen Tea Towel", "7.80"),
    ("CAN", "Soy Wax Candle", "12.50"),
    ("BAG", "Canvas Tote Bag", "11.00"),
    ("BTL", "Insulated Water Bottle", "21.90"),
    ("PLN", "Ceramic Plant Pot", "14.60"),
    ("SCS", "Stainless Scissors", "6.30"),
    ("CAB", "USB-C Cable 2 m", "9.40"),
    ("KBD", "Wireless Keyboard", "59.90"),
    ("PAD", "Felt Desk Pad", "24.00"),
    ("CLK", "Wall Clock Ø30 cm", "32.00"),
    ("KNF", "Chef's Knife 20 cm", "74.50"),
    ("BRD", "Oak Chopping Board", "28.90"),
)
_VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("STD", "Standard", "1.00"),
    ("PRO", "Premium", "1.45"),
    ("ECO", "Eco (recycled)", "0.90"),
)

# (street, postcode and city, country) cycled over the customers; every tenth has no address.
_ADDRESS_PARTS: tuple[tuple[str, str, str], ...] = (
    ("Hauptstraße 12", "80331 München", "Germany"),
    ("Rue de Rivoli 48", "75004 Paris", "France"),
    ("ul. Piotrkowska 104", "90-006 Łódź", "Poland"),
    ("Strandvejen 7", "2100 København Ø", "Denmark"),
    ("Drottninggatan 33", "111 51 Stockholm", "Sweden"),
    ("Calle de Alcalá 201", "28028 Madrid", "Spain"),
    ("Váci utca 18", "1052 Budapest", "Hungary"),
    ("Harbour Road 3", "Galway H91 X2Y4", "Ireland"),
)

ORDER_NOTES: tuple[str, ...] = (
    "Customer called: please deliver after 10:00.",
    "Gift wrap the mugs, no prices on the packing slip.",
    "Loading dock at the back of the building; ring twice.",
    "Confirmed by phone with the buyer.",
    "Invoice to the head office, goods to the branch.",
)

CANCEL_REASONS: tuple[str, ...] = (
    "Customer changed their mind.",
    "Payment not received within 14 days.",
    "Duplicate of another order.",
    "Items no longer needed — project postponed.",
    "Customer found a better price elsewhere.",
    "Delivery address could not be verified.",
    "Ordered by mistake.",
    "Returned to sender: recipient unknown.",
)

CARRIERS: tuple[tuple[str, str], ...] = (
    ("DHL", "JJD00{:012d}"),
    ("UPS", "1Z9X8{:011d}"),
    ("DPD", "0150{:010d}"),
    ("GLS", "ZG{:09d}"),
    ("PostNL", "3S{:013d}"),
    ("", "LOCAL-{:06d}"),  # handed over by a local courier, no carrier recorded
)

STATUSES: tuple[str, ...] = ("pending", "confirmed", "shipped", "delivered", "cancelled")
_STATUS_WEIGHTS: tuple[int, ...] = (15, 15, 20, 40, 10)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoSummary:
    """What ``load_demo`` wrote. ``events`` counts events written by this run (duplicates of
    an earlier run with the same seed count nothing)."""

    customers: int
    products: int
    orders: int
    events: int
    commands: int
    duplicates: int
    orders_by_status: tuple[tuple[str, int], ...]
    long_orders: int


@dataclass(kw_only=True)
class _Product:
    product_id: str
    price: Decimal
    active: bool = True


@dataclass(kw_only=True)
class _Loader:
    commands: CommandBus
    queries: QueryBus | None
    rng: random.Random
    events: int = 0
    sent: int = 0
    duplicates: int = 0
    products: list[_Product] = field(default_factory=list)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def send(self, command: c.Command) -> c.CommandResult:
        result = self.commands.dispatch(command)
        self.sent += 1
        if result.duplicate:
            self.duplicates += 1
        elif result.position:
            self.events += result.position - result.first_position + 1
        return result


def load_demo(
    commands: CommandBus,
    *,
    orders: int = 300,
    seed: int = 7,
    progress: Progress | None = None,
    queries: QueryBus | None = None,
) -> DemoSummary:
    """Write sample customers, products and ``orders`` orders through ``commands``.

    ``queries`` (optional) is used only to read back the ids of the lines a ``PlaceOrder``
    created, so that later commands can change or remove them; without it, orders change only
    the lines they added themselves.
    """
    if orders < 0:
        raise ValueError("orders must not be negative")
    loader = _Loader(commands=commands, queries=queries, rng=random.Random(seed))
    customers = _customers(loader)
    _products(loader)
    total = len(customers) + len(loader.products) + orders
    done = len(customers) + len(loader.products)
    if progress is not None:
        progress(done, total)

    statuses = _plan_statuses(loader.rng, orders)
    long_count = 0 if orders < 10 else max(1, orders // 100)
    long_at = set(loader.rng.sample(range(orders), long_count)) if long_count else set()
    counts = dict.fromkeys(STATUSES, 0)
    for index, status in enumerate(statuses):
        if index == orders // 2:
            _mid_season_catalog_changes(loader)
        order_id = _order(loader, customers, status, long=index in long_at)
        if index % 7 == 3:
            _note(loader, order_id, ORDER_NOTES[index % len(ORDER_NOTES)])
        counts[status] += 1
        done += 1
        if progress is not None:
            progress(done, total)
    return DemoSummary(
        customers=len(customers),
        products=len(loader.products),
        orders=orders,
        events=loader.events,
        commands=loader.sent,
        duplicates=loader.duplicates,
        orders_by_status=tuple(counts.items()),
        long_orders=long_count,
    )


def _plan_statuses(rng: random.Random, orders: int) -> list[str]:
    # Every status appears at least once (when there are enough orders), in random places.
    planned = list(STATUSES[: min(orders, len(STATUSES))])
    planned += rng.choices(STATUSES, weights=_STATUS_WEIGHTS, k=orders - len(planned))
    rng.shuffle(planned)
    return planned


def demo_address(index: int, name: str) -> str:
    """The demo address of customer ``index`` ("" for every tenth: not every customer has one)."""
    if index % 10 == 9:
        return ""
    street, city, country = _ADDRESS_PARTS[index % len(_ADDRESS_PARTS)]
    return "\n".join((name, street, city, country))


def _customers(loader: _Loader) -> list[str]:
    ids = []
    for index, name in enumerate(CUSTOMER_NAMES):
        customer_id = loader.new_id()
        loader.send(
            c.RegisterCustomer(
                command_id=loader.new_id(),
                customer_id=customer_id,
                name=name,
                address=demo_address(index, name),
            )
        )
        ids.append(customer_id)
    renames = (
        (1, "Café Olé & Fils"),
        (15, "Northwind Traders International"),
        (22, "Blue Harbour Logistics Group"),
    )
    for index, name in renames:
        loader.send(c.RenameCustomer(command_id=loader.new_id(), customer_id=ids[index], name=name))
    return ids


def _products(loader: _Loader) -> None:
    for stem, base_name, base_price in _PRODUCT_BASES:
        for code, size, factor in _VARIANTS:
            price = (Decimal(base_price) * Decimal(factor)).quantize(Decimal("0.01"))
            product = _Product(product_id=loader.new_id(), price=price)
            command = c.AddProduct(
                command_id=loader.new_id(),
                product_id=product.product_id,
                sku=f"{stem}-{code}-{loader.rng.randint(100, 999)}",
                name=f"{base_name}, {size}",
                price=price,
                currency=CURRENCY,
            )
            for _attempt in range(50):
                try:
                    loader.send(command)
                    break
                except DomainError as exc:
                    if exc.field != "sku":
                        raise
                    # Demo data loaded before with another seed took this SKU: SKUs are
                    # unique, so this product gets another number.
                    command = replace(
                        command,
                        command_id=loader.new_id(),  # another command: another id
                        sku=f"{stem}-{code}-{loader.rng.randint(100, 999)}",
                    )
            else:
                raise DomainError(f"No free SKU was found for {base_name}, {size}.", field="sku")
            loader.products.append(product)
    # Indexes are 3 x base + variant: the standard desk lamp and the premium desk pad.
    renames = ((15, "Ørsted Desk Lamp, Standard (matt black)"), (49, "Felt Desk Pad XL, Premium"))
    for index, name in renames:
        if index < len(loader.products):
            loader.send(
                c.RenameProduct(
                    command_id=loader.new_id(),
                    product_id=loader.products[index].product_id,
                    name=name,
                )
            )
    _change_prices(loader, 4)


def _change_prices(loader: _Loader, count: int) -> None:
    active = [p for p in loader.products if p.active]
    for product in loader.rng.sample(active, min(count, len(active))):
        factor = Decimal(loader.rng.choice(("0.90", "0.95", "1.05", "1.10", "1.15")))
        price = (product.price * factor).quantize(Decimal("0.01"))
        if price == product.price:
            price += Decimal("0.10")
        loader.send(
            c.ChangeProductPrice(
                command_id=loader.new_id(), product_id=product.product_id, price=price
            )
        )
        product.price = price


def _mid_season_catalog_changes(loader: _Loader) -> None:
    active = [p for p in loader.products if p.active]
    for product in loader.rng.sample(active, max(0, min(4, len(active) - 10))):
        loader.send(c.DiscontinueProduct(command_id=loader.new_id(), product_id=product.product_id))
        product.active = False
    _change_prices(loader, 3)


def _quantity(rng: random.Random) -> int:
    if rng.random() < 0.1:
        return rng.choice((24, 48, 50, 100, 120, 250))
    return rng.randint(1, 12)


def _line(loader: _Loader, exclude: set[str]) -> c.LineInput:
    rng = loader.rng
    choices = [p for p in loader.products if p.active and p.product_id not in exclude]
    if not choices:
        choices = [p for p in loader.products if p.active]
    product = rng.choice(choices)
    unit_price = None
    if rng.random() < 0.12:  # a negotiated discount typed by the clerk
        unit_price = (product.price * Decimal("0.85")).quantize(Decimal("0.01"))
    return c.LineInput(
        product_id=product.product_id, quantity=_quantity(rng), unit_price=unit_price
    )


def _note(loader: _Loader, order_id: str, text: str) -> None:
    # Ids derived from the order (not drawn from the seed's generator), so adding notes to
    # the demo did not change any other id or choice of a seed.
    command_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"order-desk-demo-note:{order_id}"))
    note_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"order-desk-demo-note-id:{order_id}"))
    loader.send(
        c.AddOrderNote(command_id=command_id, order_id=order_id, note_id=note_id, text=text)
    )


def _order(loader: _Loader, customers: list[str], status: str, *, long: bool) -> str:
    rng = loader.rng
    order_id = loader.new_id()
    first: list[c.LineInput] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        first.append(_line(loader, {line.product_id for line in first}))
    loader.send(
        c.PlaceOrder(
            command_id=loader.new_id(),
            order_id=order_id,
            customer_id=rng.choice(customers),
            lines=tuple(first),
        )
    )
    # line id -> quantity, in the order the lines were added
    lines: dict[str, int] = {}
    if loader.queries is not None:
        # The state right after placing (not the current one): a re-run with the same seed on
        # the same database then makes the same choices and every command is a duplicate.
        placed = q.GetOrderAtVersion(order_id=order_id, version=1 + len(first))
        state = loader.queries.ask(placed).state
        for line in state["lines"]:
            lines[str(line["line_id"])] = int(line["quantity"])
    version = 1 + len(first)

    def edit() -> None:
        nonlocal version
        roll = rng.random()
        if lines and roll < 0.45:
            line_id = list(lines)[rng.randrange(len(lines))]
            quantity = _quantity(rng)
            if quantity == lines[line_id]:
                quantity += 1
            loader.send(
                c.ChangeLineQuantity(
                    command_id=loader.new_id(),
                    order_id=order_id,
                    line_id=line_id,
                    quantity=quantity,
                )
            )
            lines[line_id] = quantity
        elif len(lines) > 1 and roll < 0.6:
            line_id = list(lines)[rng.randrange(len(lines))]
            loader.send(
                c.RemoveOrderLine(command_id=loader.new_id(), order_id=order_id, line_id=line_id)
            )
            del lines[line_id]
        else:
            line_id = loader.new_id()
            line = _line(loader, set())
            loader.send(
                c.AddOrderLine(
                    command_id=loader.new_id(), order_id=order_id, line_id=line_id, line=line
                )
            )
            lines[line_id] = line.quantity
        version += 1

    if long:
        target = rng.randint(60, 120) - 4
        while version < target:
            edit()
    else:
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            edit()

    if status == "pending":
        return order_id
    if status == "cancelled":
        # Cancelled at any stage before delivery.
        stage = rng.choice(("pending", "pending", "confirmed", "confirmed", "shipped"))
        if stage != "pending":
            _confirm(loader, order_id)
        if stage == "shipped":
            _ship(loader, order_id)
        loader.send(
            c.CancelOrder(
                command_id=loader.new_id(), order_id=order_id, reason=rng.choice(CANCEL_REASONS)
            )
        )
        return order_id
    _confirm(loader, order_id)
    if status == "confirmed":
        return order_id
    _ship(loader, order_id)
    if status == "shipped":
        return order_id
    loader.send(c.DeliverOrder(command_id=loader.new_id(), order_id=order_id))
    return order_id


def _confirm(loader: _Loader, order_id: str) -> None:
    loader.send(c.ConfirmOrder(command_id=loader.new_id(), order_id=order_id))


def _ship(loader: _Loader, order_id: str) -> None:
    carrier, pattern = loader.rng.choice(CARRIERS)
    tracking = pattern.format(loader.rng.randrange(10**9))
    loader.send(
        c.ShipOrder(
            command_id=loader.new_id(),
            order_id=order_id,
            tracking_number=tracking,
            carrier=carrier,
        )
    )
