"""Watching the source for ``zq worker --reload``: which changes count, and the watchdog glue.

A change counts unless it is under ``__pycache__`` or ``.git``, is a compiled or editor temp
file, is a SQLite database or one of its side files (zq's journal, schedule state and schedule
source are SQLite files, named as the user likes and written while the worker runs), or (unless
``--do-not-use-gitignore``) matches the ``.gitignore`` of the watched directory. Directory
events never count (a file's change is reported for itself), so the bytecode a restarted child
writes cannot trigger another reload.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pathspec
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

ALWAYS_IGNORED_DIRS = {"__pycache__", ".git", ".hg", ".mypy_cache", ".ruff_cache", ".venv"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~", ".tmp", "-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a SQLite database (by its first bytes, whatever its name)."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # gone already, or not a regular file
        return False


class ChangeFilter:
    """Decides whether a changed path should reload the workers."""

    def __init__(self, roots: list[str], *, use_gitignore: bool = True) -> None:
        self.roots = [Path(root).resolve() for root in roots]
        self._specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
        if use_gitignore:
            for root in self.roots:
                ignore = root / ".gitignore"
                if ignore.is_file():
                    lines = ignore.read_text(errors="replace").splitlines()
                    self._specs.append((root, pathspec.GitIgnoreSpec.from_lines(lines)))

    def relevant(self, path: str) -> bool:
        """True if a change to ``path`` should trigger a reload."""
        resolved = Path(os.path.abspath(path))
        if ALWAYS_IGNORED_DIRS & set(resolved.parts) or resolved.name.endswith(IGNORED_SUFFIXES):
            return False
        if is_sqlite(resolved):
            return False
        for root, spec in self._specs:
            try:
                relative = resolved.relative_to(root)
            except ValueError:
                continue
            if spec.match_file(relative.as_posix()):
                return False
        return True


class _Handler(FileSystemEventHandler):
    def __init__(self, accept: ChangeFilter, callback: Callable[[str], None]) -> None:
        self.accept = accept
        self.callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if path and self.accept.relevant(path):
                self.callback(path)
                return


def watch(accept: ChangeFilter, callback: Callable[[str], None]) -> BaseObserver:
    """Start a watchdog observer over ``accept.roots``; ``callback`` runs in its thread."""
    observer = Observer()
    handler = _Handler(accept, callback)
    for root in accept.roots:
        observer.schedule(handler, str(root), recursive=True)
    observer.daemon = True
    observer.start()
    return observer
