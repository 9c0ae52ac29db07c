"""Customer and Product aggregates: the names and prices the order forms pick from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from desktop_app.domain.aggregate import (
    Aggregate,
    snapshot_bool,
    snapshot_money,
    snapshot_str,
)
from desktop_app.domain.errors import InvalidValue, RuleViolation, SnapshotFormatError
from desktop_app.domain.events import (
    CustomerRegistered,
    CustomerRenamed,
    DomainEvent,
    ProductAdded,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRenamed,
)
from desktop_app.domain.order import CustomerRef, ProductRef
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
    SNAPSHOT_SCHEMA_VERSION: ClassVar[int] = 1
    CREATION_EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = (CustomerRegistered,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self._name = ""

    @property
    def name(self) -> str:
        """The customer's current name."""
        return self._name

    def as_ref(self) -> CustomerRef:
        """What an order needs to know about this customer."""
        return CustomerRef(customer_id=self.id, name=self._name)

    @classmethod
    def register(cls, *, customer_id: str, name: str) -> Customer:
        """Register a new customer."""
        customer_id = _id(customer_id, "customer_id")
        checked = _customer_name(name)
        customer = cls(customer_id)
        customer._record(CustomerRegistered(customer_id=customer_id, name=checked))
        return customer

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
            case _:
                raise RuleViolation(f"A customer cannot record {type(event).__name__}.")

    def _when(self, event: DomainEvent) -> None:
        match event:
            case CustomerRegistered() | CustomerRenamed():
                self._name = event.name
            case _:
                raise TypeError(f"Customer cannot apply {type(event).__name__}")

    def to_snapshot(self) -> dict[str, JSON]:
        """{"customer_id", "name"}."""
        return {"customer_id": self.id, "name": self._name}

    def _restore(self, state: Mapping[str, object]) -> None:
        if snapshot_str(state, "customer_id") != self.id:
            raise SnapshotFormatError("The snapshot belongs to another customer.")
        self._name = snapshot_str(state, "name")


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
