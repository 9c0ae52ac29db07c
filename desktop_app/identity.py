"""Who runs the program: the operating-system account, never environment variables."""

from __future__ import annotations

import os
import socket
import sys
from importlib import metadata

from desktop_app import __version__


def os_user() -> str:
    """The signed-in account's user name as the OS knows it.

    ``getpass.getuser()`` trusts $USER/$LOGNAME, which anyone can set; the audit trail must
    not (R15), so ask the account database (POSIX) or the Windows API instead.
    """
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        size = ctypes.c_ulong(257)
        buffer = ctypes.create_unicode_buffer(size.value)
        if ctypes.windll.advapi32.GetUserNameW(buffer, ctypes.byref(size)):  # type: ignore[attr-defined,unused-ignore]
            return str(buffer.value)
        return "unknown"
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid {os.getuid()}"


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname() or "unknown"


def app_version() -> str:
    """The installed package version, or the source tree's."""
    try:
        return metadata.version("desktop-app")
    except metadata.PackageNotFoundError:
        return __version__
