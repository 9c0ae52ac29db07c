"""What the command palette understands: typed text split into an action and what it applies
to ("ship SO-000301", "new order for Müller"), and the background search for the orders and
customers it names (query bus only, on a worker thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import (
    CustomerRow,
    FindOrderByNumber,
    GetOrderActions,
    ListCustomers,
    ListOrders,
    OrderActions,
    OrderRow,
)

FOUND_LIMIT = 6
"""At most this many orders and this many customers are offered for one typed text."""


def plain(text: str) -> str:
    """An action's text as a clerk reads it: no mnemonic ampersand, no trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    """One line of the palette: what it says, a hint on the right (shortcut, status), whether
    it can run now (``reason`` says why not) and what it runs."""

    text: str
    hint: str
    run: Callable[[], None] = field(compare=False)
    enabled: bool = True
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Typed:
    """Typed text split into an action word and what it applies to."""

    action: QAction | None
    rest: str


def split_action(text: str, actions: list[QAction]) -> Typed:
    """``"ship SO-000301"`` -> (the Ship action, ``"SO-000301"``): the longest action text the
    typed text starts with, else a first word that starts the action's first word (≥ 3
    letters: "canc 301"). A leading "for"/"of" is dropped from the rest ("new order for X")."""
    typed = " ".join(text.split())
    folded = typed.casefold()
    best: tuple[int, QAction, str] | None = None
    for action in actions:
        label = plain(action.text()).casefold()
        if not label:
            continue
        starts = folded == label or folded.startswith(label + " ")
        if starts and (best is None or len(label) > best[0]):
            best = (len(label), action, typed[len(label) :])
    if best is None:
        word, _, remainder = typed.partition(" ")
        word_folded = word.casefold()
        if len(word_folded) >= 3:
            for action in actions:
                first = plain(action.text()).casefold().split(" ", 1)[0]
                if first.startswith(word_folded):
                    best = (0, action, remainder)
                    break
    if best is None:
        return Typed(None, typed)
    rest = best[2].strip()
    head, _, tail = rest.partition(" ")
    if head.casefold() in {"for", "of", "to"}:
        rest = tail.strip()
    return Typed(best[1], rest)


def shortcut_text(action: QAction) -> str:
    """An action's shortcut as this platform writes it."""
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def menu_actions(menu: QMenu) -> Iterator[QAction]:
    """Every action of ``menu`` and its submenus (no separators)."""
    for action in menu.actions():
        sub = action.menu()
        if isinstance(sub, QMenu):
            yield from menu_actions(sub)
        elif not action.isSeparator() and action.text():
            yield action


@dataclass(frozen=True, slots=True)
class Found:
    """What a background search brought back."""

    orders: tuple[tuple[OrderRow, OrderActions | None], ...] = ()
    customers: tuple[CustomerRow, ...] = ()


def find(queries: QuerySender, text: str, *, orders: bool, customers: bool, actions: bool) -> Found:
    """Worker thread: orders (an exact number first) and customers matching ``text``; with
    ``actions`` each order's allowed actions from the domain."""
    found_orders: list[OrderRow] = []
    if orders:
        exact = queries.ask(FindOrderByNumber(order_number=text.strip().upper()))
        if exact is not None:
            found_orders.append(exact)
        else:
            page = queries.ask(ListOrders(search=text, limit=FOUND_LIMIT, with_total=False))
            found_orders.extend(page.rows)
    with_actions: list[tuple[OrderRow, OrderActions | None]] = []
    for row in found_orders:
        allowed = queries.ask(GetOrderActions(order_id=row.order_id)) if actions else None
        with_actions.append((row, allowed))
    found_customers: tuple[CustomerRow, ...] = ()
    if customers:
        found_customers = tuple(queries.ask(ListCustomers(search=text, limit=FOUND_LIMIT)))
    return Found(tuple(with_actions), found_customers)
