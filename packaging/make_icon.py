"""Draw Order Desk's application icon: ``python packaging/make_icon.py``.

The SVG below is the one source; this script writes it and renders it with Qt into
``resources/order-desk.{svg,png,ico,icns}`` (desktop integration and the PyInstaller spec) and
copies the SVG and the 256 px PNG into ``desktop_app/assets/`` (loaded at run time through
``importlib.resources``). The ``.ico`` (Windows) and ``.icns`` (macOS) are written here by hand
as PNG-compressed entries, so no image plugin is needed. Run it again after changing the SVG and
commit the outputs. Build tool only: nothing here runs in the app.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
ASSETS = ROOT / "desktop_app" / "assets"
NAME = "order-desk"

# A clipboard with an order sheet: three order lines and a green tick, on a blue tile.
SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <title>Order Desk</title>
  <rect x="8" y="8" width="240" height="240" rx="44" fill="#2f6fb0"/>
  <rect x="52" y="40" width="152" height="188" rx="14" fill="#8a5a2b"/>
  <rect x="64" y="56" width="128" height="160" rx="6" fill="#ffffff"/>
  <rect x="96" y="28" width="64" height="32" rx="10" fill="#5b6770"/>
  <rect x="110" y="36" width="36" height="10" rx="5" fill="#c9d1d7"/>
  <rect x="80" y="84" width="72" height="10" rx="5" fill="#9aa8b4"/>
  <rect x="80" y="112" width="96" height="10" rx="5" fill="#9aa8b4"/>
  <rect x="80" y="140" width="60" height="10" rx="5" fill="#9aa8b4"/>
  <circle cx="164" cy="180" r="30" fill="#2e9d5b"/>
  <path d="M149 180 l10 11 l21 -23" fill="none" stroke="#ffffff" stroke-width="9"
        stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
)


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG rendered to a ``size`` x ``size`` PNG (transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("the icon SVG does not parse")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # stub says bytes
        raise OSError("PNG encoding failed")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding one PNG-compressed image per size (Vista and later)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        blob = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in the directory
        entries.append(struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset))
        blobs.append(blob)
        offset += len(blob)
    return header + b"".join(entries) + b"".join(blobs)


def icns(pngs: dict[bytes, bytes]) -> bytes:
    """A macOS .icns holding PNG entries (OS X 10.7 and later)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(blob)) + blob for kind, blob in pngs.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = SVG.encode()
    png256 = render_png(svg, 256)
    outputs = {
        RESOURCES / f"{NAME}.svg": svg,
        RESOURCES / f"{NAME}.png": png256,
        RESOURCES / f"{NAME}.ico": ico({s: render_png(svg, s) for s in ICO_SIZES}),
        RESOURCES / f"{NAME}.icns": icns({k: render_png(svg, s) for k, s in ICNS_TYPES}),
        ASSETS / f"{NAME}.svg": svg,
        ASSETS / f"{NAME}.png": png256,
    }
    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(ROOT)}  {len(data):,} bytes")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
