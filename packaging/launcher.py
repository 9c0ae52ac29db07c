"""Entry point of the packaged program (PyInstaller's script; also runs from source:
``python packaging/launcher.py``).

``--version`` and ``--self-test`` are handled here first, so every bundle has them, then the
GUI starts through ``desktop_app.__main__.run``, with the start-up probe attached to the main
window (inactive unless ``ORDER_DESK_EXIT_AFTER_FIRST_PAINT`` is set). No app logic here.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Start Order Desk (or answer --version / --self-test); returns the exit code."""
    argv = sys.argv[1:]
    from desktop_app.self_test import early_exit

    code = early_exit(argv)
    if code is not None:
        return code
    from desktop_app.__main__ import run
    from desktop_app.startup_probe import watch_first_paint

    return run(argv, on_window=watch_first_paint)


if __name__ == "__main__":
    sys.exit(main())
