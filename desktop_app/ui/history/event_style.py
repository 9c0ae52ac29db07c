"""How each event type looks on the timeline: a label, a colour and a glyph drawn with QPainter
(no image files), so markers stay crisp at any scale and cost nothing to load."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap


@dataclass(frozen=True, slots=True)
class EventStyle:
    """Label, marker colour and glyph name of one event type."""

    label: str
    colour: str
    glyph: str


ORDER_EVENT_TYPES: tuple[str, ...] = (
    "OrderPlaced",
    "OrderLineAdded",
    "OrderLineRemoved",
    "OrderLineQuantityChanged",
    "OrderLinesChanged",
    "OrderConfirmed",
    "OrderShipped",
    "OrderDelivered",
    "OrderCancelled",
    "OrderShippingAddressChanged",
    "OrderNoteAdded",
)

_STYLES: dict[str, EventStyle] = {
    "OrderPlaced": EventStyle("Placed", "#2563eb", "flag"),
    "OrderLineAdded": EventStyle("Line added", "#16a34a", "plus"),
    "OrderLineRemoved": EventStyle("Line removed", "#dc2626", "minus"),
    "OrderLineQuantityChanged": EventStyle("Quantity changed", "#d97706", "updown"),
    "OrderLinesChanged": EventStyle("Lines edited", "#d97706", "updown"),
    "OrderConfirmed": EventStyle("Confirmed", "#0d9488", "check"),
    "OrderShipped": EventStyle("Shipped", "#4f46e5", "truck"),
    "OrderDelivered": EventStyle("Delivered", "#9333ea", "house"),
    "OrderCancelled": EventStyle("Cancelled", "#475569", "cross"),
    "OrderShippingAddressChanged": EventStyle("Ship-to changed", "#0891b2", "pin"),
    "OrderNoteAdded": EventStyle("Note", "#ca8a04", "note"),
    "(refused)": EventStyle("Refused commands", "#6b7280", "refused"),
}


def style_for(type_name: str) -> EventStyle:
    """The style of a type; unknown (future) types get a neutral one with their own name."""
    style = _STYLES.get(type_name)
    if style is None:
        return EventStyle(type_name, "#6b7280", "dot")
    return style


def paint_marker(
    painter: QPainter, centre: QPointF, radius: float, style: EventStyle, ring: QColor | None = None
) -> None:
    """A filled circle in the type's colour with a white glyph; ``ring`` marks selection."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if ring is not None:
        painter.setPen(QPen(ring, 2.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(centre, radius + 3, radius + 3)
    painter.setPen(QPen(QColor("white"), 1.5))
    painter.setBrush(QBrush(QColor(style.colour)))
    painter.drawEllipse(centre, radius, radius)
    _paint_glyph(painter, centre, radius * 0.55, style.glyph)
    painter.restore()


def _paint_glyph(painter: QPainter, c: QPointF, s: float, glyph: str) -> None:
    """Draw ``glyph`` in a box of half-size ``s`` around ``c`` in white."""
    white = QColor("white")
    pen = QPen(
        white,
        max(1.4, s * 0.32),
        Qt.PenStyle.SolidLine,
        Qt.PenCapStyle.RoundCap,
        Qt.PenJoinStyle.RoundJoin,
    )
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    x, y = c.x(), c.y()

    def p(dx: float, dy: float) -> QPointF:
        return QPointF(x + dx * s, y + dy * s)

    if glyph == "plus":
        painter.drawLine(p(-1, 0), p(1, 0))
        painter.drawLine(p(0, -1), p(0, 1))
    elif glyph == "minus":
        painter.drawLine(p(-1, 0), p(1, 0))
    elif glyph == "check":
        path = QPainterPath(p(-1, 0.05))
        path.lineTo(p(-0.3, 0.75))
        path.lineTo(p(1, -0.7))
        painter.drawPath(path)
    elif glyph == "cross":
        painter.drawLine(p(-0.8, -0.8), p(0.8, 0.8))
        painter.drawLine(p(-0.8, 0.8), p(0.8, -0.8))
    elif glyph == "updown":
        painter.drawLine(p(-0.45, 1), p(-0.45, -1))
        painter.drawLine(p(-0.45, -1), p(-0.95, -0.45))
        painter.drawLine(p(-0.45, -1), p(0.05, -0.45))
        painter.drawLine(p(0.45, -1), p(0.45, 1))
        painter.drawLine(p(0.45, 1), p(-0.05, 0.45))
        painter.drawLine(p(0.45, 1), p(0.95, 0.45))
    elif glyph == "flag":
        painter.drawLine(p(-0.7, 1), p(-0.7, -1))
        painter.setBrush(QBrush(white))
        flag = QPainterPath(p(-0.7, -1))
        flag.lineTo(p(0.9, -0.55))
        flag.lineTo(p(-0.7, -0.1))
        flag.closeSubpath()
        painter.setPen(QPen(white, 1.0))
        painter.drawPath(flag)
    elif glyph == "truck":
        painter.setPen(QPen(white, max(1.1, s * 0.22)))
        painter.drawRect(QRectF(p(-1.05, -0.65), p(0.25, 0.35)))
        cab = QPainterPath(p(0.25, -0.25))
        cab.lineTo(p(0.7, -0.25))
        cab.lineTo(p(1.05, 0.1))
        cab.lineTo(p(1.05, 0.35))
        cab.lineTo(p(0.25, 0.35))
        painter.drawPath(cab)
        painter.setBrush(QBrush(white))
        painter.drawEllipse(p(-0.55, 0.7), s * 0.22, s * 0.22)
        painter.drawEllipse(p(0.65, 0.7), s * 0.22, s * 0.22)
    elif glyph == "house":
        roof = QPainterPath(p(-1.05, -0.05))
        roof.lineTo(p(0, -1))
        roof.lineTo(p(1.05, -0.05))
        painter.drawPath(roof)
        painter.drawRect(QRectF(p(-0.7, -0.15), p(0.7, 1)))
    elif glyph == "pin":
        pin = QPainterPath(p(0, 1))
        pin.cubicTo(p(-1.2, -0.2), p(-0.8, -1.1), p(0, -1.1))
        pin.cubicTo(p(0.8, -1.1), p(1.2, -0.2), p(0, 1))
        painter.drawPath(pin)
        painter.drawEllipse(p(0, -0.35), s * 0.25, s * 0.25)
    elif glyph == "note":
        painter.drawRect(QRectF(p(-0.75, -1), p(0.75, 1)))
        for dy in (-0.45, 0.0, 0.45):
            painter.drawLine(p(-0.4, dy), p(0.4, dy))
    else:
        painter.setBrush(QBrush(white))
        painter.drawEllipse(c, s * 0.45, s * 0.45)


@lru_cache(maxsize=64)
def marker_icon(type_name: str, size: int = 18) -> QIcon:
    """The type's marker as an icon (filter list, legends); cached per type and size."""
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    style = style_for(type_name)
    if style.glyph == "refused":
        # Not an event: the grey hollow marker of a refused command.
        from desktop_app.ui.audit.marks import paint_refused_marker

        paint_refused_marker(painter, QPointF(size / 2, size / 2), size / 2 - 2.5)
    else:
        paint_marker(painter, QPointF(size / 2, size / 2), size / 2 - 1.5, style)
    painter.end()
    return QIcon(pixmap)
