"""Private folders: 0700 for the folder and for every folder created on the way to it.

The database, the anchor log and the snapshot keys all live in folders nobody else may read;
``mkdir(parents=True, mode=...)`` applies the mode to the last folder only (and through the
umask), so the data folder created on the way would be left 0755.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` 0700 (and any missing parent, 0700 too); tighten it when it is ours."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            created.mkdir(mode=0o700)
            os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask
    st = folder.stat()
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.chmod(folder, 0o700)
