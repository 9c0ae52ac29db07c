"""Evidence out of the program (issue 11): ``audit-bundle`` writes one order's audit bundle,
``check-bundle`` verifies one without the database.

The bundle's format and its check are in ``application/audit_bundle*.py``; the reads in
``store/evidence.py``; the PDF in ``ui/printing/audit_report.py`` (Qt, imported only here and
only by ``audit-bundle``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app.application.audit_bundle import (
    NO_REJECTION_LOG,
    BundleHeader,
    WrittenBundle,
)
from desktop_app.application.audit_bundle_check import (
    FAILED,
    BundleReport,
    HeadClaim,
    check_bundle,
)
from desktop_app.application.ids import id_problem
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    open_app,
    order_number_candidates,
)
from desktop_app.config import Settings, default_key_dir
from desktop_app.store.anchors import (
    ANCHOR_FORMAT,
    belonging,
    read_anchor_log,
    read_sidecar,
)
from desktop_app.store.audit_export import AuditBundleError, check_target, export_order_bundle
from desktop_app.store.evidence import StoreBundleCrypto, find_order_stream

_DIGEST_FORMAT = "order-desk-digest"  # what `verify --export-digest` writes


# --- audit-bundle --------------------------------------------------------------------------


def _stream_of(con: Any, ref: str) -> str:
    """The order's stream for a number (SO-000123, so-123) or an id."""
    ref = ref.strip()
    numbers = order_number_candidates(ref)
    if numbers:
        for candidate in numbers:
            stream = find_order_stream(con, candidate)
            if stream is not None:
                return stream
        raise CliError(f"no order with number {numbers[-1]}")
    order_id = ref.removeprefix("order-")
    problem = id_problem(order_id)
    if problem is not None:
        raise CliError(f"{ref[:80]!r} is neither an order number (SO-000123) nor an id: {problem}")
    return f"order-{order_id}"


def _qt_app() -> Any:
    """A ``QApplication`` (offscreen without a display): the report draws with the timeline's
    delegate, a widgets class."""
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv[:1])


def _render(
    title: str,
    facts: Sequence[tuple[str, str]],
    notes: Sequence[str],
    entries: Sequence[HistoryEntry],
    annotations: Sequence[AuditNoteEntry],
    refused: Sequence[RecordedRejection],
) -> bytes:
    """The report on the offscreen platform (the timeline's delegate is a widgets class)."""
    _qt_app()
    from desktop_app.ui.printing.audit_report import render_audit_report

    return render_audit_report(
        title=title,
        facts=facts,
        notes=notes,
        entries=entries,
        annotations=annotations,
        refused=refused,
    )


def cmd_audit_bundle(args: argparse.Namespace) -> int:
    """Write one order's audit bundle (events, chain proof, snapshots, report) to a file."""
    out: Path = args.out
    try:
        check_target(out)
    except AuditBundleError as exc:
        raise CliError(str(exc)) from exc
    db = args.db.absolute()
    with open_app(args.db, read_only=True) as app:
        database = app.database
        if database is None:
            raise CliError("audit bundles are made from database files")
        settings = app.settings or Settings(db_path=db)
        with database.raw_read() as con:
            stream_id = _stream_of(con, args.order)
        try:
            exported = export_order_bundle(
                database,
                stream_id,
                out,
                key_dir=settings.effective_key_dir,
                anchor_log=settings.anchor_log,
                render=_render,
            )
        except AuditBundleError as exc:
            if str(exc).startswith("no order with id"):
                raise CliError(f"no order with id {args.order.strip()}") from exc
            raise CliError(str(exc)) from exc
    _say_written(exported.written, exported.header)
    # Read back as an auditor would: a bundle of a damaged history is still written (it is
    # the evidence), but the exporter is told at once what does not hold.
    if exported.check_failure is None:
        print(f"Checked: {out} passes `{PROG} check-bundle`.")
    else:
        print(f"Warning: the bundle does not pass `{PROG} check-bundle`: {exported.check_failure}")
    return EXIT_OK


def _say_written(written: WrittenBundle, header: BundleHeader) -> None:
    print(
        f"Wrote the audit bundle of {header.order_number} to {written.path} "
        f"({written.size:,} bytes): {written.events:,} events, {written.snapshots:,} "
        f"snapshot(s), chain proof of {written.proof_events:,} events to head "
        f"#{header.head_position:,}."
    )
    if header.first_position < header.head_position and written.proof_events > written.events:
        print(
            f"Note: the proof holds {written.proof_events - written.events:,} events of other "
            "orders, customers and products (the hash format needs them to prove the links)."
        )
    if not written.keyed:
        print(
            "Note: this account has no snapshot key for the database, so the bundle carries "
            "no MAC (anyone who recomputes its digests could rebuild it unnoticed)."
        )
    print(
        f"Auditors' notes: {written.notes:,} (in the chain proof); refused commands: "
        + (
            f"{written.rejections:,} (not in the chain: vouched for by the MAC only)."
            if written.rejections is not None
            else f"not recorded ({NO_REJECTION_LOG})."
        )
    )


# --- check-bundle --------------------------------------------------------------------------


def _exported_from(bundle: Path) -> tuple[Path, str | None] | None:
    """The database path and id a bundle names (unverified: only to pick the anchors that
    bind; the check itself decides what holds), or None when unreadable."""
    try:
        with zipfile.ZipFile(bundle) as zf:
            database = json.loads(zf.read("manifest.json"))["database"]
        path, database_id = database["path"], database["database_id"]
    except Exception:  # a damaged bundle: the check will say so
        return None
    if not isinstance(path, str) or not (database_id is None or isinstance(database_id, str)):
        return None
    return Path(path), database_id


def _claims(paths: list[Path], bundle: Path) -> list[HeadClaim]:
    """Heads kept outside the bundle: anchor logs (JSON lines), anchor sidecars, digests.
    Anchors a later restore gave up (R28) are left out, with a note."""
    claims: list[HeadClaim] = []
    exported = _exported_from(bundle)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError:
            data = None  # several lines: an anchor log
        if isinstance(data, dict) and data.get("format") == _DIGEST_FORMAT:
            position, digest = data.get("head_position"), data.get("head_hash")
            if type(position) is not int or not isinstance(digest, str):
                raise CliError(f"{path} is not a readable digest file")
            claims.append(HeadClaim(label=f"the digest {path}", position=position, hash=digest))
            continue
        if isinstance(data, dict) and data.get("format") == ANCHOR_FORMAT:
            sidecar = read_sidecar(path.with_name(path.name.removesuffix(".anchor.json")))[0]
            if sidecar is None:
                raise CliError(f"{path} is not a readable anchor file")
            anchors = [sidecar]
        else:
            anchors, warnings = read_anchor_log(path)
            if not anchors:
                raise CliError(
                    f"{path} is neither an anchor log, an anchor file nor a digest"
                    + (f" ({warnings[0]})" if warnings else "")
                )
            if exported is not None:
                candidates, superseded = belonging(
                    anchors, db_path=exported[0], database_id=exported[1]
                )
                anchors = [c.anchor for c in candidates]
                if superseded:
                    print(
                        f"Note: {len(superseded):,} anchor(s) in {path} were given up by a "
                        "restore or a new database at that path: not compared"
                    )
        claims.extend(
            HeadClaim(
                label=a.describe(),
                position=a.head_position,
                hash=a.head_hash,
                database_id=a.database_id,
                db_path=a.db_path,
            )
            for a in anchors
            if a.head_position > 0
        )
    return claims


def print_report(report: BundleReport) -> None:
    """One line per check: OK, FAILED, NOT CHECKED or Note, then the verdict."""
    for status, text in report.lines:
        print(f"{status}: {text}")
    failures = len(report.failures)
    if failures:
        print(f"TAMPERED: {failures:,} check(s) failed: this is not the bundle as it was written")
    elif report.tied_by:
        print(
            "INTACT: every check that could be made holds, and the bundle is tied to its "
            f"database by {' and '.join(report.tied_by)}"
        )
    else:
        print(
            "CONSISTENT: every check that could be made holds, but nothing here ties the bundle "
            "to its database (no MAC checked, no independent anchor): a bundle rebuilt with "
            "recomputed hashes would look the same"
        )


def cmd_check_bundle(args: argparse.Namespace) -> int:
    """Verify a bundle without the database; exit 1 when anything does not hold."""
    path: Path = args.bundle
    if not path.is_file():
        raise CliError(f"no bundle at {path}")
    claims = _claims(args.anchors, path)
    report = check_bundle(path, StoreBundleCrypto(args.key_dir or default_key_dir()), claims=claims)
    print_report(report)
    return EXIT_OK if report.ok else EXIT_FAILED


# --- registration --------------------------------------------------------------------------


def add_audit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``audit-bundle`` and ``check-bundle``."""
    bundle = sub.add_parser(
        "audit-bundle",
        parents=[common],
        help="one order's events, chain proof, snapshots and a PDF report in one file",
    )
    bundle.add_argument("order", metavar="ORDER", help="order number (SO-000123) or id")
    bundle.add_argument("--out", type=Path, required=True, metavar="FILE", help="the bundle (zip)")
    bundle.set_defaults(run=cmd_audit_bundle)
    check = sub.add_parser(
        "check-bundle", help="verify an audit bundle without the database (exit 1 if tampered)"
    )
    check.add_argument("bundle", type=Path, metavar="FILE")
    check.add_argument(
        "--anchors",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="an anchor log, anchor file or digest kept elsewhere (repeatable)",
    )
    check.add_argument(
        "--key-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder of snapshot keys (default: this account's)",
    )
    check.set_defaults(run=cmd_check_bundle)


__all__ = ["FAILED", "add_audit_commands", "cmd_audit_bundle", "cmd_check_bundle"]
