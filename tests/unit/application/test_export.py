"""CSV cells of the order export: exact, locale-independent amounts and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from desktop_app.application.export import amount_text, csv_row, record_cells
from desktop_app.application.queries import OrderRow
from desktop_app.domain.values import CURRENCY_PLACES


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(sorted(CURRENCY_PLACES)))
def test_amount_text_is_the_exact_decimal(minor: int, currency: str) -> None:
    places = CURRENCY_PLACES[currency]
    text = amount_text(minor, currency)
    assert Decimal(text) == Decimal(minor).scaleb(-places)
    assert "," not in text and " " not in text
    if places:
        assert len(text.split(".")[1]) == places
    else:
        assert "." not in text


def test_times_are_utc_whole_seconds_with_z() -> None:
    berlin = timezone(timedelta(hours=1))
    row = OrderRow(
        order_id="o",
        order_number="SO-000001",
        customer_id="c",
        customer_name='Müller, "Kontor"',
        status="shipped",
        line_count=2,
        total_minor=-5,
        currency="EUR",
        # Stored text with another offset (the read model writes UTC; read it right anyway).
        placed_utc=datetime(2026, 3, 1, 0, 30, 15, 999_999, tzinfo=berlin).isoformat(),
        updated_utc=datetime(2026, 3, 2, 8, 0, tzinfo=UTC).isoformat(),
        version=7,
        last_position=9,
    )
    cells = csv_row(row)
    assert tuple(map(str, record_cells(row))) == cells  # the export's fast path agrees
    assert cells[4] == "-0.05"
    assert cells[6] == "2026-02-28T23:30:15Z"
    assert cells[7] == "2026-03-02T08:00:00Z"
    assert cells[1] == 'Müller, "Kontor"'  # quoting is the csv writer's job


def test_stored_fields_give_the_same_cells_as_shown_times() -> None:
    """The export reads the stored fields (UTC text); its cells equal those of the shown row."""
    record = OrderRow(
        order_id="o",
        order_number="SO-000042",
        customer_id="c",
        customer_name="Åkesson & Söner AB",
        status="delivered",
        line_count=3,
        total_minor=123456,
        currency="JPY",
        placed_utc="2026-02-28T23:30:15.999999Z",
        updated_utc="2026-03-02T08:00:00.000000Z",
        version=9,
        last_position=77,
    )
    assert tuple(map(str, record_cells(record))) == csv_row(record)
    assert record_cells(record)[4] == "123456" and record_cells(record)[6] == "2026-02-28T23:30:15Z"
    for minor in (0, 5, 99, 100, 123456, -5, -123456):
        eur = record._replace(total_minor=minor, currency="EUR")
        assert record_cells(eur)[4] == csv_row(eur)[4]
