"""SnapshotStore contract: snapshots are a cache; bad ones are skipped, never trusted.

A snapshot is of a stored event: each test first makes its stream reach the versions it
snapshots (``stores.reach``); only rows sealed by this store's key over that event are used.
"""

from __future__ import annotations

import pytest

from desktop_app.application.ports import Snapshot, StoreError
from tests.contract.conftest import Stores


def snap(version: int, stream_id: str = "order-1", **state: object) -> Snapshot:
    return Snapshot(
        stream_id=stream_id,
        aggregate_type="Order",
        version=version,
        schema_version=1,
        state={"version": version, **state},
    )


def test_save_and_latest(stores: Stores) -> None:
    ss = stores.snapshots
    assert ss.latest_snapshot("order-1") is None
    stores.reach("order-1", 20)
    stores.reach("order-2", 5)
    ss.save_snapshot(snap(10))
    ss.save_snapshot(snap(20))
    ss.save_snapshot(snap(5, stream_id="order-2"))
    latest = ss.latest_snapshot("order-1")
    assert latest is not None and latest.version == 20 and latest.state == {"version": 20}
    assert latest.taken_at is not None and latest.taken_at.tzinfo is not None
    assert latest.aggregate_type == "Order" and latest.schema_version == 1
    below = ss.latest_snapshot("order-1", at_or_below_version=19)
    assert below is not None and below.version == 10
    assert ss.latest_snapshot("order-1", at_or_below_version=9) is None


def test_save_replaces_same_version(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 10)
    ss.save_snapshot(snap(10, note="old"))
    ss.save_snapshot(snap(10, note="new"))
    got = ss.get_snapshot("order-1", 10)
    assert got is not None and got.state["note"] == "new"
    assert len(ss.list_snapshots("order-1")) == 1


def test_list_and_get(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 9)
    for v in (3, 9, 6):
        ss.save_snapshot(snap(v))
    infos = ss.list_snapshots("order-1")
    assert [i.version for i in infos] == [9, 6, 3]
    assert all(i.valid and i.size_bytes > 0 and i.aggregate_type == "Order" for i in infos)
    assert ss.list_snapshots("nothing") == []
    assert ss.get_snapshot("order-1", 6) is not None
    assert ss.get_snapshot("order-1", 7) is None


def test_corrupt_snapshot_is_skipped(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 20)
    ss.save_snapshot(snap(10))
    ss.save_snapshot(snap(20))
    stores.corrupt_snapshot("order-1", 20)
    latest = ss.latest_snapshot("order-1")
    assert latest is not None and latest.version == 10
    assert ss.get_snapshot("order-1", 20) is None
    infos = {i.version: i.valid for i in ss.list_snapshots("order-1")}
    assert infos == {20: False, 10: True}
    stores.corrupt_snapshot("order-1", 10)
    assert ss.latest_snapshot("order-1") is None


def test_snapshot_state_is_a_copy(stores: Stores) -> None:
    ss = stores.snapshots
    state = {"lines": [{"sku": "A"}]}
    stores.reach("s", 1)
    ss.save_snapshot(
        Snapshot(stream_id="s", aggregate_type="Order", version=1, schema_version=1, state=state)
    )
    state["lines"][0]["sku"] = "changed"
    got = ss.get_snapshot("s", 1)
    assert got is not None and got.state == {"lines": [{"sku": "A"}]}
    got.state["lines"][0]["sku"] = "mutated"  # type: ignore[index]
    again = ss.get_snapshot("s", 1)
    assert again is not None and again.state == {"lines": [{"sku": "A"}]}


def test_unicode_snapshot_round_trip(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 1)
    ss.save_snapshot(snap(1, name="cafe\u0301 😀 שלום", other="caf\u00e9"))
    got = ss.get_snapshot("order-1", 1)
    assert got is not None
    assert got.state["name"] == "cafe\u0301 😀 שלום" and got.state["other"] == "caf\u00e9"


def test_float_state_refused(stores: Stores) -> None:
    stores.reach("order-1", 1)
    with pytest.raises(TypeError):
        stores.snapshots.save_snapshot(snap(1, price=1.5))
    assert stores.snapshots.list_snapshots("order-1") == []


# ---------------------------------------------------------------------------- R26 seals


def test_forged_snapshot_is_ignored_and_counted(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 20)
    ss.save_snapshot(snap(10, status="pending"))
    ss.save_snapshot(snap(20, status="cancelled"))
    assert ss.trust().sealing and ss.trust().ignored == 0
    # The attack: new state, public checksum recomputed; the seal cannot be recomputed.
    stores.forge_snapshot("order-1", 20, '{"status":"pending","version":20}')
    latest = ss.latest_snapshot("order-1")
    assert latest is not None and latest.version == 10
    assert ss.get_snapshot("order-1", 20) is None
    info = {i.version: i for i in ss.list_snapshots("order-1")}
    assert info[20].valid is False and "seal does not match" in (info[20].problem or "")
    assert info[10].valid is True and info[10].problem is None
    trust = ss.trust()
    assert trust.ignored >= 1 and "order-1 at v20" in (trust.last_problem or "")


def test_snapshot_without_this_accounts_key_is_not_trusted(stores: Stores) -> None:
    stores.reach("order-1", 10)
    stores.snapshots.save_snapshot(snap(10))
    other = stores.keyless_snapshots()
    assert other.latest_snapshot("order-1") is None
    assert other.get_snapshot("order-1", 10) is None
    [info] = other.list_snapshots("order-1")
    assert not info.valid and info.problem
    assert other.trust().ignored >= 1
    assert stores.snapshots.latest_snapshot("order-1") is not None  # the owner still trusts it


def test_snapshot_of_a_version_the_stream_lacks_is_refused(stores: Stores) -> None:
    stores.reach("order-1", 3)
    with pytest.raises(StoreError):
        stores.snapshots.save_snapshot(snap(4))
    assert stores.snapshots.list_snapshots("order-1") == []


def test_iter_snapshots_lists_every_row_with_its_problem(stores: Stores) -> None:
    ss = stores.snapshots
    stores.reach("order-1", 20)
    stores.reach("order-0", 5)
    ss.save_snapshot(snap(20))
    ss.save_snapshot(snap(10))
    ss.save_snapshot(snap(5, stream_id="order-0"))
    stores.forge_snapshot("order-1", 10, '{"version":11}')
    rows = list(ss.iter_snapshots())
    assert [(r.stream_id, r.version) for r in rows] == [
        ("order-0", 5),
        ("order-1", 10),
        ("order-1", 20),
    ]
    assert rows[0].problem is None and rows[0].key_checked
    assert rows[1].problem is not None and rows[1].state == {"version": 11}
    assert rows[2].state == {"version": 20}
