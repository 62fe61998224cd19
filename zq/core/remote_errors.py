"""Exceptions across the wire: describe one on the executor, rebuild it on the client.

Rebuilding never imports anything: a class is found only in a module that is already imported
in this process (looked up in ``sys.modules`` and module dicts, not with ``getattr``, so a
module ``__getattr__`` cannot import on a peer's behalf). An unknown class comes back as a
generated subclass of ``TaskiqError`` with the original name.
"""

from __future__ import annotations

import sys
import traceback as tb_module
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import msgspec

from zq.core.codec import portable, shallow
from zq.core.messages import ErrorInfo, ResultMsg
from zq.exceptions import TaskiqError

_probe = msgspec.msgpack.Encoder()
MAX_TRACEBACK = 16_384  # characters of a remote traceback kept (its end: the raising frames)
_generated: dict[tuple[str, str], type[TaskiqError]] = {}


MAX_MESSAGE = 4_096  # characters of an exception's text kept when it cannot be described


def _portable(value: Any) -> Any:
    if not portable(value):
        return _text(value, repr)
    if isinstance(value, dict | list | tuple) and not shallow(value):
        return _text(value, repr)
    return value


def _text(value: Any, how: Any = str) -> str:
    """``str`` (or ``repr``) of ``value``, bounded, or a stand-in if even that fails."""
    try:
        text = str(how(value))
    except BaseException:  # a hostile __str__ may raise anything
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def describe(exc: BaseException) -> ErrorInfo:
    """Turn ``exc`` into an ``ErrorInfo`` that any peer can decode; never raises.

    An exception that cannot be described in full (its args nest too deeply, its ``__str__``
    raises, ...) is described by its class and bounded text only.
    """
    cls = type(exc)
    try:
        attrs = {k: _portable(v) for k, v in vars(exc).items() if not k.startswith("__")}
        info = ErrorInfo(
            module=cls.__module__,
            qualname=cls.__qualname__,
            message=_text(exc),
            args=[_portable(a) for a in exc.args],
            attrs=attrs,
            traceback=_traceback(exc),
        )
        _probe.encode(info)  # proves it will travel
    except BaseException:  # describing must never fail; fall back to text
        return ErrorInfo(
            module=_text(cls.__module__),
            qualname=_text(cls.__qualname__),
            message=_text(exc),
            args=[_text(exc)],
        )
    return info


def _traceback(exc: BaseException) -> str:
    try:
        return "".join(tb_module.format_exception(exc))[-MAX_TRACEBACK:]
    except BaseException:  # a hostile exception may break traceback formatting
        return ""


def _find_class(
    module: str, qualname: str, modules: Mapping[str, ModuleType]
) -> type[BaseException] | None:
    mod = modules.get(module)
    if mod is None:
        return None
    obj: Any = vars(mod).get(qualname.split(".", maxsplit=1)[0])
    for part in qualname.split(".")[1:]:
        if not isinstance(obj, type):
            return None
        obj = vars(obj).get(part)
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def _stand_in(module: str, qualname: str) -> type[TaskiqError]:
    key = (module, qualname)
    cls = _generated.get(key)
    if cls is None:
        name = qualname.rsplit(".", 1)[-1]
        cls = type(name, (TaskiqError,), {"__module__": module, "__qualname__": qualname})
        _generated[key] = cls
    return cls


def rebuild(info: ErrorInfo, modules: Mapping[str, ModuleType] | None = None) -> BaseException:
    """Rebuild the exception that ``info`` describes.

    It has the original type (or a stand-in), its args and attributes, and the remote
    traceback attached as a note.
    """
    cls = _find_class(info.module, info.qualname, sys.modules if modules is None else modules)
    exc: BaseException
    if cls is None:
        exc = _stand_in(info.module, info.qualname)(*(info.args or [info.message]))
    else:
        try:
            exc = cls(*info.args)
        except Exception:  # a constructor that wants other arguments: build it bare
            exc = BaseException.__new__(cls)
            exc.args = tuple(info.args)
    for key, value in info.attrs.items():
        if key.startswith("__"):  # a peer does not get to set __class__, __dict__, ...
            continue
        try:
            setattr(exc, key, value)
        except (AttributeError, TypeError):
            continue
    if info.traceback:
        exc.add_note(f"Remote traceback (from the worker):\n{info.traceback.rstrip()}")
    return exc


def is_zq_error(info: ErrorInfo | None, cls: type[BaseException]) -> bool:
    """Whether ``info`` describes zq's own exception class ``cls`` (matched by its name).

    Such errors are control signals (``NoResultError``, ``TaskRejectedError``), not user errors.
    """
    return info is not None and info.module == cls.__module__ and info.qualname == cls.__qualname__


def error_result(
    task_id: str, labels: dict[str, Any], error: str, reason: str, took: float = 0.0
) -> ResultMsg:
    """The error result zq itself gives a task: ``error`` names a class of ``zq.exceptions``.

    For a task that never produced its own (dead-lettered, its result too large).
    """
    info = ErrorInfo("zq.exceptions", error, reason, [reason])
    return ResultMsg(task_id, True, b"", took, labels, info)
