"""Command bus and query bus: one handler per message type; commands pass a middleware chain.

The command bus also runs the maintenance commands (backup, rebuild): they change state, so
they are not queries, but they write no events, so they skip the middleware that exists for
event-writing commands (shape check, ids, dedup, retry) and return their own result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from desktop_app.application.commands import Command, CommandResult, MaintenanceCommand
from desktop_app.application.queries import Query

C = TypeVar("C", bound=Command)
R = TypeVar("R")

CommandHandler = Callable[[Any], CommandResult]
QueryHandler = Callable[[Any], Any]
MaintenanceHandler = Callable[[Any], Any]
Next = Callable[[Command], CommandResult]
Middleware = Callable[[Command, Next], CommandResult]
"""A middleware receives the command and the rest of the chain, and returns the result."""


class UnknownMessageError(LookupError):
    """No handler is registered for this command or query type (a programming error)."""


class CommandBus:
    """Dispatches each command to its one handler through the middleware chain (outermost
    first)."""

    def __init__(
        self,
        handlers: Mapping[type[Command], CommandHandler],
        middleware: Sequence[Middleware] = (),
        maintenance: Mapping[type[MaintenanceCommand[Any]], MaintenanceHandler] | None = None,
    ) -> None:
        self._handlers = dict(handlers)
        self._maintenance = dict(maintenance or {})
        self._middleware = tuple(middleware)
        # The chain is built once per handler: dispatch is on the hot path.
        self._chains: dict[type[Command], Next] = {
            command_type: self._build(handler) for command_type, handler in self._handlers.items()
        }

    def _build(self, handler: CommandHandler) -> Next:
        chain: Next = handler
        for middleware in reversed(self._middleware):
            chain = _link(middleware, chain)
        return chain

    def handles(self, command_type: type[Command]) -> bool:
        """Is a handler registered for this command type?"""
        return command_type in self._handlers

    def dispatch(self, command: Command) -> CommandResult:
        """Run the command; raises DomainError, ConcurrencyError or another StoreError."""
        chain = self._chains.get(type(command))
        if chain is None:
            raise UnknownMessageError(f"no handler for command {type(command).__name__}")
        return chain(command)

    def handles_maintenance(self, command_type: type[MaintenanceCommand[Any]]) -> bool:
        """Is a handler registered for this maintenance command type?"""
        return command_type in self._maintenance

    def run_maintenance(self, command: MaintenanceCommand[R]) -> R:
        """Run a maintenance command and return its (typed) result; raises ``StoreError`` or
        ``DomainError`` like any command."""
        handler = self._maintenance.get(type(command))
        if handler is None:
            raise UnknownMessageError(f"no handler for command {type(command).__name__}")
        result: R = handler(command)
        return result


def _link(middleware: Middleware, rest: Next) -> Next:
    def call(command: Command) -> CommandResult:
        return middleware(command, rest)

    return call


class QueryBus:
    """Dispatches each query to its one handler."""

    def __init__(self, handlers: Mapping[type[Query[Any]], QueryHandler]) -> None:
        self._handlers = dict(handlers)

    def register_all(self, handlers: Mapping[type[Query[Any]], QueryHandler]) -> None:
        """Add handlers (composition time only); a type may have only one handler."""
        clash = set(handlers) & set(self._handlers)
        if clash:
            raise ValueError(f"queries already handled: {sorted(t.__name__ for t in clash)}")
        self._handlers.update(handlers)

    def handles(self, query_type: type[Query[Any]]) -> bool:
        """Is a handler registered for this query type?"""
        return query_type in self._handlers

    def ask(self, query: Query[R]) -> R:
        """Run a query and return its (typed) result."""
        handler = self._handlers.get(type(query))
        if handler is None:
            raise UnknownMessageError(f"no handler for query {type(query).__name__}")
        result: R = handler(query)
        return result


class CommandSender(Protocol):
    """What a caller (the UI, a tool) needs of the command bus; ``CommandBus`` is one."""

    def handles(self, command_type: type[Command]) -> bool:
        """Is a handler registered for this command type?"""
        ...

    def dispatch(self, command: Command) -> CommandResult:
        """Run the command; raises DomainError, ConcurrencyError or another StoreError."""
        ...

    def run_maintenance(self, command: MaintenanceCommand[R]) -> R:
        """Run a maintenance command (backup, rebuild) and return its result."""
        ...


class QuerySender(Protocol):
    """What a caller (the UI, a tool) needs of the query bus; ``QueryBus`` is one."""

    def handles(self, query_type: type[Query[Any]]) -> bool:
        """Is a handler registered for this query type?"""
        ...

    def ask(self, query: Query[R]) -> R:
        """Run a query and return its (typed) result."""
        ...
