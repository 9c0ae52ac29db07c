"""Customer and Product rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.domain import (
    Customer,
    CustomerRef,
    CustomerRegistered,
    CustomerRenamed,
    DomainError,
    Money,
    Product,
    ProductAdded,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRef,
    ProductRenamed,
)


def _eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def _widget() -> Product:
    return Product.add(product_id="p-1", sku=" wid-1 ", name="Widget", price=_eur("4.50"))


# --- Customer ----------------------------------------------------------------------------


def test_register_and_rename() -> None:
    customer = Customer.register(customer_id="c-1", name="  Zoë's Café 😀 ")
    assert customer.name == "Zoë's Café 😀"
    assert customer.take_pending() == [CustomerRegistered(customer_id="c-1", name="Zoë's Café 😀")]
    customer.rename("Zoe Ltd")
    assert customer.take_pending() == [CustomerRenamed(customer_id="c-1", name="Zoe Ltd")]
    assert customer.as_ref() == CustomerRef(customer_id="c-1", name="Zoe Ltd")
    assert customer.version == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a customer name."),
        ("   ", "Enter a customer name."),
        ("n" * 121, "The customer name can be at most 120 characters"),
        ("A\x00B", "The customer name contains a control character"),
        ("A\ud83dB", "The customer name contains an invalid character"),
        ("x" * 10_000_000, "The customer name can be at most 120 characters"),
    ],
)
def test_customer_name_refusals(name: str, message: str) -> None:
    with pytest.raises(DomainError) as exc:
        Customer.register(customer_id="c-1", name=name)
    assert exc.value.field == "name"
    assert exc.value.message.startswith(message)
    customer = Customer.register(customer_id="c-1", name="Acme")
    with pytest.raises(DomainError) as exc:
        customer.rename(name)
    assert exc.value.message.startswith(message)


def test_rename_to_same_name_refused() -> None:
    customer = Customer.register(customer_id="c-1", name="Acme")
    with pytest.raises(DomainError) as exc:
        customer.rename(" Acme ")
    assert (exc.value.message, exc.value.field) == ("The customer is already called Acme.", "name")


def test_nfd_twin_is_a_different_name() -> None:
    customer = Customer.register(customer_id="c-1", name="Caf\u00e9")
    customer.rename("Cafe\u0301")
    assert customer.name == "Cafe\u0301"


# --- Product -----------------------------------------------------------------------------


def test_add_product() -> None:
    product = _widget()
    assert product.take_pending() == [
        ProductAdded(product_id="p-1", sku="WID-1", name="Widget", price=_eur("4.50"))
    ]
    assert (product.sku, product.name, product.price, product.discontinued) == (
        "WID-1",
        "Widget",
        _eur("4.50"),
        False,
    )
    assert product.as_ref() == ProductRef("p-1", "WID-1", "Widget", _eur("4.50"), False)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"sku": ""}, "sku", "Enter a SKU."),
        ({"sku": "A B"}, "sku", "A SKU can contain only"),
        ({"name": " "}, "name", "Enter a product name."),
        ({"name": "n" * 121}, "name", "The product name can be at most 120 characters"),
        ({"price": Money(Decimal("-1"), "EUR")}, "price", "A price cannot be negative."),
        ({"price": 4.5}, "price", "Enter a price."),
    ],
)
def test_add_product_refusals(kwargs: dict[str, object], field: str, message: str) -> None:
    args: dict[str, object] = {
        "product_id": "p-1",
        "sku": "W-1",
        "name": "Widget",
        "price": _eur("1"),
        **kwargs,
    }
    with pytest.raises(DomainError) as exc:
        Product.add(**args)  # type: ignore[arg-type]
    assert exc.value.field == field
    assert exc.value.message.startswith(message)


def test_rename_product() -> None:
    product = _widget()
    product.take_pending()
    product.rename("Gadget")
    assert product.take_pending() == [ProductRenamed(product_id="p-1", name="Gadget")]
    with pytest.raises(DomainError) as exc:
        product.rename("Gadget")
    assert (exc.value.message, exc.value.field) == ("The product is already called Gadget.", "name")


def test_change_price() -> None:
    product = _widget()
    product.take_pending()
    product.change_price(_eur("5"))
    assert product.take_pending() == [ProductPriceChanged(product_id="p-1", price=_eur("5.00"))]
    assert product.price == _eur("5.00")


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (Money.parse("5.00", "EUR"), "The price is already 5.00 EUR."),
        (Money.parse("5", "USD"), "The price must stay in EUR (not USD)."),
        (Money(Decimal("-5"), "EUR"), "A price cannot be negative."),
    ],
)
def test_change_price_refusals(price: Money, message: str) -> None:
    product = Product.add(product_id="p-1", sku="W", name="W", price=_eur("5"))
    with pytest.raises(DomainError) as exc:
        product.change_price(price)
    assert (exc.value.message, exc.value.field) == (message, "price")


def test_discontinue() -> None:
    product = _widget()
    product.take_pending()
    product.discontinue()
    assert product.take_pending() == [ProductDiscontinued(product_id="p-1")]
    assert product.discontinued and product.as_ref().discontinued
    with pytest.raises(DomainError) as exc:
        product.discontinue()
    assert exc.value.message == "This product is already discontinued."
    with pytest.raises(DomainError) as exc:
        product.change_price(_eur("9"))
    assert exc.value.message == "The price of a discontinued product cannot be changed."
    assert exc.value.field == "price"


# --- SKU keys and look-alike customer names ------------------------------------------------


def test_sku_key_ignores_case_and_surrounding_space_but_not_punctuation() -> None:
    from desktop_app.domain.catalog import sku_key

    assert sku_key(" mug-blue ") == sku_key("MUG-BLUE") == "MUG-BLUE"
    assert sku_key("ＭＵＧ-1") == "MUG-1"  # full-width letters from an old event
    assert len({sku_key(s) for s in ("MUG-1", "MUG1", "MUG.1", "MUG_1")}) == 4


def test_name_key_folds_case_accents_punctuation_and_spaces() -> None:
    from desktop_app.domain.catalog import name_key

    assert name_key("  Müller   GmbH ") == name_key("MULLER gmbh") == "muller gmbh"
    assert name_key("Blue Harbour Café.") == "blue harbour cafe"
    assert name_key("Straße") == "strasse"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Müller GmbH", ["Müller GmbH"]),
        ("muller  gmbh", ["Müller GmbH"]),
        ("Müler GmbH", ["Müller GmbH"]),  # one letter missing
        ("Blue Harbor Cafe", ["Blue Harbour Café"]),
        ("Acme Trading Ltd.", ["Acme Trading Ltd"]),
        ("Zeta Supplies", []),
        ("Northwind", []),
        ("", []),
    ],
)
def test_similar_names_finds_look_alikes_only(typed: str, expected: list[str]) -> None:
    from desktop_app.domain.catalog import similar_names

    existing = ["Müller GmbH", "Blue Harbour Café", "Acme Trading Ltd", "Northwind Traders"]
    found = similar_names(typed, [(name, name.upper()) for name in existing])
    assert [name for name, _item in found] == expected
    assert all(item == name.upper() for name, item in found)
