"""Every pytest-qt signal wait in the suite really waits (issue 13).

``qtbot.waitSignal(sig)`` called as a plain statement only builds a blocker and throws it away:
the test goes on at once, waiting for nothing, and passes or fails by timing. The same holds for
``waitSignals`` and ``assertNotEmitted``. They must be used as context managers (the emitting
action inside the ``with``), or kept in a name whose ``wait()`` is called.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
WAITS = frozenset({"waitSignal", "waitSignals", "assertNotEmitted"})


def _is_wait(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WAITS
    )


def unused_waits(source: str, filename: str = "<test>") -> list[str]:
    """``file:line`` of each signal wait that is neither a ``with`` item nor a blocker whose
    ``wait()`` is called in the same function."""
    tree = ast.parse(source, filename)
    used: set[int] = set()  # id() of wait calls used properly
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            used.update(id(item.context_expr) for item in node.items)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        waited = {
            call.func.value.id
            for call in ast.walk(func)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "wait"
            and isinstance(call.func.value, ast.Name)
        }
        for stmt in ast.walk(func):
            if (
                isinstance(stmt, ast.Assign)
                and _is_wait(stmt.value)
                and all(isinstance(t, ast.Name) and t.id in waited for t in stmt.targets)
            ):
                used.add(id(stmt.value))
    return [
        f"{filename}:{node.lineno}"
        for node in ast.walk(tree)
        if _is_wait(node) and id(node) not in used
    ]


def test_every_signal_wait_in_the_suite_waits() -> None:
    found: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        found += unused_waits(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS)))
    assert found == [], "signal waits that wait for nothing: " + ", ".join(found)


def test_the_check_tells_a_wait_that_waits_from_one_that_does_not() -> None:
    bad = """
def test_x(qtbot, model):
    qtbot.waitSignal(model.refreshed, timeout=5000)
    model.refresh()
    qtbot.assertNotEmitted(model.failed)
    blocker = qtbot.waitSignals([model.loaded])
"""
    good = """
def test_y(qtbot, model):
    with qtbot.waitSignal(model.refreshed, timeout=5000) as blocker:
        model.refresh()
    with qtbot.assertNotEmitted(model.failed), qtbot.waitSignals([model.loaded]):
        model.reload()
    later = qtbot.waitSignal(model.loaded)
    model.reload()
    later.wait()
"""
    assert unused_waits(bad) == ["<test>:3", "<test>:5", "<test>:6"]
    assert unused_waits(good) == []
