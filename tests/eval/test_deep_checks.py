"""The image gate's full decode ahead of the requests (`mis.eval._deep_checks`), on real PNG files.

The run-level guarantees (nothing of a sample is sent before its images' full check; stop and skip) are
tested black-box in tests/reliability/test_image_pipeline.py; these pin the pipeline's own edges: a sample
outside the run's order, a wait after close, a failing check, many samples waiting at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mis.data import ImageGate
from mis.data._gate import ImageCheck
from mis.eval import _deep_checks
from mis.eval._deep_checks import DeepChecks, ImageRejected, SampleImages
from tests.fixtures.data import make_png


def _checks(root: Path, n: int, bad: set[int] = frozenset(), on_invalid: str = "skip") -> DeepChecks:
    """``n`` two-image samples ``s1..sn`` after the cheap checks; the samples in ``bad`` have a cut PNG."""
    gate = ImageGate(root)
    deep = DeepChecks("mis", on_invalid, "hint", gates=[gate])
    for i in range(1, n + 1):
        pending, checks = [], []
        for k in (1, 2):
            rel = f"img/{i}/object{k}.png"
            path = make_png(root / rel, i, k)
            if i in bad and k == 2:  # header intact, pixel data cut: only the full decode finds it
                path.write_bytes(path.read_bytes()[:-30])
            check, final = gate.quick(rel)
            assert check.ok and not final
            checks.append(check)
            pending.append((k - 1, gate, rel))

        def describe(cs: list[ImageCheck], uid: str = f"s{i}") -> tuple[list[str], dict[str, Any]]:
            return [f"{uid}: {c.message}" for c in cs if not c.ok], {"uid": uid, "outcome": "invalid"}

        deep.samples[f"s{i}"] = SampleImages(f"s{i}", checks, pending, describe)
    return deep


async def _wait_all(deep: DeepChecks, uids: list[str]) -> dict[str, Any]:
    async def one(uid: str) -> Any:
        try:
            return await deep.wait(uid)
        except ImageRejected as exc:
            return exc

    return dict(zip(uids, await asyncio.gather(*(one(u) for u in uids)), strict=True))


def test_every_sample_gets_its_full_verdicts_and_a_bad_one_is_rejected(tmp_path: Path) -> None:
    deep = _checks(tmp_path, 40, bad={7, 33})
    uids = [f"s{i}" for i in range(1, 41)]
    deep.start(uids)
    got = asyncio.run(_wait_all(deep, list(reversed(uids))))  # awaited in the opposite order
    deep.close()
    for uid, verdict in got.items():
        if uid in ("s7", "s33"):
            assert isinstance(verdict, ImageRejected) and "not sent" in str(verdict)
        else:
            assert [c.ok for c in verdict] == [True, True] and all(c.sha256 for c in verdict), uid
    assert set(deep.invalid) == {"s7", "s33"} and deep.todo == 0
    assert not deep._waiters and not deep._state  # nothing is held per sample once it is done


def test_a_sample_outside_the_order_and_a_wait_after_close_are_still_fully_checked(tmp_path: Path) -> None:
    deep = _checks(tmp_path, 6, bad={2, 5})
    deep.start(["s1"])  # the others are not in this process's order
    got = asyncio.run(_wait_all(deep, ["s1", "s2", "s3"]))
    assert isinstance(got["s2"], ImageRejected) and all(c.sha256 for c in got["s3"])
    deep.close()
    late = asyncio.run(_wait_all(deep, ["s4", "s5"]))  # decoded by the wait itself, never skipped
    assert all(c.sha256 for c in late["s4"]) and isinstance(late["s5"], ImageRejected)


def test_close_wakes_waits_still_queued_and_they_decode_themselves(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_deep_checks, "WORKERS", 0)  # no thread: every queued sample waits for close
    deep = _checks(tmp_path, 3)
    deep.start(["s1", "s2", "s3"])

    async def scenario() -> dict[str, Any]:
        waits = asyncio.ensure_future(_wait_all(deep, ["s1", "s2", "s3"]))
        await asyncio.sleep(0.05)
        assert not waits.done() and set(deep._waiters) == {"s1", "s2", "s3"}
        await asyncio.to_thread(deep.close)
        return await asyncio.wait_for(waits, 30)

    got = asyncio.run(scenario())
    assert all(all(c.ok and c.sha256 for c in checks) for checks in got.values())


def test_stop_rejects_every_later_sample_and_an_error_in_a_check_reaches_its_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = _checks(tmp_path, 3, bad={1}, on_invalid="stop")
    deep.start(["s1"])
    with pytest.raises(ImageRejected, match="s1"):
        asyncio.run(deep.wait("s1"))
    with pytest.raises(ImageRejected, match="run stops at an invalid image"):
        asyncio.run(deep.wait("s2"))
    deep.close()

    broken = _checks(tmp_path / "other", 2)

    def fail(self: ImageGate, raw: str) -> ImageCheck:
        raise RuntimeError(f"checker bug on {raw}")

    monkeypatch.setattr(ImageGate, "check", fail)
    broken.start(["s1", "s2"])
    with pytest.raises(RuntimeError, match="checker bug on img/1/object1.png"):
        asyncio.run(broken.wait("s1"))
    broken.close()
