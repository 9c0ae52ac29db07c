"""Fresh unique ids: uuid4 texts, the same format as ``str(uuid.uuid4())``.

Made ahead in batches from one read of the OS's random source: a ``getrandom`` system call
and a ``UUID`` object per id cost a few microseconds each, and every command makes several
(command, event and entity ids). The batch left over is emptied in a forked child, which must
never hand out the ids its parent will; list ``pop``/``extend`` are atomic, so threads need no
lock.
"""

from __future__ import annotations

import os
import re

MAX_ID_LENGTH = 64
"""Longest id accepted from outside (a uuid4 has 36 characters, ``order-`` + uuid4 42)."""

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

# uuid4's version and RFC 4122 variant bits, applied to 128 random bits by hand.
_UUID4_KEEP = 0xFFFFFFFFFFFF0FFF3FFFFFFFFFFFFFFF
_UUID4_SET = 0x00000000000040008000000000000000
_BATCH = 64

_spare: list[str] = []
os.register_at_fork(after_in_child=_spare.clear)


def _make_batch() -> list[str]:
    raw = os.urandom(16 * _BATCH)
    out = []
    for start in range(0, 16 * _BATCH, 16):
        h = (
            ((int.from_bytes(raw[start : start + 16]) & _UUID4_KEEP) | _UUID4_SET)
            .to_bytes(16)
            .hex()
        )
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def new_id() -> str:
    """A fresh uuid4 as text."""
    try:
        return _spare.pop()
    except IndexError:
        pass
    batch = _make_batch()
    _spare.extend(batch[1:])
    return batch[0]


_ASCII_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_ID_LENGTH - 1}}}", re.ASCII)


def is_plain_id(value: object) -> bool:
    """The fast yes of :func:`id_problem` (one C-level match; every command checks several)."""
    return type(value) is str and _ASCII_ID.fullmatch(value) is not None


def id_problem(value: object) -> str | None:
    """Why ``value`` is not an acceptable id, in words, or None when it is.

    Ids are 1 to ``MAX_ID_LENGTH`` ASCII letters, digits, ``.``, ``_``, ``:`` or ``-``,
    starting with a letter or digit: no spaces, control or look-alike characters, nothing a
    log line, a file name or a terminal could misread, and a bounded size in every table.
    """
    if not isinstance(value, str) or not value.strip():
        return "it is empty"
    if len(value) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    if not value.isascii() or _ID_PATTERN.fullmatch(value) is None:
        return (
            "it may only hold the letters A-Z and a-z, digits, '.', '_', ':' and '-', "
            "starting with a letter or digit"
        )
    return None
