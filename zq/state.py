"""``TaskiqState``: a place for the app's shared objects, reachable by attribute or by key."""

from __future__ import annotations

from collections import UserDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _Base = UserDict[str, Any]
else:
    _Base = UserDict


class TaskiqState(_Base):
    """State shared by event handlers, dependencies and tasks: ``state.db`` or ``state["db"]``."""

    def __init__(self) -> None:
        self.__dict__["data"] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(f"'TaskiqState' object has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"'TaskiqState' object has no attribute {name!r}") from None

    def __str__(self) -> str:
        return f"TaskiqState({self.data})"
