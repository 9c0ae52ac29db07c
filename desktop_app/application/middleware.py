"""Command-bus middleware. Each is ``(command, next) -> result``; ``default_chain`` orders them.

Over 500 lines on purpose: the command-shape checker is compiled here for the middleware that runs
it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import logging
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Union

from desktop_app.application.buses import Middleware, Next
from desktop_app.application.commands import Command, CommandResult
from desktop_app.application.fingerprints import canonical_text, command_fingerprint
from desktop_app.application.ids import id_problem, is_plain_id
from desktop_app.application.ports import (
    MAX_REJECTION_CONTENT,
    CommandIdReusedError,
    ConcurrencyError,
    EventStore,
    Rejection,
    RejectionLog,
    StoreConnectionLostError,
    StoreReadOnlyError,
    StoreUnavailableError,
    UniqueKeyTakenError,
)
from desktop_app.domain.errors import DomainError

log = logging.getLogger("desktop_app.commands")


class InvalidCommandError(DomainError):
    """A command whose fields have the wrong shape (a wrong type, a float for money…)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandContext:
    """Ids of the command being handled, for the events' metadata, and its fingerprint
    (stored with the command id, R30)."""

    command_id: str
    correlation_id: str
    fingerprint: str


_current: contextvars.ContextVar[CommandContext | None] = contextvars.ContextVar(
    "desktop_app_command_context", default=None
)


def current_context(command: Command) -> CommandContext:
    """The context set by :func:`with_ids`, or one derived from the command itself."""
    context = _current.get()
    if context is not None and context.command_id == command.command_id:
        return context
    return _context(command)


def _context(command: Command) -> CommandContext:
    return CommandContext(
        command_id=command.command_id,
        correlation_id=command.correlation_id or command.command_id,
        fingerprint=command_fingerprint(command),
    )


# --- shape validation ----------------------------------------------------------------------


_FIELD_TYPES: dict[type[Any], tuple[tuple[str, Any], ...]] = {}


def _field_types(command_type: type[Any]) -> tuple[tuple[str, Any], ...]:
    cached = _FIELD_TYPES.get(command_type)
    if cached is None:
        hints = typing.get_type_hints(command_type)
        cached = tuple((f.name, hints[f.name]) for f in dataclasses.fields(command_type))
        _FIELD_TYPES[command_type] = cached
    return cached


Checker = Callable[[object, str], None]
"""Checks one value against a declared type; raises InvalidCommandError naming ``path``."""

_CHECKERS: dict[type[Any], Checker] = {}
"""Per command type: its compiled checker (built on first use)."""


def _compile(expected: Any) -> Checker:
    """The checker of one declared type, with the typing introspection done once per type
    instead of on every command."""
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        return _union_checker(typing.get_args(expected))
    if origin is tuple:
        (item_type, *_rest) = typing.get_args(expected)
        return _tuple_checker(_compile(item_type))
    if origin is frozenset:
        return _instance_checker(frozenset, "must be a set")
    if origin is not None:
        # Another generic container (none in today's commands): at least the container type.
        return _instance_checker(origin, "has the wrong type")
    if expected is type(None):

        def check_none(value: object, path: str) -> None:
            if value is not None:
                raise InvalidCommandError(f"{path} must be empty.", field=path)

        return check_none
    if expected is int:

        def check_int(value: object, path: str) -> None:
            if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidCommandError(f"{path} must be a whole number.", field=path)

        return check_int
    if expected is str:
        return _instance_checker(str, "must be text")
    if expected is Decimal:
        # Floats are refused outright: 0.1 is not a price anyone typed.
        return _instance_checker(Decimal, "must be an exact decimal amount")
    if isinstance(expected, type) and dataclasses.is_dataclass(expected):
        return _dataclass_checker(expected)
    if isinstance(expected, type):
        return _instance_checker(expected, "has the wrong type")
    raise TypeError(f"cannot check values against {expected!r}")  # a programming error


def _instance_checker(cls: type[Any], problem: str) -> Checker:
    def check_instance(value: object, path: str) -> None:
        if type(value) is not cls and not isinstance(value, cls):
            raise InvalidCommandError(f"{path} {problem}.", field=path)

    return check_instance


def _union_checker(args: tuple[Any, ...]) -> Checker:
    options = tuple(_compile(option) for option in args)
    allows_none = type(None) in args

    def check_union(value: object, path: str) -> None:
        if value is None and allows_none:
            return  # the None option passes: same outcome as trying each in order
        errors: list[InvalidCommandError] = []
        for option in options:
            try:
                option(value, path)
                return
            except InvalidCommandError as exc:
                errors.append(exc)
        raise errors[0]

    return check_union


def _tuple_checker(check_item: Checker) -> Checker:
    def check_tuple(value: object, path: str) -> None:
        if not isinstance(value, tuple):
            raise InvalidCommandError(f"{path} must be a list of entries.", field=path)
        for index, item in enumerate(value):
            check_item(item, f"{path}[{index}]")

    return check_tuple


def _dataclass_checker(cls: type[Any]) -> Checker:
    fields = _compiled_fields(cls)

    def check_dataclass(value: object, path: str) -> None:
        if not isinstance(value, cls):
            raise InvalidCommandError(f"{path} has the wrong shape.", field=path)
        for name, check in fields:
            check(getattr(value, name), f"{path}.{name}")

    return check_dataclass


def _compiled_fields(cls: type[Any]) -> tuple[tuple[str, Checker], ...]:
    return tuple((name, _compile(hint)) for name, hint in _field_types(cls))


def _command_checker(command_type: type[Any]) -> Checker:
    checker = _CHECKERS.get(command_type)
    if checker is None:
        fields = _compiled_fields(command_type)

        def check_command(command: object, path: str) -> None:
            for name, check in fields:
                check(getattr(command, name), name)

        checker = _CHECKERS[command_type] = check_command
    return checker


_PLAIN_VALUES = frozenset({str, int, bool, type(None), Decimal})
"""Field values that cannot hold an id (skipped without looking inside)."""

_ID_PLANS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}
"""Per dataclass: its fields and whether each is an id (``*_id``), worked out once."""


def _check_ids(value: object, path: str) -> None:
    """Every ``*_id`` text field, also inside lines, must be a bounded, plain id (R30)."""
    cls = type(value)
    plan = _ID_PLANS.get(cls)
    if plan is None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        plan = _ID_PLANS[cls] = tuple((f.name, f.name.endswith("_id")) for f in fields)
    for name, is_id in plan:
        item = getattr(value, name)
        if is_id:
            if is_plain_id(item) or (item is None and name == "correlation_id"):
                continue
            _refuse_id(name, item, f"{path}.{name}" if path else name)
        elif type(item) in _PLAIN_VALUES:
            continue
        elif type(item) is tuple:
            for index, entry in enumerate(item):
                if dataclasses.is_dataclass(entry):
                    _check_ids(entry, f"{path}.{name}[{index}]" if path else f"{name}[{index}]")
        elif dataclasses.is_dataclass(item):
            _check_ids(item, f"{path}.{name}" if path else name)


def _refuse_id(name: str, item: object, where: str) -> None:
    problem = id_problem(item) or "it is not a plain id"
    label = name.removesuffix("_id").replace("_", " ")
    if name == "command_id" and not (isinstance(item, str) and item.strip()):
        raise InvalidCommandError("The command has no id.", field=where)
    raise InvalidCommandError(f"The {label} id is not valid: {problem}.", field=where)


def check_shape(command: Command) -> None:
    """Refuse (``InvalidCommandError``) a command whose field values do not have the declared
    types, or whose ids are empty, too long or hold characters other than letters, digits and
    ``._:-`` (what :func:`validate_shape` checks; a preview checks the same)."""
    _command_checker(type(command))(command, "")
    _check_ids(command, "")


def validate_shape(command: Command, next: Next) -> CommandResult:
    """Refuse commands that fail :func:`check_shape`."""
    check_shape(command)
    return next(command)


# --- ids, logging, idempotency, retry ------------------------------------------------------


def with_ids(command: Command, next: Next) -> CommandResult:
    """Make the command's ids available to the handler for the events' metadata."""
    token = _current.set(_context(command))
    try:
        return next(command)
    finally:
        _current.reset(token)


def log_with_timing(logger: logging.Logger = log) -> Middleware:
    """Log each command's outcome and duration (no field values: they may be personal)."""

    def middleware(command: Command, next: Next) -> CommandResult:
        started = time.perf_counter()
        name = type(command).__name__
        try:
            result = next(command)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            logger.info(
                "%s %s failed after %.1f ms: %s: %s",
                name,
                command.command_id,
                elapsed,
                type(exc).__name__,
                exc,
            )
            raise
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug(
                "%s %s -> %s v%d @%d in %.2f ms%s",
                name,
                command.command_id,
                result.stream_id,
                result.version,
                result.position,
                elapsed,
                " (duplicate)" if result.duplicate else "",
            )
        return result

    return middleware


def result_from_store(
    events: EventStore, command_id: str, fingerprint: str | None = None
) -> CommandResult | None:
    """The recorded outcome of an earlier run of this command id, if any
    (``CommandIdReusedError`` when it was recorded for other content)."""
    recorded = events.find_command(command_id, fingerprint=fingerprint)
    if recorded is None:
        return None
    _, _, aggregate_id = recorded.stream_id.partition("-")
    return CommandResult(
        stream_id=recorded.stream_id,
        aggregate_id=aggregate_id,
        version=recorded.version,
        first_position=recorded.first_position,
        position=recorded.last_position,
        duplicate=True,
    )


def deduplicate(events: EventStore) -> Middleware:
    """A command id that already ran returns its first result and writes nothing (R2).

    The happy path costs nothing: the store checks the id inside the append transaction. Only
    when a re-run fails (the order is already confirmed, the version moved on) do we look the
    id up, so a lost reply followed by a retry still reports success.
    """

    def middleware(command: Command, next: Next) -> CommandResult:
        try:
            return next(command)
        except (DomainError, ConcurrencyError):
            earlier = result_from_store(
                events, command.command_id, current_context(command).fingerprint
            )
            if earlier is not None:
                return earlier
            raise

    return middleware


def retry_safe(command: Command) -> bool:
    """A command may be re-run against newer state when the clerk did not pin a version and
    it changes an existing record (creating commands conflict only on a duplicate id)."""
    return hasattr(command, "expected_version") and command.expected_version is None


def retry_on_conflict(command: Command, next: Next) -> CommandResult:
    """One automatic retry after a ConcurrencyError, only for commands safe to re-run."""
    try:
        return next(command)
    except ConcurrencyError:
        if not retry_safe(command):
            raise
        log.info(
            "%s %s: version conflict, retrying once", type(command).__name__, command.command_id
        )
        return next(command)


RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0)
"""Seconds before each re-send after a lost server connection (about 4 s in all: a killed
session reconnects at once, a restarting server usually within that)."""


def retry_after_lost_connection(
    delays: tuple[float, ...] = RECONNECT_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> Middleware:
    """Re-send a command whose outcome is unknown because the server connection broke
    (``StoreConnectionLostError``), with the SAME command id: if the lost attempt committed,
    the store (or ``deduplicate``) answers with its recorded result, else it runs now —
    nothing lost, nothing twice. Outside ``deduplicate`` so every re-send passes through it.
    While the server cannot be reached yet the re-sends go on (within ``delays``); then the
    first error is raised, which says that the change may or may not have been saved."""

    def middleware(command: Command, next: Next) -> CommandResult:
        try:
            return next(command)
        except StoreConnectionLostError as exc:
            lost = exc
        for attempt, delay in enumerate(delays, start=1):
            log.warning(
                "%s %s: the server connection was lost; re-sending it (attempt %d) in %.1f s",
                type(command).__name__,
                command.command_id,
                attempt,
                delay,
            )
            sleep(delay)
            try:
                return next(command)
            except StoreUnavailableError as again:  # still restarting, or lost again
                log.info("re-send %d of %s failed: %s", attempt, command.command_id, again)
        raise lost

    return middleware


def read_epoch(events: EventStore) -> Middleware:
    """One read epoch of the store per attempt at a command (``EventStore.begin_reads``):
    the aggregate cache then asks the store "did anyone else commit?" once per command
    instead of once per aggregate it looks at (a read transaction each on SQLite), and all of
    an attempt's cached reads see the store as of its first. Innermost, so a retry starts a
    new epoch and sees what the conflict was about."""
    begin = events.begin_reads
    end = events.end_reads

    def middleware(command: Command, next: Next) -> CommandResult:
        begin()
        try:
            return next(command)
        finally:
            end()

    return middleware


# --- rejected commands (issue 11) ----------------------------------------------------------


REJECTED = (DomainError, ConcurrencyError, CommandIdReusedError, UniqueKeyTakenError)
"""Errors that refuse a command (its input, a rule, a conflict, a reused id, a taken key).
Other store errors (busy, read-only, unavailable) are failures to run it, not refusals."""

_TARGETS = (
    # "Order again" acts on its source order: its refusal belongs on that order's timeline.
    ("source_order_id", "order"),
    ("order_id", "order"),
    ("customer_id", "customer"),
    ("product_id", "product"),
)
_TARGET_PLANS: dict[type[Any], tuple[tuple[str, str], ...]] = {}


class Author(Protocol):
    """Who sends the commands of this program (``handlers.Identity`` is one)."""

    @property
    def user(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def app_version(self) -> str: ...


def target_stream(command: Command) -> str:
    """The stream a command aims at: the source order of "order again", else its ``order_id``
    (also for placing), else its ``customer_id``, else its ``product_id``; "" when none is a
    plain id (a refused id is still in the rejection's content)."""
    kind = type(command)
    plan = _TARGET_PLANS.get(kind)
    if plan is None:
        names = {f.name for f in dataclasses.fields(kind)}
        plan = _TARGET_PLANS[kind] = tuple(t for t in _TARGETS if t[0] in names)
    for name, prefix in plan:
        value = getattr(command, name)
        if is_plain_id(value):
            return f"{prefix}-{value}"
    return ""


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rejection_of(command: Command, error: BaseException, author: Author) -> Rejection:
    """What the rejection log keeps of a refused command: who, what and why."""
    content = canonical_text(command)
    if len(content) > MAX_REJECTION_CONTENT:
        # Still JSON: the head of the text as a string, marked as cut.
        content = canonical_text_of_cut(content)
    command_id = command.command_id if isinstance(command.command_id, str) else ""
    correlation = command.correlation_id if isinstance(command.correlation_id, str) else None
    message = error.message if isinstance(error, DomainError) else str(error)
    return Rejection(
        user=author.user,
        host=author.host,
        source=author.source,
        app_version=author.app_version,
        command_type=type(command).__name__,
        command_id=_bounded(command_id, 200),
        correlation_id=_bounded(correlation or command_id, 200),
        stream_id=target_stream(command),
        content=content,
        error_class=type(error).__name__,
        message=_bounded(message, 2000),
    )


def canonical_text_of_cut(content: str) -> str:
    """A too-long canonical text replaced by a JSON object holding its head and length."""
    head = content[: MAX_REJECTION_CONTENT // 2]
    return json.dumps(
        {"cut": True, "head": head, "length": len(content)},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def record_rejections(rejections: RejectionLog, author: Author) -> Middleware:
    """Record every refused command in the rejection log, then re-raise the very same error.

    Outermost, so the shape checker's and the id checks' refusals are seen too, and a
    duplicate (answered by :func:`deduplicate` with the first result) is not a rejection.
    Recording never hides the real error: when it fails, the failure is logged and the
    original error still reaches the caller. On a read-only database nothing can be stored:
    the rejection is written to the log file only.
    """

    def middleware(command: Command, next: Next) -> CommandResult:
        try:
            return next(command)
        except REJECTED as exc:
            _record(rejections, command, exc, author)
            raise

    return middleware


def _record(
    rejections: RejectionLog, command: Command, error: BaseException, author: Author
) -> None:
    try:
        rejection = rejection_of(command, error, author)
        rejections.record(rejection)
    except StoreReadOnlyError:
        log.info(
            "rejection of %s %r not recorded (read-only database): %s: %s",
            type(command).__name__,
            command.command_id,
            type(error).__name__,
            error,
        )
    except Exception:
        # Never instead of the refusal the caller must see: log it and go on raising that.
        log.warning(
            "could not record the rejection of %s %r (%s: %s)",
            type(command).__name__,
            command.command_id,
            type(error).__name__,
            error,
            exc_info=True,
        )


def default_chain(events: EventStore) -> list[Callable[[Command, Next], CommandResult]]:
    """The production order: validate, ids, log, re-send after a lost server connection,
    deduplicate, retry, a read epoch per attempt."""
    return [
        validate_shape,
        with_ids,
        log_with_timing(),
        retry_after_lost_connection(),
        deduplicate(events),
        retry_on_conflict,
        read_epoch(events),
    ]
