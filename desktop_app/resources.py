"""The program's own files (icon, style sheet), loaded with ``importlib.resources``.

They live in the ``desktop_app.assets`` package, so the same code finds them in a source tree,
an installed wheel and a PyInstaller bundle (which collects that package's data files). The
plain functions need no Qt; :func:`app_icon` and :func:`apply_to` import it when called.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

ASSETS_PACKAGE = "desktop_app.assets"
ICON_PNG = "order-desk.png"
ICON_SVG = "order-desk.svg"
STYLE_SHEET = "style.qss"


class MissingResourceError(FileNotFoundError):
    """A file the program needs is not in ``desktop_app.assets`` (a broken build)."""


def asset(name: str) -> Traversable:
    """The asset ``name`` (raises :class:`MissingResourceError` when it is not there)."""
    item = resources.files(ASSETS_PACKAGE).joinpath(name)
    if not item.is_file():
        raise MissingResourceError(f"resource {name!r} is missing from {ASSETS_PACKAGE}")
    return item


def read_bytes(name: str) -> bytes:
    """The contents of the asset ``name``."""
    return asset(name).read_bytes()


def style_sheet() -> str:
    """The application style sheet (Qt style sheet text)."""
    return asset(STYLE_SHEET).read_text(encoding="utf-8")


def icon_png() -> bytes:
    """The 256 px application icon as PNG bytes."""
    return read_bytes(ICON_PNG)


def app_icon() -> QIcon:
    """The application icon as a QIcon (needs a QGuiApplication). PNG only: it needs no
    image-format plugin, so the bundle can leave them all out."""
    from PySide6.QtGui import QIcon, QPixmap

    pixmap = QPixmap()
    if not pixmap.loadFromData(icon_png(), "PNG"):
        raise MissingResourceError(f"resource {ICON_PNG!r} is not a readable PNG")
    return QIcon(pixmap)


def apply_to(app: QApplication) -> None:
    """Give the application its icon and style sheet (call once, after creating it)."""
    app.setWindowIcon(app_icon())
    app.setStyleSheet(style_sheet())
