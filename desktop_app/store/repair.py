"""``repair``: put the append-only triggers back, and record that it was done (R29).

Allowed only on a file that passed ``verify`` (the caller checks the chain and the anchors and
passes the head it verified): the triggers are recreated in one ``BEGIN IMMEDIATE``
transaction that first makes sure the head is still the verified one. The repair is recorded
in the anchor log, outside the database, before the transaction commits (no repair without a
record): who, when, on which host, what was wrong and what was done, plus the head at that
moment, which also anchors the repaired file. The record is kept outside the file on purpose:
whoever could drop the triggers could as easily delete a record kept inside it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.application.ports import StoreError
from desktop_app.store.anchors import anchor_record, append_anchor, read_head
from desktop_app.store.engine import translate_error
from desktop_app.store.triggers import restore_triggers, trigger_problem


class RepairError(StoreError):
    """The repair was refused or failed; nothing was changed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RepairResult:
    """What a repair found and did, and where it was recorded."""

    problem: str | None
    actions: tuple[str, ...]
    head_position: int
    recorded_in: Path | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def repair_triggers(
    path: Path,
    *,
    verified_position: int,
    verified_hash: str,
    anchor_log: Path,
    clock: Callable[[], datetime] = _utc_now,
    busy_timeout_ms: int = 5000,
) -> RepairResult:
    """Recreate the schema's append-only triggers in the file at ``path`` (dropping altered or
    unexpected ones) if its head is still ``verified_position``/``verified_hash``."""
    path = Path(path).absolute()
    try:
        con = sqlite3.connect(
            path.as_uri() + "?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=busy_timeout_ms / 1000,
        )
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc
    with closing(con):
        try:
            con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            con.execute("PRAGMA synchronous = FULL")  # the repair is durable once committed
            con.execute("BEGIN IMMEDIATE")
            problem = trigger_problem(con)
            if problem is None:
                con.execute("ROLLBACK")
                return RepairResult(
                    problem=None, actions=(), head_position=verified_position, recorded_in=None
                )
            head = read_head(con)
            if (head.position, head.hash) != (verified_position, verified_hash):
                raise RepairError(
                    f"{path} changed after it was verified (its head is now #{head.position}, "
                    f"verified #{verified_position}); verify it again before repairing"
                )
            actions = restore_triggers(con)
            left = trigger_problem(con)
            if left is not None:  # the schema's own DDL must give the schema's own triggers
                raise RepairError(f"the triggers could not be put back: {left}")
            record = anchor_record(
                head,
                reason="repair",
                db_path=path,
                clock=clock,
                extra={"problem": problem, "actions": actions},
            )
            try:
                append_anchor(anchor_log, record)
            except OSError as exc:
                raise RepairError(
                    f"the repair could not be recorded in {anchor_log} ({exc.strerror or exc}); "
                    "nothing was changed"
                ) from exc
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate_error(exc) from exc
            raise
    return RepairResult(
        problem=problem,
        actions=tuple(actions),
        head_position=head.position,
        recorded_in=anchor_log,
    )


__all__ = ["RepairError", "RepairResult", "repair_triggers"]
