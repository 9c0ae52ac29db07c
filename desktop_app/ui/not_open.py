"""The query bus of a window shown while its database is still being opened."""

from __future__ import annotations

from typing import Any, TypeVar

from desktop_app.application.queries import Query

R = TypeVar("R")


class DatabaseNotOpenError(RuntimeError):
    """A query was asked before the database was open (the window shows "Opening…")."""

    def __init__(self) -> None:
        super().__init__("The database is still being opened.")


class NotOpenQueries:
    """A ``QuerySender`` that handles nothing yet: every question is refused with
    :class:`DatabaseNotOpenError` until the window gets the real bus."""

    def handles(self, query_type: type[Query[Any]]) -> bool:
        """Nothing is handled before the database is open."""
        return False

    def ask(self, query: Query[R]) -> R:
        """Refuse: the database is not open yet."""
        raise DatabaseNotOpenError
