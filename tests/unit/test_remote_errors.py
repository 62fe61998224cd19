"""Exceptions round-trip with type, args and attributes, and nothing is ever imported."""

import sys
import types

from zq.core.remote_errors import describe, rebuild
from zq.exceptions import TaskiqError


class WithFields(Exception):
    def __init__(self, code: int, *, detail: str) -> None:
        super().__init__(f"code {code}")
        self.code = code
        self.detail = detail


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_builtin_exception_comes_back_with_its_type_and_message() -> None:
    exc = rebuild(describe(raised(ValueError("bad value"))))
    assert type(exc) is ValueError and str(exc) == "bad value"
    assert any("Remote traceback" in note for note in exc.__notes__)


def test_attributes_set_in_init_survive_even_when_the_constructor_differs() -> None:
    exc = rebuild(describe(raised(WithFields(3, detail="x"))))
    assert type(exc) is WithFields
    assert exc.code == 3 and exc.detail == "x"  # type: ignore[attr-defined]


def test_an_unknown_class_becomes_a_taskiq_error_of_the_same_name_without_importing() -> None:
    info = describe(raised(ValueError("boom")))
    info.module, info.qualname = "os_not_imported_here", "Evil"
    before = set(sys.modules)
    exc = rebuild(info)
    assert isinstance(exc, TaskiqError) and type(exc).__name__ == "Evil"
    assert str(exc) == "boom" and set(sys.modules) == before


def test_module_getattr_is_never_called() -> None:
    module = types.ModuleType("lazy_mod")
    module.__getattr__ = lambda name: (_ for _ in ()).throw(AssertionError("imported"))  # type: ignore[method-assign]
    info = describe(raised(KeyError("k")))
    info.module, info.qualname = "lazy_mod", "Hidden"
    exc = rebuild(info, modules={"lazy_mod": module})
    assert type(exc).__name__ == "Hidden"


def test_unencodable_args_are_carried_as_repr() -> None:
    exc = rebuild(describe(raised(RuntimeError(object))))
    assert type(exc) is RuntimeError and "object" in exc.args[0]


def test_a_peer_cannot_set_dunder_attributes_or_send_a_huge_traceback() -> None:
    info = describe(raised(WithFields(3, detail="x")))
    info.attrs = {"__class__": "str", "__dict__": {}, "__notes__": 1, "code": 4}
    exc = rebuild(info)
    assert type(exc) is WithFields and exc.code == 4  # type: ignore[attr-defined]
    deep = describe(raised(ValueError("x" * 100_000)))
    assert len(deep.traceback) <= 16_384 and deep.traceback.endswith("x\n")
