"""Which file changes reload `zq worker --reload`."""

import sqlite3
from pathlib import Path

from zq.worker.reload import ChangeFilter


def test_gitignored_compiled_and_vcs_paths_do_not_reload(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    accept = ChangeFilter([str(tmp_path)])
    assert accept.relevant(str(tmp_path / "app" / "tasks.py"))
    assert accept.relevant(str(tmp_path / "keep.log"))  # negated in .gitignore
    for ignored in (
        "build/out.py",
        "run.log",
        "app/__pycache__/tasks.cpython-311.pyc",
        ".git/index",
        "tasks.py~",
        "app/tasks.pyc",
    ):
        assert not accept.relevant(str(tmp_path / ignored)), ignored


def test_do_not_use_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n")
    accept = ChangeFilter([str(tmp_path)], use_gitignore=False)
    assert accept.relevant(str(tmp_path / "run.log"))
    assert not accept.relevant(str(tmp_path / "__pycache__" / "x.pyc"))


def test_zqs_own_sqlite_files_never_reload_whatever_their_names(tmp_path: Path) -> None:
    accept = ChangeFilter([str(tmp_path)], use_gitignore=False)
    for name in ("zq-dispatcher.db", "state", "data/schedules.sqlite3"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        with sqlite3.connect(path) as db:
            db.execute("create table t (x)")
        assert not accept.relevant(str(path)), name
    for side in ("zq-dispatcher.db-wal", "zq-dispatcher.db-shm", "state-journal"):
        assert not accept.relevant(str(tmp_path / side))
    (tmp_path / "settings.toml").write_text("x = 1")
    assert accept.relevant(str(tmp_path / "settings.toml"))
