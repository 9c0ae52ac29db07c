"""What the packaging ships beside the code: the assets loaded through importlib.resources, the
icons, the .desktop file, the spec's portability and the build lock. The bundle itself is built
and self-tested by .ci/run (``make package``), not here: it takes a minute or more."""

from __future__ import annotations

import configparser
import re
import struct
import xml.etree.ElementTree as ET
from importlib import resources as importlib_resources
from pathlib import Path

import pytest

from desktop_app import resources

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_assets_load_through_importlib_resources() -> None:
    folder = importlib_resources.files("desktop_app.assets")
    names = {item.name for item in folder.iterdir()}
    assert {"order-desk.png", "order-desk.svg", "style.qss"} <= names
    assert _png_size(resources.icon_png()) == (256, 256)
    assert "QStatusBar" in resources.style_sheet()


def test_a_missing_asset_is_named() -> None:
    with pytest.raises(resources.MissingResourceError, match=r"nope\.png"):
        resources.read_bytes("nope.png")


def test_packaged_icon_is_the_desktop_icon() -> None:
    for name in ("order-desk.png", "order-desk.svg"):
        assert (ROOT / "resources" / name).read_bytes() == resources.read_bytes(name)
    ET.fromstring(resources.read_bytes("order-desk.svg"))  # well-formed XML


def test_windows_and_macos_icons_hold_png_images() -> None:
    ico = (ROOT / "resources" / "order-desk.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 5
    sizes = set()
    for i in range(count):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * i : 22 + 16 * i]
        )
        assert ico[offset : offset + 8] == PNG_MAGIC and offset + length <= len(ico)
        sizes.add(width or 256)
    assert {16, 32, 48, 256} <= sizes

    icns = (ROOT / "resources" / "order-desk.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert b"ic08" in icns  # 256 px


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "resources" / "order-desk.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Order Desk"
    assert entry["Exec"].split()[0] == "OrderDesk"
    assert entry["Icon"] == "order-desk"  # the icon's file name without extension
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    # The GUI sets this desktop file name, so the window is matched to the entry.
    assert entry["StartupWMClass"] == "order-desk"


def test_spec_has_no_machine_paths() -> None:
    spec = (ROOT / "packaging" / "order_desk.spec").read_text(encoding="utf-8")
    code = "\n".join(line for line in spec.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"['\"](/home/|/work/|/usr/|/opt/|/tmp/|[A-Za-z]:\\\\)", code)
    for icon in ("order-desk.ico", "order-desk.icns", "order-desk.png"):
        assert icon in spec
        assert (ROOT / "resources" / icon).is_file()
    assert "launcher.py" in spec and "desktop_app.assets" in spec


def test_build_lock_pins_pyinstaller_with_hashes() -> None:
    lock = (ROOT / "requirements-package.lock").read_text(encoding="utf-8")
    assert re.search(r"^pyinstaller==\d+\.\d+(\.\d+)? \\\n\s+--hash=sha256:", lock, re.MULTILINE)
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock, re.MULTILINE))
    main = dict(
        re.findall(
            r"^([a-z0-9-]+)==(\S+)",
            (ROOT / "requirements.lock").read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )
    for name, version in pins.items():  # compiled against the main lock: no disagreements
        assert main.get(name, version) == version, name
    assert "pyside6" not in pins  # the build adds no Qt of its own
