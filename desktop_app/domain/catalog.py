"""Customer and Product aggregates: the names and prices the order forms pick from."""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Iterable, Mapping
from typing import ClassVar, TypeVar

from desktop_app.domain.aggregate import (
    Aggregate,
    snapshot_bool,
    snapshot_money,
    snapshot_str,
)
from desktop_app.domain.errors import InvalidValue, RuleViolation, SnapshotFormatError
from desktop_app.domain.events import (
    CustomerAddressChanged,
    CustomerRegistered,
    CustomerRenamed,
    DomainEvent,
    ProductAdded,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRenamed,
)
from desktop_app.domain.order import CustomerRef, ProductRef, validate_address
from desktop_app.domain.values import (
    CURRENCY_PLACES,
    JSON,
    Money,
    validate_price,
    validate_sku,
    validate_text,
)

MAX_CUSTOMER_NAME_LENGTH = 120
MAX_PRODUCT_NAME_LENGTH = 120
MAX_ID_LENGTH = 100

SKU_NAMESPACE = "product-sku"
"""The namespace of the unique key every product holds: its SKU (see :func:`sku_key`)."""

PRODUCT_STREAM_PREFIX = "product-"
"""Stream ids of products are this prefix plus the product id."""

SIMILAR_NAME_RATIO = 0.88
"""Two customer names whose keys are at least this similar (``difflib`` ratio) are look-alikes:
"Müller GmbH" / "Muller GmbH" / "Mueller GmbH" / "Müler GmbH" — one edit in ten letters."""

T = TypeVar("T")


def sku_key(sku: str) -> str:
    """The form in which two SKUs are compared for uniqueness.

    Case and surrounding whitespace do not count ("mug-blue " is MUG-BLUE: a clerk typing it in
    lower case means the same article, and :func:`validate_sku` stores SKUs upper-cased
    anyway). Punctuation does count: supplier codes "AB-12" and "AB12" are different articles,
    and folding them would refuse real SKUs. NFKC only matters for events written before SKUs
    were validated (full-width letters).
    """
    return unicodedata.normalize("NFKC", sku).strip().upper()


@functools.lru_cache(maxsize=262_144)
def name_key(name: str) -> str:
    """A customer name reduced for look-alike detection: case-folded, accents dropped
    (ü -> u, ß -> ss), punctuation ignored, whitespace runs collapsed. Cached: a look-alike
    check reduces every customer's name, and names change rarely."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        kept.append(char if char.isalnum() else " ")
    return " ".join("".join(kept).split())


def similar_names(name: str, candidates: Iterable[tuple[str, T]]) -> list[tuple[str, T]]:
    """The candidates (``(name, item)``) whose name looks like ``name``: the same key, or a
    ``difflib`` ratio of at least :data:`SIMILAR_NAME_RATIO` between the keys. Closest first."""
    key = name_key(name)
    if not key:
        return []
    size = len(key)
    limit = SIMILAR_NAME_RATIO
    # One matcher with the typed key as its second sequence: difflib caches what it learns
    # about that one, and each candidate only replaces the first.
    matcher = difflib.SequenceMatcher(None, "", key, autojunk=False)
    scored: list[tuple[float, str, T]] = []
    for other, item in candidates:
        other_key = name_key(other)
        if other_key == key:
            scored.append((1.0, other, item))
            continue
        other_size = len(other_key)
        # The ratio can be at most 2*min/(sum of lengths): most names fail this already.
        if not other_size or 2 * min(size, other_size) < limit * (size + other_size):
            continue
        matcher.set_seq1(other_key)
        if matcher.quick_ratio() < limit:
            continue
        ratio = matcher.ratio()
        if ratio >= limit:
            scored.append((ratio, other, item))
    scored.sort(key=lambda entry: -entry[0])
    return [(other, item) for _ratio, other, item in scored]


def _customer_name(value: object) -> str:
    return validate_text(
        value, field="name", max_length=MAX_CUSTOMER_NAME_LENGTH, label="customer name"
    )


def _product_name(value: object) -> str:
    return validate_text(
        value, field="name", max_length=MAX_PRODUCT_NAME_LENGTH, label="product name"
    )


def _id(value: object, field: str) -> str:
    return validate_text(value, field=field, max_length=MAX_ID_LENGTH, label="id")


class Customer(Aggregate):
    """A customer orders can be placed for."""

    AGGREGATE_TYPE: ClassVar[str] = "customer"
    SNAPSHOT_SCHEMA_VERSION: ClassVar[int] = 2  # v2: address
    CREATION_EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = (CustomerRegistered,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self._name = ""
        self._address = ""

    @property
    def name(self) -> str:
        """The customer's current name."""
        return self._name

    @property
    def address(self) -> str:
        """The default shipping address ("" when none is known)."""
        return self._address

    def as_ref(self) -> CustomerRef:
        """What an order needs to know about this customer."""
        return CustomerRef(customer_id=self.id, name=self._name, address=self._address)

    @classmethod
    def register(cls, *, customer_id: str, name: str, address: str = "") -> Customer:
        """Register a new customer, with a default shipping address when one is given."""
        customer_id = _id(customer_id, "customer_id")
        checked = _customer_name(name)
        checked_address = "" if _blank(address) else validate_address(address)
        customer = cls(customer_id)
        customer._record(CustomerRegistered(customer_id=customer_id, name=checked))
        if checked_address:
            customer._record(
                CustomerAddressChanged(customer_id=customer_id, address=checked_address)
            )
        return customer

    def change_address(self, address: str) -> None:
        """Set, change or (with "") clear the default shipping address."""
        self._record(
            CustomerAddressChanged(customer_id=self.id, address=self._new_address(address))
        )

    def _new_address(self, address: object) -> str:
        """change_address's guard (also checks a recorded change)."""
        checked = "" if _blank(address) else validate_address(address)
        if checked == self._address:
            if not checked:
                raise RuleViolation("The customer has no address to clear.", field="address")
            raise RuleViolation("The customer already has this address.", field="address")
        return checked

    def rename(self, name: str) -> None:
        """Change the customer's name; the same name again is refused."""
        self._record(CustomerRenamed(customer_id=self.id, name=self._new_name(name)))

    def _new_name(self, name: object) -> str:
        """rename's guard: a valid name other than the current one."""
        checked = _customer_name(name)
        if checked == self._name:
            raise RuleViolation(f"The customer is already called {checked}.", field="name")
        return checked

    def _check_recorded(self, event: DomainEvent) -> None:
        """The guards of the command that records ``event``."""
        if getattr(event, "customer_id", self.id) != self.id:
            raise RuleViolation("The event names another customer than the stream it is in.")
        match event:
            case CustomerRegistered():
                _id(event.customer_id, "customer_id")
                _customer_name(event.name)
            case CustomerRenamed():
                self._new_name(event.name)
            case CustomerAddressChanged():
                self._new_address(event.address)
            case _:
                raise RuleViolation(f"A customer cannot record {type(event).__name__}.")

    def _when(self, event: DomainEvent) -> None:
        match event:
            case CustomerRegistered() | CustomerRenamed():
                self._name = event.name
            case CustomerAddressChanged():
                self._address = event.address
            case _:
                raise TypeError(f"Customer cannot apply {type(event).__name__}")

    def to_snapshot(self) -> dict[str, JSON]:
        """{"customer_id", "name", "address"}."""
        return {"customer_id": self.id, "name": self._name, "address": self._address}

    def _restore(self, state: Mapping[str, object]) -> None:
        if snapshot_str(state, "customer_id") != self.id:
            raise SnapshotFormatError("The snapshot belongs to another customer.")
        self._name = snapshot_str(state, "name")
        self._address = snapshot_str(state, "address")


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


class Product(Aggregate):
    """A catalog product with a SKU, a name and a price."""

    AGGREGATE_TYPE: ClassVar[str] = "product"
    SNAPSHOT_SCHEMA_VERSION: ClassVar[int] = 1
    CREATION_EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = (ProductAdded,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self._sku = ""
        self._name = ""
        self._price: Money | None = None
        self._discontinued = False

    @property
    def sku(self) -> str:
        """The upper-case SKU."""
        return self._sku

    @property
    def name(self) -> str:
        """The current name."""
        return self._name

    @property
    def price(self) -> Money:
        """The current catalog price."""
        if self._price is None:
            raise RuleViolation("This product has not been added yet.")
        return self._price

    @property
    def discontinued(self) -> bool:
        """True once discontinued: it can no longer be added to orders."""
        return self._discontinued

    def as_ref(self) -> ProductRef:
        """What an order line needs to know about this product."""
        return ProductRef(
            product_id=self.id,
            sku=self._sku,
            name=self._name,
            price=self.price,
            discontinued=self._discontinued,
        )

    @classmethod
    def add(cls, *, product_id: str, sku: str, name: str, price: Money) -> Product:
        """Add a product to the catalog."""
        product_id = _id(product_id, "product_id")
        checked_sku = validate_sku(sku)
        checked_name = _product_name(name)
        checked_price = validate_price(price)
        product = cls(product_id)
        product._record(
            ProductAdded(
                product_id=product_id, sku=checked_sku, name=checked_name, price=checked_price
            )
        )
        return product

    def rename(self, name: str) -> None:
        """Change the product's name; the same name again is refused."""
        self._record(ProductRenamed(product_id=self.id, name=self._new_name(name)))

    def _new_name(self, name: object) -> str:
        """rename's guard: a valid name other than the current one."""
        checked = _product_name(name)
        if checked == self._name:
            raise RuleViolation(f"The product is already called {checked}.", field="name")
        return checked

    def change_price(self, price: Money) -> None:
        """Change the catalog price (same currency, a different amount, not when discontinued)."""
        self._record(ProductPriceChanged(product_id=self.id, price=self._new_price(price)))

    def _new_price(self, price: object) -> Money:
        """change_price's guard."""
        if self._discontinued:
            raise RuleViolation(
                "The price of a discontinued product cannot be changed.", field="price"
            )
        checked = validate_price(price)
        current = self.price
        if checked.currency != current.currency:
            raise InvalidValue(
                f"The price must stay in {current.currency} (not {checked.currency}).",
                field="price",
            )
        if checked == current:
            raise RuleViolation(f"The price is already {current}.", field="price")
        return checked

    def discontinue(self) -> None:
        """Stop selling the product; twice is refused."""
        self._check_discontinue()
        self._record(ProductDiscontinued(product_id=self.id))

    def _check_discontinue(self) -> None:
        if self._discontinued:
            raise RuleViolation("This product is already discontinued.")

    def _check_recorded(self, event: DomainEvent) -> None:
        """The guards of the command that records ``event``."""
        if getattr(event, "product_id", self.id) != self.id:
            raise RuleViolation("The event names another product than the stream it is in.")
        match event:
            case ProductAdded():
                _id(event.product_id, "product_id")
                validate_sku(event.sku)
                _product_name(event.name)
                validate_price(event.price)
            case ProductRenamed():
                self._new_name(event.name)
            case ProductPriceChanged():
                self._new_price(event.price)
            case ProductDiscontinued():
                self._check_discontinue()
            case _:
                raise RuleViolation(f"A product cannot record {type(event).__name__}.")

    def _when(self, event: DomainEvent) -> None:
        match event:
            case ProductAdded():
                self._sku = event.sku
                self._name = event.name
                self._price = event.price
                self._discontinued = False
            case ProductRenamed():
                self._name = event.name
            case ProductPriceChanged():
                self._price = event.price
            case ProductDiscontinued():
                self._discontinued = True
            case _:
                raise TypeError(f"Product cannot apply {type(event).__name__}")

    def to_snapshot(self) -> dict[str, JSON]:
        """{"product_id", "sku", "name", "price": "4.50", "currency", "discontinued"}."""
        price = self.price
        return {
            "product_id": self.id,
            "sku": self._sku,
            "name": self._name,
            "price": price.amount_text(),
            "currency": price.currency,
            "discontinued": self._discontinued,
        }

    def _restore(self, state: Mapping[str, object]) -> None:
        if snapshot_str(state, "product_id") != self.id:
            raise SnapshotFormatError("The snapshot belongs to another product.")
        self._sku = snapshot_str(state, "sku")
        self._name = snapshot_str(state, "name")
        currency = snapshot_str(state, "currency")
        if currency not in CURRENCY_PLACES:
            raise SnapshotFormatError(f"Unknown currency {currency!r} in snapshot.")
        self._price = snapshot_money(state, "price", currency)
        self._discontinued = snapshot_bool(state, "discontinued")
