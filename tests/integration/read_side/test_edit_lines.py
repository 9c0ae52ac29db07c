"""One edit of several lines on a real file: the read model (incremental and rebuilt), the
history and ``verify`` all see one event that replays to the state the command left."""

from __future__ import annotations

from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.audit import verify_history
from desktop_app.projector.runner import Projector
from tests.integration.read_side.support import dump_read_model, open_app, rebuilt_copy
from tests.unit.application.helpers import World


def test_an_edit_projects_replays_and_verifies_like_its_one_line_changes(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = open_app(path)
    try:
        assert app.read_model is not None
        projector = Projector(app.events, app.read_model.feed, app.read_model.target, batch_size=3)
        world = World(app)
        order_id = world.place(2, 3, 1)
        projector.run_once()  # the order is in the read model before the edit
        first, second, third = world.line_ids(order_id)
        edit = c.ChangeOrderLines(
            order_id=order_id,
            remove=(c.LineRemoval(line_id=second),),
            change=(c.QuantityChange(line_id=third, quantity=6),),
            add=(c.LineAddition(line=c.LineInput(product_id=world.pot, quantity=4)),),
        )
        result = world.send(edit)
        projector.run_once()
        assert projector.status().last_error is None
        detail = app.queries.ask(q.GetOrder(order_id=order_id))
        assert detail is not None
        assert [(line.line_id, line.quantity) for line in detail.lines] == [
            (first, 2),
            (third, 6),
            (edit.add[0].line_id, 4),
        ]
        assert detail.order.version == result.version
        replayed = world.state(order_id).state
        # 2 x 4.50 + 6 x 4.50 + 4 x 19.90 (mug, mug, pot): replay and read model agree.
        assert replayed["total"] == "115.60"
        assert detail.order.total_minor == 11560
        history = app.queries.ask(q.GetOrderHistory(order_id=order_id))
        assert history[-1].type_name == "OrderLinesChanged"
        # In business language (issue 11): each line by product, old → new, the total's change.
        assert history[-1].summary == (
            "Edited the lines: Removed Tea Pot (POT-2): 3 × 19.90 EUR, -59.70 EUR; "
            "Blue Mug (MUG-1): 1 → 6, +22.50 EUR; "
            "Added Tea Pot (POT-2): 4 × 19.90 EUR, +79.60 EUR (+42.40 EUR)"
        )
        # A rename after the edit reaches the line the edit added (rename index kept).
        world.send(c.RenameProduct(product_id=world.pot, name="Tea Pot XL"))
        projector.run_once()
        renamed = app.queries.ask(q.GetOrder(order_id=order_id))
        assert renamed is not None
        assert [line.product_name for line in renamed.lines][-1] == "Tea Pot XL"
        checked = verify_history(app.events, app.snapshots)
        assert checked.ok and checked.semantic and checked.finding_count == 0
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)
