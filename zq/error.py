"""``Error``: the templated exception base of taskiq's exception tree (taskiq's ``taskiq.error``).

Keyword arguments fill ``__template__`` and become attributes:
``TaskiqResultTimeoutError(timeout=5)``. A leaf: it imports nothing of zq.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["Error"]


class Error(Exception):
    """An exception whose message is its class's ``__template__``, filled by its fields."""

    __template__: ClassVar[str] = "Exception occurred"

    def __init__(self, *args: Any, **fields: Any) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        if not args:
            try:
                args = (self.__template__.format(**fields),)
            except (KeyError, IndexError, AttributeError):
                args = (self.__template__,)
        super().__init__(*args)
