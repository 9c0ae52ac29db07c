"""An order confirmation and a packing slip as a ``QTextDocument``, and PDF output.

Needs a ``QGuiApplication`` (fonts) but no widgets, so the admin CLI can print in batch on the
offscreen platform. All text from the database is HTML-escaped; amounts and dates go through
``ui.formatting`` like everywhere else in the GUI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QMarginsF, QUrl
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import (
    ADDRESS_FROM_CUSTOMER,
    ADDRESS_NONE,
    GetOrderShipping,
    OrderDetail,
)
from desktop_app.config import CompanyProfile
from desktop_app.ui.formatting import format_date, format_datetime, format_int, format_minor

LOGO_URL = "orderdesk://logo"
LOGO_WIDTH_PX = 160
PDF_RESOLUTION = 300


class DocumentKind(StrEnum):
    """Which paper an order gets."""

    CONFIRMATION = "confirmation"
    PACKING_SLIP = "packing-slip"

    @property
    def heading(self) -> str:
        """The heading printed on the page."""
        return "Order confirmation" if self is DocumentKind.CONFIRMATION else "Packing slip"


@dataclass(frozen=True, kw_only=True, slots=True)
class ShipTo:
    """The address block: the text and where it came from (shown when not the order's own)."""

    text: str
    note: str = ""


def ship_to_of(queries: QuerySender, order_id: str) -> ShipTo | None:
    """Where the order ships, from the query bus (None when neither the order nor its
    customer has an address); a customer's address is marked as such."""
    shipping = queries.ask(GetOrderShipping(order_id=order_id))
    if shipping.address_source == ADDRESS_NONE or not shipping.address.strip():
        return None
    note = ""
    if shipping.address_source == ADDRESS_FROM_CUSTOMER:
        note = "The customer's current address (the order has none of its own)."
    return ShipTo(text=shipping.address, note=note)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _lines_html(text: str) -> str:
    return "<br>".join(_e(line) for line in text.splitlines() if line.strip())


def _sender(company: CompanyProfile, has_logo: bool) -> str:
    logo = f'<img src="{LOGO_URL}" width="{LOGO_WIDTH_PX}">' if has_logo else ""
    contact = " · ".join(_e(part) for part in (company.email, company.phone) if part)
    return (
        '<table width="100%" cellspacing="0" cellpadding="0"><tr>'
        f'<td valign="top"><span style="font-size:16pt; font-weight:bold">{_e(company.name)}'
        f"</span><br>{_lines_html(company.address)}"
        + (f"<br>{contact}" if contact else "")
        + f'</td><td align="right" valign="top">{logo}</td></tr></table>'
    )


def _ship_to(ship_to: ShipTo | None, customer: str) -> str:
    if ship_to is None or not ship_to.text.strip():
        body = f"{_e(customer)}<br><i>No shipping address on file.</i>"
    else:
        body = _lines_html(ship_to.text)
        if ship_to.note:
            body += f'<br><span style="color:#555555"><i>{_e(ship_to.note)}</i></span>'
    return f"<b>Ship to</b><br>{body}"


def _facts(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td style="color:#555555; white-space:nowrap">{_e(k)}&nbsp;&nbsp;</td>'
        f'<td style="white-space:nowrap">{_e(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table cellspacing="0" cellpadding="2">{cells}</table>'


_TABLE = (
    '<table width="100%" cellspacing="0" cellpadding="5" '
    'style="border-collapse:collapse; border: 1px solid #999999">'
)
_TH = '<th align="{align}" style="background-color:#e8e8e8; border-bottom:1px solid #999999">'


def _head(*columns: tuple[str, str]) -> str:
    return "<tr>" + "".join(_TH.format(align=a) + _e(t) + "</th>" for t, a in columns) + "</tr>"


def _confirmation_lines(detail: OrderDetail) -> str:
    order = detail.order
    rows = [
        _head(
            ("SKU", "left"),
            ("Product", "left"),
            ("Qty", "right"),
            ("Unit price", "right"),
            ("Amount", "right"),
        )
    ]
    for line in detail.lines:
        rows.append(
            "<tr>"
            f"<td>{_e(line.sku)}</td><td>{_e(line.product_name)}</td>"
            f'<td align="right">{_e(format_int(line.quantity))}</td>'
            f'<td align="right">{_e(format_minor(line.unit_price_minor, line.currency))}</td>'
            f'<td align="right">{_e(format_minor(line.line_total_minor, line.currency))}</td>'
            "</tr>"
        )
    rows.append(
        '<tr><td colspan="4" align="right" style="border-top:1px solid #999999"><b>Total</b></td>'
        '<td align="right" style="border-top:1px solid #999999">'
        f"<b>{_e(format_minor(order.total_minor, order.currency))}</b></td></tr>"
    )
    return _TABLE + "".join(rows) + "</table>"


def _packing_lines(detail: OrderDetail) -> str:
    rows = [_head(("SKU", "left"), ("Product", "left"), ("Qty", "right"), ("Packed", "center"))]
    for line in detail.lines:
        rows.append(
            "<tr>"
            f"<td>{_e(line.sku)}</td><td>{_e(line.product_name)}</td>"
            f'<td align="right">{_e(format_int(line.quantity))}</td>'
            '<td align="center">&#9744;</td></tr>'
        )
    units = sum(line.quantity for line in detail.lines)
    rows.append(
        '<tr><td colspan="2" align="right" style="border-top:1px solid #999999">'
        "<b>Units</b></td>"
        f'<td align="right" style="border-top:1px solid #999999"><b>{_e(format_int(units))}</b>'
        '</td><td style="border-top:1px solid #999999"></td></tr>'
    )
    return _TABLE + "".join(rows) + "</table>"


def document_html(
    detail: OrderDetail,
    kind: DocumentKind,
    company: CompanyProfile,
    *,
    printed_at: datetime,
    ship_to: ShipTo | None = None,
    has_logo: bool = False,
) -> str:
    """The page as HTML for ``QTextDocument`` (its HTML subset: tables, no CSS layout)."""
    order = detail.order
    facts = [
        ("Order", order.order_number),
        ("Placed", format_date(order.placed_at)),
        ("Customer", order.customer_name),
        ("Status", order.status.capitalize()),
    ]
    if kind is DocumentKind.PACKING_SLIP or detail.tracking_number:
        facts.append(("Carrier", detail.carrier or "—"))
        facts.append(("Tracking number", detail.tracking_number or "— (not shipped yet)"))
    if order.status == "cancelled":
        facts.append(("Cancelled", detail.cancel_reason or "yes"))
    lines = (
        _confirmation_lines(detail)
        if kind is DocumentKind.CONFIRMATION
        else (_packing_lines(detail))
    )
    closing = (
        "Thank you for your order."
        if kind is DocumentKind.CONFIRMATION
        else "Please check the contents against this list."
    )
    return (
        "<html><body>"
        + _sender(company, has_logo)
        + f'<h1 style="font-size:20pt">{_e(kind.heading)} {_e(order.order_number)}</h1>'
        + '<table width="100%" cellspacing="0" cellpadding="0"><tr>'
        + f'<td valign="top" width="50%">{_ship_to(ship_to, order.customer_name)}</td>'
        + f'<td valign="top" width="50%">{_facts(facts)}</td></tr></table><br>'
        + lines
        + f"<p>{_e(closing)}</p>"
        + f'<p style="color:#777777; font-size:8pt">Printed {_e(format_datetime(printed_at))}'
        + f" · {_e(order.order_number)} version {order.version}</p>"
        + "</body></html>"
    )


def load_logo(company: CompanyProfile) -> QImage | None:
    """The company logo, or None when there is none or it cannot be read."""
    if company.logo_path is None:
        return None
    image = QImage(str(company.logo_path))
    return None if image.isNull() else image


def build_document(
    detail: OrderDetail,
    kind: DocumentKind,
    company: CompanyProfile,
    *,
    printed_at: datetime,
    ship_to: ShipTo | None = None,
) -> QTextDocument:
    """The ready-to-print document (the logo embedded as a resource)."""
    doc = QTextDocument()
    logo = load_logo(company)
    if logo is not None:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(LOGO_URL), logo)
    doc.setDocumentMargin(0)
    doc.setHtml(
        document_html(
            detail,
            kind,
            company,
            printed_at=printed_at,
            ship_to=ship_to,
            has_logo=logo is not None,
        )
    )
    return doc


def write_pdf(doc: QTextDocument, path: Path, *, title: str) -> None:
    """Print ``doc`` to an A4 PDF at ``path`` (written beside it and renamed: never half)."""
    temp = path.with_name(f".{path.name}.tmp")
    writer = QPdfWriter(str(temp))
    writer.setTitle(title)
    writer.setCreator("Order Desk")
    writer.setResolution(PDF_RESOLUTION)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(18, 18, 18, 18),
            QPageLayout.Unit.Millimeter,
        )
    )
    doc.print_(writer)
    del writer  # closes the file
    if not temp.exists() or temp.stat().st_size == 0:
        temp.unlink(missing_ok=True)
        raise OSError(f"the PDF writer produced nothing for {path}")
    temp.replace(path)
