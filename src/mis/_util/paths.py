"""Real paths of many files in few folders, each folder resolved once.

``os.path.realpath`` walks every component of a path with an ``lstat``; a run resolves each image several
times (the gate's cheap and full checks, the sample's metadata), and a dataset keeps thousands of images in
a few folder levels. Resolving the folder once and checking only the last component gives the same answer.
"""

from __future__ import annotations

import os

#: Folders a resolver remembers before it starts over (bounds memory with a folder per sample).
MAX_FOLDERS = 4096


class RealPaths:
    """``os.path.realpath`` with each folder's real path remembered (for one run: symlinks do not change)."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike[str]) -> str:
        """The real path of ``path`` (absolute, symlinks followed), as ``os.path.realpath`` gives it."""
        raw = os.fspath(path)
        full = raw if os.path.isabs(raw) else os.path.join(os.getcwd(), raw)
        parts = [p for p in full.split(os.sep) if p not in ("", ".")]
        if not parts or ".." in parts:  # ".." after a symlink is not lexical: the plain walk decides
            return os.path.realpath(full)
        return self._follow(self._folder(os.sep + os.sep.join(parts[:-1]), parts[:-1]), parts[-1])

    def _folder(self, key: str, parts: list[str]) -> str:
        """The real path of the folder ``parts`` (``key``: its joined form), from its parent's."""
        real = self._folders.get(key)
        if real is None:
            if not parts:
                return os.sep
            parent = parts[:-1]
            real = self._follow(self._folder(os.sep + os.sep.join(parent), parent), parts[-1])
            if len(self._folders) >= MAX_FOLDERS:
                self._folders.clear()
            self._folders[key] = real
        return real

    @staticmethod
    def _follow(real_folder: str, name: str) -> str:
        candidate = os.path.join(real_folder, name)
        return os.path.realpath(candidate) if os.path.islink(candidate) else candidate
