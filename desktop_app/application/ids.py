"""Fresh unique ids: uuid4 texts, the same format as ``str(uuid.uuid4())``.

Made ahead in batches from one read of the OS's random source: a ``getrandom`` system call
and a ``UUID`` object per id cost a few microseconds each, and every command makes several
(command, event and entity ids). The batch left over is emptied in a forked child, which must
never hand out the ids its parent will; list ``pop``/``extend`` are atomic, so threads need no
lock.
"""

from __future__ import annotations

import os

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
