"""Atomic writes raced on one path: every rename is of a whole file of its own, and nothing is left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mis._util.io import write_atomic


def test_writers_racing_on_one_path_never_trample_each_other(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    texts = [f"writer {w}: " + str(w) * 20_000 + "\n" for w in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(texts))

    def writer(text: str) -> None:
        start.wait()
        try:
            for _ in range(150):
                write_atomic(target, text)
                assert target.read_text(encoding="utf-8") in texts  # a whole file, never a mix
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text(encoding="utf-8") in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    write_atomic(target, "old\n")
    mode = os.stat(target).st_mode & 0o777

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert mode == 0o666 & ~_umask_now()  # the usual mode of a new file, not mkstemp's 0600


def _umask_now() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
