"""Build the packaged program: ``python packaging/build.py [--onefile] [--self-test]``.

Default (one-folder, the fast-starting build that is shipped)::

    dist/OrderDesk/                                  the bundle (run dist/OrderDesk/OrderDesk)
    dist/OrderDesk-<version>-linux-x86_64.tar.gz     the download (.zip on Windows)

``--onefile``: ``dist/OrderDesk-onefile`` (``.exe`` on Windows), one self-unpacking
executable. ``--self-test`` runs the result's ``--self-test`` afterwards. Sizes are printed at
the end. It runs PyInstaller on ``packaging/order_desk.spec`` with the interpreter running this
script, so build from the project's virtual environment (``make package`` does).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "order_desk.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
NAME = "OrderDesk"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""

# Copied beside the executable, for the Linux desktop integration (see README).
DESKTOP_FILES = (
    ROOT / "resources" / "order-desk.desktop",
    ROOT / "resources" / "order-desk.png",
    ROOT / "resources" / "order-desk.svg",
    ROOT / "packaging" / "linux" / "install-desktop-entry.sh",
)


def version() -> str:
    """The program's version, from the source tree."""
    sys.path.insert(0, str(ROOT))
    from desktop_app import __version__

    return __version__


def platform_tag() -> str:
    """``linux-x86_64``, ``windows-amd64``, ``macos-arm64`` …"""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    if system.startswith("linux"):
        system = "linux"
    return f"{system}-{platform.machine().lower() or 'unknown'}"


def run_pyinstaller(onefile: bool) -> None:
    """Run PyInstaller on the spec (a clean build each time)."""
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        f"--distpath={DIST}",
        f"--workpath={WORK}",
        str(SPEC),
    ]
    if onefile:
        command += ["--", "--onefile"]
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def add_desktop_files(bundle: Path) -> None:
    """Put the .desktop file, icons and installer script at the top of the bundle."""
    for source in DESKTOP_FILES:
        if source.is_file():
            shutil.copy2(source, bundle / source.name)


def make_archive(bundle: Path) -> Path:
    """The compressed download: a .zip on Windows, a .tar.gz elsewhere (file modes kept)."""
    stem = f"{NAME}-{version()}-{platform_tag()}"
    if sys.platform == "win32":
        archive = DIST / f"{stem}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for path in sorted(bundle.rglob("*")):
                zf.write(path, path.relative_to(bundle.parent))
        return archive
    archive = DIST / f"{stem}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=9) as tar:
        tar.add(bundle, arcname=bundle.name, filter=_normalise)
    return archive


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def folder_size(path: Path) -> int:
    """Bytes in all files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def self_test(executable: Path) -> None:
    """Run the built program's --self-test (raises when it fails)."""
    print(f"+ {executable} --self-test", flush=True)
    subprocess.run([str(executable), "--self-test"], check=True, timeout=300)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--onefile", action="store_true", help="build the one-file executable")
    parser.add_argument(
        "--self-test", action="store_true", help="run the result's --self-test afterwards"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # collect_submodules imports the UI
    run_pyinstaller(args.onefile)
    lines: list[str] = []
    if args.onefile:
        executable = DIST / f"{NAME}-onefile{EXE_SUFFIX}"
        lines.append(
            f"one-file executable  {executable.relative_to(ROOT)}  {_mb(executable.stat().st_size)}"
        )
    else:
        bundle = DIST / NAME
        executable = bundle / f"{NAME}{EXE_SUFFIX}"
        add_desktop_files(bundle)
        archive = make_archive(bundle)
        lines.append(
            f"one-folder bundle    {bundle.relative_to(ROOT)}/  {_mb(folder_size(bundle))}"
        )
        lines.append(
            f"compressed archive   {archive.relative_to(ROOT)}  {_mb(archive.stat().st_size)}"
        )
    if args.self_test:
        self_test(executable)
    print(f"built in {time.monotonic() - started:.0f} s")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
