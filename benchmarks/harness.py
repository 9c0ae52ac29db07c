"""Side-by-side measurement: alternating rounds, medians, paired ratios, a table, one JSON line.

The rules (design/PERFORMANCE.md): an absolute time on a shared machine is not a result, a ratio
measured in the same run is. So every benchmark runs its contenders in the same process,
alternating (A B C, then B C A, …, down to
slices inside a round) for several rounds, and reports the median and min–max of
each contender's figure and of the *paired* ratios (round i of A against round i of B).

A benchmark is written as a list of :class:`Contender` (a name, a unit, and ``open(round)``
that does the untimed set-up and returns a :class:`Session` measured slice by slice) plus the
ratios and goals to report. :func:`run_bench` does the rest; later benchmarks (P3…P5) reuse it.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Direction = Literal["higher", "lower"]
"""Which way is better for a figure: cmds/s is ``higher``, milliseconds are ``lower``."""


def log(message: str) -> None:
    """Progress for the person watching; stdout is kept for the tables and the JSON line."""
    print(message, file=sys.stderr, flush=True)


def clock() -> float:
    """The benchmark clock (``time.perf_counter``)."""
    return time.perf_counter()


# ------------------------------------------------------------------------------ statistics


@dataclass(frozen=True, slots=True)
class Stats:
    """Median and range of a list of figures."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Summarise a non-empty list of figures."""
        if not values:
            raise ValueError("no values to summarise")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def to_json(self) -> dict[str, float | int]:
        """Plain dict for the JSON line."""
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Round-by-round ratios ``numerator[i] / denominator[i]`` (same length required)."""
    if len(numerator) != len(denominator):
        raise ValueError("paired ratios need the same number of rounds on both sides")
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


# ------------------------------------------------------------------------------ running


class Session(Protocol):
    """One contender's round: set up (untimed) when opened, then measured slice by slice.

    ``step(i)`` runs slice ``i`` and returns the seconds it took (it times only the measured
    work); ``figure(times)`` turns the slice times into the round's figure (cmds/s, ms…);
    ``close()`` releases files and connections.
    """

    slices: int

    def step(self, index: int) -> float: ...

    def figure(self, times: Sequence[float]) -> float: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Contender:
    """One side of a comparison. ``open(round_index)`` sets up and returns a :class:`Session`."""

    name: str
    label: str
    unit: str
    direction: Direction
    open: Callable[[int], Session]


def alternate(
    contenders: Sequence[Contender], *, rounds: int, warmup: int = 1, title: str = ""
) -> dict[str, list[float]]:
    """Run every contender once per round; warm-up rounds are dropped.

    Within a round the contenders' sessions are open side by side and their slices are
    interleaved (A B C, B C A, C A B, …), so a burst of load on a shared machine hits every
    contender alike and the round's ratios stay paired. Returns each contender's figures in
    round order, so index i of two lists is a pair.
    """
    figures: dict[str, list[float]] = {c.name: [] for c in contenders}
    total = warmup + rounds
    for index in range(total):
        counted = index >= warmup
        sessions: dict[str, Session] = {}
        try:
            for contender in contenders:
                sessions[contender.name] = contender.open(index)
            slices = max(session.slices for session in sessions.values())
            times: dict[str, list[float]] = {name: [] for name in sessions}
            gc.collect()
            for i in range(slices):
                shift = (index + i) % len(contenders)
                for contender in [*contenders[shift:], *contenders[:shift]]:
                    session = sessions[contender.name]
                    if i < session.slices:
                        times[contender.name].append(session.step(i))
            values = {name: sessions[name].figure(times[name]) for name in sessions}
        finally:
            for session in sessions.values():
                session.close()
        if counted:
            for name, value in values.items():
                figures[name].append(value)
        parts = [f"{c.name}={values[c.name]:,.2f} {c.unit}" for c in contenders]
        tag = f"round {index - warmup + 1}/{rounds}" if counted else f"warm-up {index + 1}"
        log(f"  {title} {tag}: " + ", ".join(parts))
    return figures


@dataclass(frozen=True, slots=True)
class Ratio:
    """A paired ratio to report, e.g. ``project / eventsourcing`` of cmds/s."""

    name: str
    numerator: str
    denominator: str


@dataclass(frozen=True, slots=True)
class Goal:
    """``ratio`` must be ``>=`` or ``<=`` ``threshold`` (judged on the median paired ratio)."""

    id: str
    ratio: str
    op: Literal[">=", "<="]
    threshold: float
    text: str

    def check(self, value: float) -> bool:
        """Is the goal met by this ratio?"""
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


@dataclass(slots=True)
class Section:
    """One measured comparison (e.g. P1 at synchronous=FULL): figures, ratios, goals."""

    key: str
    title: str
    contenders: Sequence[Contender]
    ratios: Sequence[Ratio]
    goals: Sequence[Goal] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)
    figures: dict[str, list[float]] = field(default_factory=dict)

    def run(self, *, rounds: int, warmup: int) -> Section:
        """Measure (alternating) and keep the figures."""
        log(f"{self.title}:")
        self.figures = alternate(self.contenders, rounds=rounds, warmup=warmup, title=self.key)
        return self

    def ratio_values(self, ratio: Ratio) -> list[float]:
        """The paired ratios of one :class:`Ratio`."""
        return paired_ratios(self.figures[ratio.numerator], self.figures[ratio.denominator])

    def goal_results(self) -> list[dict[str, Any]]:
        """Each goal with its median/min/max ratio and whether it is met."""
        by_name = {r.name: r for r in self.ratios}
        out = []
        for goal in self.goals:
            stats = Stats.of(self.ratio_values(by_name[goal.ratio]))
            out.append(
                {
                    "id": goal.id,
                    "ratio": goal.ratio,
                    "op": goal.op,
                    "threshold": goal.threshold,
                    "text": goal.text,
                    "median": stats.median,
                    "min": stats.min,
                    "max": stats.max,
                    "met": goal.check(stats.median),
                    "met_every_round": goal.check(stats.min) and goal.check(stats.max),
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """Every figure of this section, raw rounds included."""
        return {
            "title": self.title,
            "notes": dict(self.notes),
            "contenders": {
                c.name: {
                    "label": c.label,
                    "unit": c.unit,
                    "better": c.direction,
                    **Stats.of(self.figures[c.name]).to_json(),
                    "rounds": self.figures[c.name],
                }
                for c in self.contenders
            },
            "ratios": {
                r.name: {**Stats.of(self.ratio_values(r)).to_json(), "rounds": self.ratio_values(r)}
                for r in self.ratios
            },
            "goals": self.goal_results(),
        }

    def table_rows(self) -> list[list[str]]:
        """Rows for :func:`render_table`: one per contender, one per ratio."""
        rows: list[list[str]] = []
        for c in self.contenders:
            s = Stats.of(self.figures[c.name])
            rows.append(
                [self.key, c.label, f"{fmt(s.median)} {c.unit}", f"{fmt(s.min)}–{fmt(s.max)}", ""]
            )
        goals = {g["ratio"]: g for g in self.goal_results()}
        for r in self.ratios:
            s = Stats.of(self.ratio_values(r))
            verdict = ""
            if r.name in goals:
                g = goals[r.name]
                verdict = f"{g['op']} {g['threshold']:.2f}: " + ("MET" if g["met"] else "MISSED")
            rows.append(
                [
                    self.key,
                    f"ratio {r.name}",
                    f"{s.median:.2f}",
                    f"{s.min:.2f}–{s.max:.2f}",
                    verdict,
                ]
            )
        return rows


def fmt(value: float) -> str:
    """A figure with sensible precision (1,234 / 12.3 / 1.23)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text (Markdown-compatible) table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


TABLE_HEADERS = ("section", "contender / ratio", "median", "min–max", "goal")


@dataclass(slots=True)
class BenchResult:
    """One benchmark (P1, P2…): its sections and anything else worth keeping."""

    id: str
    title: str
    sections: list[Section]
    notes: Mapping[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """Title, table and notes for the terminal."""
        rows = [row for section in self.sections for row in section.table_rows()]
        text = [f"## {self.id} — {self.title}", "", render_table(TABLE_HEADERS, rows)]
        for section in self.sections:
            for key, value in section.notes.items():
                text.append(f"  {section.key}: {key}: {value}")
        for key, value in self.notes.items():
            text.append(f"  {key}: {value}")
        return "\n".join(text)

    def to_json(self) -> dict[str, Any]:
        """Every figure, for the JSON line."""
        return {
            "title": self.title,
            "notes": dict(self.notes),
            "sections": {s.key: s.to_json() for s in self.sections},
            "goals_met": goals_met(g for s in self.sections for g in s.goal_results()),
        }


def goals_met(goals: Iterable[Mapping[str, Any]]) -> bool | None:
    """True/False when every/some goal is met; None when there was nothing to judge."""
    verdicts = [bool(g["met"]) for g in goals]
    return all(verdicts) if verdicts else None


def json_line(payload: Mapping[str, Any]) -> str:
    """The one-line JSON summary (stable key order, no NaN)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
