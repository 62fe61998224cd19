"""An ipc:// address is bound by one process at a time, as a TCP port is (AddressLock)."""

from pathlib import Path

import pytest

from zq.exceptions import AddressInUseError
from zq.transport.sockets import AddressLock


def test_a_held_ipc_address_is_in_use_until_released(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path / 'zq.sock'}"
    first = AddressLock(address)
    with pytest.raises(AddressInUseError, match="already in use"):
        AddressLock(address)
    first.release()
    AddressLock(address).release()  # free again
    first.release()  # releasing twice is harmless
