"""The append-only triggers on ``events``: what the schema creates, and whether a file has them.

The definitions a file must have are taken from SQLite itself: the schema's own DDL
(:data:`desktop_app.store.schema.APPEND_ONLY_TRIGGERS`) is run on an empty in-memory database
and the text SQLite stores for it is read back. A file's triggers are compared with that text
exactly (R29): a trigger that is missing, whose text differs in any character, or any other
trigger on ``events`` (one could silently drop or rewrite inserted events) is a problem.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from functools import cache

from desktop_app.store.schema import APPEND_ONLY_TRIGGERS

_EVENTS_TRIGGERS_SQL = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND lower(tbl_name) = 'events' "
    "ORDER BY name"
)


@cache
def expected_triggers() -> dict[str, str]:
    """``{name: sql}`` exactly as SQLite stores the triggers the schema creates on ``events``."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as con:
        con.execute("CREATE TABLE events (position INTEGER PRIMARY KEY)")
        for ddl in APPEND_ONLY_TRIGGERS:
            con.execute(ddl)
        return {str(name): str(sql) for name, sql in con.execute(_EVENTS_TRIGGERS_SQL)}


def events_triggers(con: sqlite3.Connection) -> dict[str, str | None]:
    """``{name: sql}`` of every trigger on ``events`` in the file behind ``con``."""
    return {
        str(name): None if sql is None else str(sql)
        for name, sql in con.execute(_EVENTS_TRIGGERS_SQL)
    }


def trigger_problem(con: sqlite3.Connection) -> str | None:
    """What is wrong with the append-only triggers of the file behind ``con`` (None if exact)."""
    expected = expected_triggers()
    found = events_triggers(con)
    problems: list[str] = []
    for name in expected:
        if name not in found:
            problems.append(f"trigger {name} is missing")
        elif found[name] != expected[name]:
            problems.append(f"trigger {name} was altered")
    problems.extend(
        f"an unexpected trigger {name} is defined on the events"
        for name in sorted(found)
        if name not in expected
    )
    if not problems:
        return None
    return "the append-only protection of the events is not intact (" + "; ".join(problems) + ")"


def restore_triggers(con: sqlite3.Connection) -> list[str]:
    """Drop every wrong or unexpected trigger on ``events`` and create the schema's own, inside
    the caller's transaction; returns what was done (empty when nothing needed doing)."""
    expected = expected_triggers()
    found = events_triggers(con)
    done: list[str] = []
    for name, sql in sorted(found.items()):
        if expected.get(name) != sql:
            con.execute(f'DROP TRIGGER "{name.replace(chr(34), chr(34) * 2)}"')
            done.append(f"dropped {'altered' if name in expected else 'unexpected'} {name}")
    for ddl in APPEND_ONLY_TRIGGERS:
        con.execute(ddl)
    done.extend(f"created {name}" for name in expected if found.get(name) != expected[name])
    return done


__all__ = ["events_triggers", "expected_triggers", "restore_triggers", "trigger_problem"]
