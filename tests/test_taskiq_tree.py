"""zq's module tree against taskiq's installed package: every public path and name is here.

The list is derived from the installed taskiq, not kept by hand: a module's public names are its
``__all__``, or else the names it defines itself (not those it imports). What zq leaves out has
no meaning in zq; each such path is in ``SKIPPED`` with its reason, and listed in
docs/coming-from-taskiq.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

taskiq = pytest.importorskip("taskiq")

ARGPARSE_CLI = "taskiq's argparse command line; zq's is click (`zq worker --help`)"
SKIPPED = {
    "taskiq.abc.cmd": "taskiq's CLI plug-in entry point (TaskiqCMD); zq's CLI is click",
    "taskiq.cli.common_args": ARGPARSE_CLI,
    "taskiq.cli.scheduler.args": ARGPARSE_CLI,
    "taskiq.cli.scheduler.cmd": ARGPARSE_CLI,
    "taskiq.cli.scheduler.run": ARGPARSE_CLI,
    "taskiq.cli.watcher": ARGPARSE_CLI,
    "taskiq.cli.worker": ARGPARSE_CLI,
    "taskiq.cli.worker.args": ARGPARSE_CLI,
    "taskiq.cli.worker.cmd": ARGPARSE_CLI,
    "taskiq.cli.worker.log_collector": ARGPARSE_CLI,
    "taskiq.cli.worker.process_manager": ARGPARSE_CLI,
    "taskiq.cli.worker.run": ARGPARSE_CLI,
    "taskiq.instrumentation": "OpenTelemetry auto-instrumentation of taskiq; not yet for zq",
    "taskiq.middlewares.opentelemetry_middleware": "not yet: use taskiq's own (a plug-in)",
    "taskiq.middlewares.taskiq_admin_middleware": "taskiq-admin's HTTP API; use taskiq's own",
    "taskiq.package": "taskiq's OpenTelemetry package marker",
    "taskiq.serialization": "taskiq's exception pickling; zq has zq.core.remote_errors",
}
SKIPPED_NAMES = {
    "taskiq.middlewares": {"TaskiqAdminMiddleware"},  # see taskiq_admin_middleware above
}


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    ]


def _taskiq_modules() -> list[str]:
    found = ["taskiq"]
    for info in pkgutil.walk_packages(taskiq.__path__, "taskiq.", onerror=lambda _name: None):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            found.append(info.name)
    return found


def test_every_public_taskiq_path_and_name_is_in_zq() -> None:
    missing = []
    for name in _taskiq_modules():
        if name in SKIPPED:
            continue
        theirs = importlib.import_module(name)
        ours_name = "zq" + name[len("taskiq") :]
        try:
            ours = importlib.import_module(ours_name)
        except ImportError as exc:
            missing.append(f"{ours_name}: {exc}")
            continue
        wanted = set(_public_names(theirs)) - SKIPPED_NAMES.get(name, set())
        lacking = sorted(n for n in wanted if not hasattr(ours, n))
        if lacking:
            missing.append(f"{ours_name}: {lacking}")
    assert missing == []


def test_the_skipped_paths_exist_in_taskiq_and_are_documented() -> None:
    modules = set(_taskiq_modules())
    doc = (Path(__file__).parents[1] / "docs" / "coming-from-taskiq.md").read_text()
    assert set(SKIPPED) <= modules
    assert [name for name in SKIPPED if f"`{name}`" not in doc] == []
