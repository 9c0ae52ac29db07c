"""Fresh ids: uuid4 texts, unique, and never shared with a forked child."""

from __future__ import annotations

import os
import uuid

from desktop_app.application.ids import new_id


def test_ids_are_uuid4_texts_and_unique() -> None:
    made = [new_id() for _ in range(1000)]  # several batches
    assert len(set(made)) == len(made)
    for text in made[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_a_forked_child_never_hands_out_the_parents_next_ids() -> None:
    new_id()  # leave spare ids of this batch behind
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.close(read)
        os.write(write, ",".join(new_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {new_id() for _ in range(5)}
    assert len(child) == 5 and not child & parent
