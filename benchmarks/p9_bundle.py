"""P9-bundle (``python -m benchmarks p9-bundle``): what an order's audit bundle costs (issue 11).

On a generated file of 1,000,000 events (``--quick``: 100,000), the bundle of the FIRST order
placed: its chain proof has to run to the head, so it carries nearly the whole log (the hash
format needs every later event in full; see ``store/evidence.py``). Timed: ``audit-bundle``
end to end (reads, zip, PDF, and the read-back check), then ``check-bundle`` alone on the file;
reported as proof events per second, with the file size per proof event. The last order's
bundle (a short proof) is timed beside it. Medians of ``rounds`` rounds; no goal is set.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import fmt, log, render_table
from benchmarks.p3_rebuild import generate
from desktop_app.application.audit_bundle_check import check_bundle
from desktop_app.cli import main as cli_main
from desktop_app.store.evidence import StoreBundleCrypto

EVENTS = 1_000_000
QUICK_EVENTS = 100_000


def _orders(path: Path) -> tuple[str, str]:
    """The numbers of the first and the last order placed."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT payload FROM events WHERE type_name = 'OrderPlaced' ORDER BY position"
        ).fetchall()
    finally:
        con.close()
    return json.loads(rows[0][0])["order_number"], json.loads(rows[-1][0])["order_number"]


def _export(db: Path, number: str, out: Path) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["audit-bundle", number, "--out", str(out), "--db", str(db)])
    if code != 0:
        raise RuntimeError(f"audit-bundle {number} failed with exit code {code}")
    return time.perf_counter() - started


def _check(out: Path, keys: Path) -> float:
    started = time.perf_counter()
    report = check_bundle(out, StoreBundleCrypto(keys))
    if not report.ok:
        raise RuntimeError(f"check-bundle failed: {report.failures[:3]}")
    return time.perf_counter() - started


def _proof_events(out: Path) -> int:
    import zipfile

    with zipfile.ZipFile(out) as zf:
        return int(json.loads(zf.read("manifest.json"))["proof"]["events"])


def run(quick: bool, rounds: int) -> dict[str, object]:
    """Generate the file, time export and check, print the table, return the figures."""
    events = QUICK_EVENTS if quick else EVENTS
    rounds = max(rounds, 3)
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-p9-bundle-"))
    try:
        path = folder / "p9.sqlite3"
        log(f"P9-bundle: generating {events:,} events into {path}")
        generate(path, events)
        first, last = _orders(path)
        figures: dict[str, object] = {"events": events}
        rows: list[list[str]] = []
        for label, number in (("first", first), ("last", last)):
            out = folder / f"{label}.zip"
            exported = [_export(path, number, out) for _ in range(rounds)]
            checked = [_check(out, folder / "keys") for _ in range(rounds)]
            proof = _proof_events(out)
            size = out.stat().st_size
            export_s, check_s = statistics.median(exported), statistics.median(checked)
            figures[f"{label}_order_proof_events"] = proof
            figures[f"{label}_order_bundle_bytes"] = size
            figures[f"{label}_order_export_s"] = export_s
            figures[f"{label}_order_check_s"] = check_s
            rows.append(
                [
                    f"{label} order ({number}): {proof:,} proof events, {size / 1e6:.1f} MB "
                    f"({size / proof:.0f} B/event)",
                    f"{fmt(export_s)} s ({fmt(proof / export_s)} ev/s)",
                    f"{fmt(check_s)} s ({fmt(proof / check_s)} ev/s)",
                ]
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"## P9-bundle — an order's audit bundle on {events:,} events (medians)")
    print(render_table(("bundle", "audit-bundle (with read-back)", "check-bundle"), rows))
    print()
    return figures
