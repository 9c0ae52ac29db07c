"""The one current-order object the side panels subscribe to (issue 13: no getattr relay)."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.ui.current_order import CurrentOrder


class Panel:
    """Records what it was told (stands in for Detail, History or Snapshots)."""

    def __init__(self) -> None:
        self.shown: list[str | None] = []
        self.refreshes = 0

    def show_order(self, order_id: str | None) -> None:
        self.shown.append(order_id)

    def refresh(self) -> None:
        self.refreshes += 1


@pytest.fixture
def current(qtbot: Any) -> CurrentOrder:
    return CurrentOrder()


def test_selecting_tells_every_panel_then_the_listeners(qtbot: Any, current: CurrentOrder) -> None:
    detail, history = Panel(), Panel()
    current.attach(detail)
    current.attach(history)
    with qtbot.waitSignal(current.changed, timeout=1000) as changed:
        current.select("o-1", 3)
    assert changed.args == ["o-1"]
    assert detail.shown == ["o-1"] and history.shown == ["o-1"]
    assert (current.order_id, current.version) == ("o-1", 3)
    current.select(None)
    assert detail.shown == ["o-1", None] and current.version is None


def test_a_panel_built_later_shows_the_current_order_at_once(current: CurrentOrder) -> None:
    current.select("o-7", 2)
    late = Panel()
    current.attach(late)
    assert late.shown == ["o-7"]
    empty = CurrentOrder()
    nothing = Panel()
    empty.attach(nothing)
    assert nothing.shown == []  # no order: nothing to show yet


def test_a_newer_version_in_the_list_makes_the_panels_reread(
    qtbot: Any, current: CurrentOrder
) -> None:
    panel = Panel()
    current.attach(panel)
    current.select("o-1", 3)
    current.seen("o-1", 3)  # the same version again: nothing to do
    current.seen("o-2", 9)  # another order's row: not ours
    assert panel.refreshes == 0
    with qtbot.waitSignal(current.updated, timeout=1000) as updated:
        current.seen("o-1", 4)  # changed in another program
    assert updated.args == ["o-1"] and panel.refreshes == 1
    assert current.version == 4


def test_a_change_made_in_one_panel_rereads_only_the_others(current: CurrentOrder) -> None:
    detail, history, snapshots = Panel(), Panel(), Panel()
    for panel in (detail, history, snapshots):
        current.attach(panel)
    current.select("o-1", 3)
    current.changed_by(detail, "o-1")
    assert (detail.refreshes, history.refreshes, snapshots.refreshes) == (0, 1, 1)
    # The list then shows that change's version: already re-read, so not a second time.
    current.seen("o-1", 4)
    assert (history.refreshes, snapshots.refreshes) == (1, 1)
    # A change to an order that is no longer selected re-reads nothing.
    current.changed_by(detail, "o-9")
    assert (history.refreshes, snapshots.refreshes) == (1, 1)


def test_reload_rereads_every_panel_and_detach_stops_it(current: CurrentOrder) -> None:
    kept, replaced = Panel(), Panel()
    current.attach(kept)
    current.attach(replaced)
    current.detach(replaced)
    current.select("o-1", 1)
    current.reload()
    assert kept.refreshes == 1 and replaced.refreshes == 0
    assert replaced.shown == []
