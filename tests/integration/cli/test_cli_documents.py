"""Paper and files from the admin CLI: CSV export of the order list (filters, sort, numbers a
spreadsheet reads the same in any locale), PDF confirmations and packing slips, global options
before the subcommand, and no database quietly created in a mistyped folder."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from PySide6.QtGui import QColor, QImage

from desktop_app.store.read_model_file import read_model_path

from .support import cli, one_error_line


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _read_model(path: Path, sql: str) -> list[tuple[object, ...]]:
    """A query on the database with its read model's own file attached (``rm_*`` there)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.execute("ATTACH DATABASE ? AS rm", (f"file:{read_model_path(path)}?mode=ro",))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_global_db_option_before_the_subcommand(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    cli("--db", path, "init")
    run = cli("--db", path, "demo", "--orders", "3")
    assert "Loaded demo data into" in run.out
    assert cli("--db", path, "verify").out.startswith("OK: ")
    assert cli("--db", path, "status").code == 0
    # after the subcommand still works, and wins over a global one
    other = tmp_path / "other.sqlite3"
    cli("--db", other, "init")
    assert cli("--db", other, "verify", "--db", path).out.startswith("OK: ")


def test_demo_leaves_the_order_lists_caught_up(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    run = cli("demo", "--orders", "12", "--db", path)
    assert "The order lists are up to date" in run.out
    head = _read_model(path, "SELECT MAX(position) FROM events")[0][0]
    checkpoints = _read_model(path, "SELECT position FROM rm_checkpoints")
    assert checkpoints and all(c[0] == head for c in checkpoints), (checkpoints, head)
    assert _read_model(path, "SELECT COUNT(*) FROM rm_orders")[0][0] == 12


def test_demo_into_a_missing_folder_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "orders.sqlite3"
    one_error_line(cli("demo", "--db", path, expect=2), "does not exist", "init")
    assert not path.parent.exists()


def test_export_writes_the_filtered_sorted_list(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "shipped.csv"
    run = cli(
        "export-orders",
        "--db",
        db,
        "--out",
        out,
        "--status",
        "shipped",
        "--sort",
        "order_number",
        "--ascending",
    )
    rows = _rows(out)
    expected = _read_model(
        db,
        "SELECT order_number, total_minor FROM rm_orders WHERE status = 'shipped' "
        "ORDER BY order_number",
    )
    assert [r["Order number"] for r in rows] == [e[0] for e in expected]
    assert f"Exported {len(expected):,} orders" in run.out
    for row, (_number, total_minor) in zip(rows, expected, strict=True):
        assert row["Status"] == "shipped"
        # locale-independent: a dot, two places, no grouping
        assert Decimal(row["Total"]) * 100 == total_minor
        assert row["Total"] == f"{Decimal(total_minor) / 100:.2f}"
        assert row["Placed (UTC)"].endswith("Z")
    assert not list(tmp_path.glob(".*.part"))


def test_export_everything_to_stdout_and_with_a_bom(db: Path, tmp_path: Path) -> None:
    run = cli("export-orders", "--db", db)
    rows = list(csv.DictReader(io.StringIO(run.out, newline="")))
    assert len(rows) == _read_model(db, "SELECT COUNT(*) FROM rm_orders")[0][0]
    placed = [r["Placed (UTC)"] for r in rows]
    assert placed == sorted(placed, reverse=True)  # the list's default sort: newest first

    out = tmp_path / "bom.csv"
    cli("export-orders", "--db", db, "--out", out, "--bom")
    assert out.read_bytes().startswith(b"\xef\xbb\xbfOrder number,")


def test_export_by_customer_and_bad_options(db: Path, tmp_path: Path) -> None:
    name, count = _read_model(
        db,
        "SELECT customer_name, COUNT(*) FROM rm_orders GROUP BY customer_id "
        "ORDER BY COUNT(*) DESC LIMIT 1",
    )[0]
    out = tmp_path / "one.csv"
    cli("export-orders", "--db", db, "--out", out, "--customer", str(name))
    rows = _rows(out)
    assert len(rows) == count and {r["Customer"] for r in rows} == {name}

    one_error_line(
        cli("export-orders", "--db", db, "--customer", "Nobody Of That Name", expect=2),
        "no customer matches",
    )
    missing = tmp_path / "nope" / "x.csv"
    one_error_line(cli("export-orders", "--db", db, "--out", missing, expect=2), "does not exist")
    assert cli("export-orders", "--db", db, "--status", "lost", expect=2).code == 2


def _first_order(db: Path) -> tuple[str, str]:
    number, status = _read_model(
        db, "SELECT order_number, status FROM rm_orders WHERE status = 'shipped' LIMIT 1"
    )[0]
    return str(number), str(status)


def test_print_order_writes_a_pdf_confirmation_and_packing_slip(db: Path, tmp_path: Path) -> None:
    number, _ = _first_order(db)
    logo = tmp_path / "logo.png"
    image = QImage(120, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("#1f5fa8"))
    assert image.save(str(logo))
    company = tmp_path / "company.json"
    company.write_text(
        json.dumps(
            {
                "name": "Müller & Söhne GmbH",
                "address": "Hafenstraße 1\n20457 Hamburg",
                "logo_path": str(logo),
            }
        ),
        encoding="utf-8",
    )
    confirmation = tmp_path / "confirmation.pdf"
    run = cli("print-order", number, "--db", db, "--out", confirmation, "--company", company)
    assert f"order confirmation of {number}" in run.out
    data = confirmation.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/Subtype /Image" in data  # the logo is on the page

    slip = tmp_path / "slip.pdf"
    cli("print-order", number.lower(), "--db", db, "--out", slip, "--kind", "packing-slip")
    assert slip.read_bytes().startswith(b"%PDF-")


def test_print_order_errors(db: Path, tmp_path: Path) -> None:
    one_error_line(
        cli("print-order", "SO-999999", "--db", db, "--out", tmp_path / "x.pdf", expect=2),
        "no order with number SO-999999",
    )
    number, _ = _first_order(db)
    one_error_line(
        cli("print-order", number, "--db", db, "--out", tmp_path / "no" / "x.pdf", expect=2),
        "does not exist",
    )
    bad = tmp_path / "company.json"
    bad.write_text("{not json", encoding="utf-8")
    one_error_line(
        cli(
            "print-order",
            number,
            "--db",
            db,
            "--out",
            tmp_path / "x.pdf",
            "--company",
            bad,
            expect=2,
        ),
        "not valid JSON",
    )
    assert not (tmp_path / "x.pdf").exists()


def test_export_by_date_range(db: Path, tmp_path: Path) -> None:
    from datetime import date, timedelta

    today = date.today()
    out = tmp_path / "today.csv"
    cli("export-orders", "--db", db, "--out", out, "--since", str(today - timedelta(days=1)))
    everything = _read_model(db, "SELECT COUNT(*) FROM rm_orders")[0][0]
    assert len(_rows(out)) == everything  # the demo was loaded just now
    past = tmp_path / "past.csv"
    cli("export-orders", "--db", db, "--out", past, "--until", "2001-01-01", "--date", "changed")
    assert _rows(past) == []
    one_error_line(
        cli("export-orders", "--db", db, "--since", "31.12.2026", expect=2), "--since wants a date"
    )
