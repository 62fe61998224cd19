"""Task ids: taskiq's format (``uuid4().hex``), unique, and never shared with a forked child."""

from __future__ import annotations

import os
import uuid

from zq.abc.broker import default_id_generator


def test_ids_are_random_version_4_uuids_as_32_hex_digits() -> None:
    ids = [default_id_generator() for _ in range(5000)]  # several batches
    assert len(set(ids)) == len(ids)
    for task_id in ids:
        parsed = uuid.UUID(task_id)
        assert parsed.hex == task_id and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_take_the_ids_its_parent_made_ahead() -> None:
    default_id_generator()  # the parent now holds ids made ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the id it would take from a copied batch is the parent's next
        os.write(write, default_id_generator().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child_id = os.read(read, 64).decode()
    os.close(read)
    assert child_id != default_id_generator()
