"""Verify can be cancelled between chunks; a cancelled check is never "OK" and says how far
it got (issue 11: Tools ▸ Verify with progress and Cancel)."""

from __future__ import annotations

from pathlib import Path

from desktop_app.application.audit import verify_history
from desktop_app.application.ports import VerifyResult
from tests.integration.store.test_verify_semantic import Desk, _open


def _verify(desk: Desk, cancel_after: int, *, chain_only: bool = False) -> VerifyResult:
    """Verify, answering the cancel question "no" ``cancel_after`` times and then "yes"."""
    asked = [0]

    def cancel() -> bool:
        asked[0] += 1
        return asked[0] > cancel_after

    app = _open(desk.path, desk.keys, read_only=True)
    try:
        return verify_history(app.events, app.snapshots, chain_only=chain_only, cancel=cancel)
    finally:
        app.close()


def test_cancel_during_the_chain_pass_stops_at_once(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    for chain_only in (False, True):
        result = _verify(desk, 0, chain_only=chain_only)
        assert not result.ok
        assert result.cancelled_in == "chain"
        assert result.cancelled_at == 0
        assert not result.semantic
        assert "cancelled" in (result.problem or "")


def test_cancel_during_the_replay_keeps_what_was_found_so_far(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    full = desk.verify()
    assert full.ok and full.streams_checked > 2
    # The chain pass of this small file asks twice (start, end); the replay once per stream.
    result = _verify(desk, 3)
    assert not result.ok
    assert result.cancelled_in == "replay"
    assert result.cancelled_at is not None and 0 < result.cancelled_at < full.checked
    assert result.head_position == full.head_position
    assert result.first_bad_position is None


def test_a_check_never_cancelled_is_unchanged(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    result = _verify(desk, 10**9)
    assert result.ok and result.cancelled_at is None and result.cancelled_in is None
    assert result.semantic
