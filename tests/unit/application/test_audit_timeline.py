"""The audit view's history (issue 11): business language, one card per command, long runs
folded, and an integrity verdict per event. Over the real buses and the in-memory stores."""

from __future__ import annotations

import json
from decimal import Decimal

from desktop_app.application import commands as c
from desktop_app.application.audit_timeline import (
    BAD,
    OK,
    UNCHECKED,
    GetOrderAudit,
    OrderAudit,
    get_order_audit,
)
from desktop_app.application.business_summaries import money
from desktop_app.application.ports import NewEvent
from desktop_app.domain import events as e
from desktop_app.domain.serialization import to_payload
from desktop_app.store.event_hashes import stored_event_hash

from .helpers import MemoryApp, World


def _audit(app: MemoryApp, order_id: str, *, chain: bool = True, run_min: int = 5) -> OrderAudit:
    query = GetOrderAudit(order_id=order_id, check=chain, run_min=run_min)
    return get_order_audit(app.events, stored_event_hash, query)


def test_lines_are_named_by_product_with_old_new_values_and_money(world: World) -> None:
    order = world.place(3, 1)  # 3 × Blue Mug at 4.50, 1 × Tea Pot at 19.90
    mug, pot = world.line_ids(order)
    world.send(c.ChangeLineQuantity(order_id=order, line_id=mug, quantity=7))
    world.send(c.RemoveOrderLine(order_id=order, line_id=pot))
    world.send(
        c.ChangeOrderLines(
            order_id=order,
            change=(c.QuantityChange(line_id=mug, quantity=2),),
            add=(c.LineAddition(line=c.LineInput(product_id=world.pot, quantity=2)),),
        )
    )
    texts = [event.summary for event in _audit(world.app, order).events]
    assert texts[1:] == [
        "Added Blue Mug (MUG-1): 3 × 4.50 EUR, +13.50 EUR",
        "Added Tea Pot (POT-2): 1 × 19.90 EUR, +19.90 EUR",
        "Blue Mug (MUG-1): 3 → 7, +18.00 EUR",
        "Removed Tea Pot (POT-2): 1 × 19.90 EUR, -19.90 EUR",
        "Edited the lines: Blue Mug (MUG-1): 7 → 2, -22.50 EUR; "
        "Added Tea Pot (POT-2): 2 × 19.90 EUR, +39.80 EUR (+17.30 EUR)",
    ]
    events = _audit(world.app, order).events
    assert [ev.change.delta for ev in events] == [
        None,
        Decimal("13.50"),
        Decimal("19.90"),
        Decimal("18.00"),
        Decimal("-19.90"),
        Decimal("17.30"),
    ]
    assert events[-1].change.total == Decimal("48.80")
    # Internal ids stay out of the sentences (they are in the event, for the details pane).
    assert not any(mug[:8] in text or pot[:8] in text for text in texts)


def test_money_is_shown_with_cents_and_a_sign() -> None:
    assert money(Decimal("18"), "EUR", signed=True) == "+18.00 EUR"
    assert money(Decimal("-1234.5"), "EUR", signed=True) == "-1,234.50 EUR"
    assert money(Decimal("0.125"), "USD") == "0.125 USD"


def test_events_of_one_command_make_one_card(world: World) -> None:
    order = world.place(3, 1)  # one command: OrderPlaced + two lines
    world.send(c.ConfirmOrder(order_id=order))
    audit = _audit(world.app, order)
    assert [(card.title, len(card.events)) for card in audit.cards] == [
        ("Place order", 3),
        ("Confirm", 1),
    ]
    card = audit.cards[0]
    first = audit.events[0]
    assert card.byline() == f"by {first.user} on {first.host} · 3 events"
    assert card.delta == Decimal("33.40")
    assert {ev.command_id for ev in card.events} == {first.command_id}


def test_a_long_run_of_like_commands_folds_into_one_card(world: World) -> None:
    order = world.place(1)
    (line,) = world.line_ids(order)
    for quantity in range(2, 14):  # 12 quantity changes
        world.send(c.ChangeLineQuantity(order_id=order, line_id=line, quantity=quantity))
    world.send(c.ConfirmOrder(order_id=order))
    audit = _audit(world.app, order)
    assert [(card.kind, card.title) for card in audit.cards] == [
        ("command", "Place order"),
        ("run", "12 quantity changes"),
        ("command", "Confirm"),
    ]
    run = audit.cards[1]
    assert run.commands == 12 and len(run.events) == 12
    assert run.delta == Decimal("4.50") * 12
    # Below the threshold nothing folds.
    short = _audit(world.app, order, run_min=13)
    assert [card.kind for card in short.cards] == ["command"] * 14


def test_a_clean_history_is_ok_on_chain_and_meaning(world: World) -> None:
    order = world.place(2)
    world.send(c.ConfirmOrder(order_id=order))
    audit = _audit(world.app, order)
    assert audit.checked and audit.problems == 0
    assert {ev.integrity.state for ev in audit.events} == {OK}
    unchained = _audit(world.app, order, chain=False)
    assert {ev.integrity.state for ev in unchained.events} == {UNCHECKED}
    assert not any(
        ev.integrity.meaning_checked or ev.integrity.chain_checked for ev in unchained.events
    )


def test_an_illegal_event_with_a_sound_chain_is_bad_with_the_rule_it_breaks(
    app: MemoryApp,
) -> None:
    """Written past the aggregate (as anyone with the file and the hash formula could): the
    chain holds, the replay names the broken rule."""
    world = World(app)
    order = world.place(2)
    stream = world.stream(order)
    shipped = e.OrderShipped(order_id=order, tracking_number="1Z")  # while still pending
    app.events.append(
        stream,
        world.version(order),
        [
            NewEvent(
                event_id="forged-1",
                type_name=shipped.type_name,
                schema_version=shipped.schema_version,
                payload=to_payload(shipped),
                metadata=app.events.read_stream(stream)[0].metadata,
            )
        ],
    )
    audit = _audit(app, order)
    verdicts = [(ev.type_name, ev.integrity.state) for ev in audit.events]
    assert verdicts[-1] == ("OrderShipped", BAD)
    assert {state for _, state in verdicts[:-1]} == {OK}
    (reason,) = audit.events[-1].integrity.reasons
    assert reason == "illegal: An order can only be shipped once it is confirmed."
    assert audit.cards[-1].bad and audit.problems == 1


def test_the_bundle_report_tells_the_history_in_business_language(world: World) -> None:
    """The audit bundle's rendered report uses the same sentences as the audit view."""
    from desktop_app.application.audit_bundle import history_entries

    order = world.place(3)
    (line,) = world.line_ids(order)
    world.send(c.ChangeLineQuantity(order_id=order, line_id=line, quantity=7))
    rows = [
        (
            ev.position,
            ev.stream_id,
            ev.version,
            ev.event_id,
            ev.type_name,
            ev.schema_version,
            json.dumps(ev.payload),
            json.dumps(ev.metadata.to_json()),
            ev.recorded_at.isoformat(),
            ev.prev_hash,
            ev.hash,
        )
        for ev in world.app.events.read_stream(world.stream(order))
    ]
    assert [entry.summary for entry in history_entries(rows)][1:] == [
        "Added Blue Mug (MUG-1): 3 × 4.50 EUR, +13.50 EUR",
        "Blue Mug (MUG-1): 3 → 7, +18.00 EUR",
    ]


def test_two_versions_read_as_the_order_document_before_and_after(world: World) -> None:
    from desktop_app.application import queries as q
    from desktop_app.application.business_summaries import document_diff

    order = world.place(3, 1)
    mug, pot = world.line_ids(order)
    world.send(
        c.ChangeOrderLines(
            order_id=order,
            remove=(c.LineRemoval(line_id=pot),),
            change=(c.QuantityChange(line_id=mug, quantity=7),),
        )
    )
    world.send(c.ConfirmOrder(order_id=order))

    def state(version: int) -> dict[str, object]:
        asked = q.GetOrderAtVersion(order_id=order, version=version)
        return dict(world.app.queries.ask(asked).state)

    diff = document_diff(state(3), state(5))
    assert [(r.label, r.before, r.after, r.change) for r in diff.lines] == [
        ("Blue Mug (MUG-1)", "3 × 4.50 EUR = 13.50 EUR", "7 × 4.50 EUR = 31.50 EUR", "changed"),
        ("Tea Pot (POT-2)", "1 × 19.90 EUR = 19.90 EUR", "", "removed"),
    ]
    status = next(r for r in diff.header if r.label == "Status")
    assert (status.before, status.after, status.change) == ("Pending", "Confirmed", "changed")
    assert (diff.total.before, diff.total.after) == ("33.40 EUR", "31.50 EUR")
    assert diff.delta == Decimal("-1.90")
    created = document_diff(None, state(1))  # before the order existed: everything is new
    assert {r.change for r in created.header if r.after} == {"added"}


def test_without_a_check_the_story_is_the_same_and_an_unreadable_event_is_red(
    app: MemoryApp,
) -> None:
    """The first paint's quick pass (no check) tells the very story the checked pass does;
    only the verdicts wait, except for an event that cannot even be read."""
    world = World(app)
    order = world.place(3, 1)
    mug, _pot = world.line_ids(order)
    for quantity in range(4, 12):
        world.send(c.ChangeLineQuantity(order_id=order, line_id=mug, quantity=quantity))
    stream = world.stream(order)
    app.events.append(
        stream,
        world.version(order),
        [
            NewEvent(
                event_id="garbled-1",
                type_name=e.OrderLineQuantityChanged.type_name,
                schema_version=e.OrderLineQuantityChanged.schema_version,
                payload={"order_id": order, "line_id": mug, "quantity": "lots"},
                metadata=app.events.read_stream(stream)[0].metadata,
            )
        ],
    )
    quick = _audit(app, order, chain=False)
    full = _audit(app, order, chain=True)
    assert [ev.summary for ev in quick.events] == [ev.summary for ev in full.events]
    assert [(card.kind, card.title, len(card.events)) for card in quick.cards] == [
        (card.kind, card.title, len(card.events)) for card in full.cards
    ]
    assert {ev.integrity.state for ev in quick.events[:-1]} == {UNCHECKED}
    last = quick.events[-1]
    assert last.integrity.state == BAD and last.integrity.reasons[0].startswith("unreadable: ")
    assert full.events[-1].integrity.state == BAD
    # Every field the view shows is the stored event's own.
    stored = app.events.read_stream(stream)
    for shown, kept in zip(quick.events, stored, strict=True):
        assert (shown.position, shown.version, shown.event_id, shown.type_name) == (
            kept.position,
            kept.version,
            kept.event_id,
            kept.type_name,
        )
        assert (shown.recorded_at, shown.hash, shown.prev_hash, shown.payload) == (
            kept.recorded_at,
            kept.hash,
            kept.prev_hash,
            kept.payload,
        )
        md = kept.metadata
        assert (shown.user, shown.host, shown.app_version) == (md.user, md.host, md.app_version)
        assert (shown.command_id, shown.correlation_id) == (md.causation_id, md.correlation_id)
