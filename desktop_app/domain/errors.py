"""The DomainError family: every refusal carries a message a clerk can read.

`field` names the input the message concerns ("quantity", "price", "name", ...) so the UI can
show the message beside that field; it is None when the refusal is about the order as a whole.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal by the domain, with a clerk-readable message and the field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


class InvalidValue(DomainError):
    """An input value is malformed or out of range (a bad quantity, price or text)."""


class RuleViolation(DomainError):
    """A business rule refuses the action in the current state (e.g. shipping a pending order)."""


class UnknownEventError(DomainError):
    """A stored event has a type or schema version this version of the program does not know."""


class EventFormatError(DomainError):
    """A stored event payload does not have the fields and types its schema version requires."""


class SnapshotFormatError(DomainError):
    """A stored snapshot state is malformed; callers ignore it and replay the events instead."""
