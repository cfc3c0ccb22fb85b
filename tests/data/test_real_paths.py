"""`RealPaths` gives `os.path.realpath`'s answer while resolving each folder once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mis._util import paths
from mis._util.paths import RealPaths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Folders, a folder symlink (absolute and relative), file symlinks and a dangling link."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.png").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "relb").symlink_to("a/b")
    (tmp_path / "a" / "b" / "abs.png").symlink_to(tmp_path / "a" / "b" / "f.png")
    (tmp_path / "a" / "b" / "rel.png").symlink_to("../b/f.png")
    (tmp_path / "dangling").symlink_to("nowhere")
    return tmp_path


def _cases(d: Path) -> list[str]:
    return [f"{d}/a/b/f.png", f"{d}/link/b/f.png", f"{d}/link/b/abs.png", f"{d}/link/b/rel.png",
            f"{d}/relb/f.png", f"{d}/a//b/./f.png", f"{d}/a/b/", f"{d}/a/b/.", f"{d}/link/../a/b/f.png",
            f"{d}/missing/x.png", f"{d}/dangling/x.png", "relative/x.png", "/"]


def test_same_answer_as_realpath_through_every_kind_of_link(tree: Path) -> None:
    resolve = RealPaths()
    for path in _cases(tree) * 2:  # the second pass answers from the remembered folders
        assert resolve(path) == os.path.realpath(path), path
    assert resolve(Path(tree, "link", "b", "f.png")) == str(tree.resolve() / "a" / "b" / "f.png")


def test_a_full_folder_memory_starts_over_and_stays_right(tree: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "MAX_FOLDERS", 2)
    resolve = RealPaths()
    for path in _cases(tree) * 3:
        assert resolve(path) == os.path.realpath(path), path
    assert len(resolve._folders) <= 2
