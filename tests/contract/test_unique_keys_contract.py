"""Unique keys (SKUs): claimed in the same append as the events, by every store alike."""

from __future__ import annotations

import threading

import pytest

from desktop_app.application.ports import ConcurrencyError, UniqueClaim, UniqueKeyTakenError
from tests.contract.conftest import Stores
from tests.fixtures.store_helpers import events

NS = "product-sku"


def sku(key: str, owner: str) -> UniqueClaim:
    return UniqueClaim(NS, key, owner)


def test_a_claimed_key_refuses_another_owner_and_writes_nothing(stores: Stores) -> None:
    es = stores.events
    es.append("product-a", 0, events(1), claims=[sku("MUG-BLUE", "a")])
    assert es.unique_key_holder(NS, "MUG-BLUE") == "a"
    head = es.head_position()
    with pytest.raises(UniqueKeyTakenError) as info:
        es.append("product-b", 0, events(1), command_id="cmd-b", claims=[sku("MUG-BLUE", "b")])
    assert info.value.holder == "a" and info.value.claim.owner == "b"
    assert es.head_position() == head
    assert es.stream_version("product-b") == 0
    assert es.find_command("cmd-b") is None  # the refused command left no record either
    assert es.unique_key_holder(NS, "MUG-BLUE") == "a"
    assert es.verify().ok


def test_the_owner_may_claim_its_own_key_again(stores: Stores) -> None:
    es = stores.events
    es.append("product-a", 0, events(1), claims=[sku("MUG-BLUE", "a")])
    es.append("product-a", 1, events(1), claims=[sku("MUG-BLUE", "a")])
    assert es.stream_version("product-a") == 2
    assert es.unique_key_holder(NS, "MUG-BLUE") == "a"


def test_keys_are_exact_and_per_namespace(stores: Stores) -> None:
    es = stores.events
    es.append("product-a", 0, events(1), claims=[sku("MUG-BLUE", "a")])
    # The application normalises; the store compares exactly.
    es.append("product-b", 0, events(1), claims=[sku("MUG-BLUE-2", "b")])
    es.append("thing-c", 0, events(1), claims=[UniqueClaim("other", "MUG-BLUE", "c")])
    assert es.unique_key_holder(NS, "MUG-BLUE-2") == "b"
    assert es.unique_key_holder("other", "MUG-BLUE") == "c"
    assert es.unique_key_holder(NS, "NOBODY") is None
    assert es.unique_key_clashes() == []


def test_a_refused_append_claims_nothing(stores: Stores) -> None:
    es = stores.events
    es.append("product-a", 0, events(1))
    with pytest.raises(ConcurrencyError):
        es.append("product-a", 0, events(1), claims=[sku("MUG-RED", "a")])
    assert es.unique_key_holder(NS, "MUG-RED") is None
    # All claims of one append stand or fall together.
    es.append("product-x", 0, events(1), claims=[sku("TAKEN", "x")])
    with pytest.raises(UniqueKeyTakenError):
        es.append("product-y", 0, events(1), claims=[sku("FREE", "y"), sku("TAKEN", "y")])
    assert es.unique_key_holder(NS, "FREE") is None


def test_a_resent_command_is_a_duplicate_not_a_clash(stores: Stores) -> None:
    es = stores.events
    first = es.append("product-a", 0, events(1), command_id="cmd-a", claims=[sku("K", "a")])
    again = es.append("product-a", 0, events(1), command_id="cmd-a", claims=[sku("K", "a")])
    assert again.duplicate and again.last_position == first.last_position
    assert es.head_position() == 1


def test_racing_owners_win_a_key_exactly_once(stores: Stores) -> None:
    es = stores.events
    outcomes: dict[str, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(owner: str) -> None:
        start.wait()
        try:
            es.append(f"product-{owner}", 0, events(1), claims=[sku("RACE-1", owner)])
            outcome = "won"
        except UniqueKeyTakenError:
            outcome = "lost"
        with lock:
            outcomes[owner] = outcome

    threads = [threading.Thread(target=worker, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [owner for owner, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1 and len(outcomes) == 6
    assert es.unique_key_holder(NS, "RACE-1") == winners[0]
    assert list(es.iter_stream_ids("product-")) == [f"product-{winners[0]}"]
