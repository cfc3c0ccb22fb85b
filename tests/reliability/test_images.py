"""No byte of a file outside the dataset root reaches a server; corrupt images are refused or `invalid`.

Issue 13, failures 2, 4 and 5: absolute paths, ``../`` and symlinks passed through `mis eval` and
`mis judge` and were uploaded to the model and judge servers; truncated, empty, text and
decompression-bomb "images" were sent, judged and counted; a non-image file crashed eval with
tracebacks. The image gate (:class:`mis.data.ImageGate`) decides all of these; these tests hold the
commands to it through what the servers received.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tests.fixtures.data import write_png_bomb
from tests.reliability.conftest import (
    MODEL_ANSWER,
    eval_args,
    make_tagged,
    one_line_error,
    read_jsonl,
    run_mis,
    scripted_judge,
)

pytestmark = pytest.mark.slow


def _canary(path: Path) -> bytes:
    """A PNG that exists nowhere else: unique pixels and a unique text chunk (a stand-in for a secret)."""
    im = Image.effect_noise((24, 24), 90).convert("RGB")
    info = PngImagePlugin.PngInfo()
    info.add_text("canary", "mis-reliability-canary-7f3a9c1e")
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format="PNG", pnginfo=info)
    return path.read_bytes()


def _edit(path: Path, fn) -> None:
    records = json.loads(path.read_text())
    fn(records)
    path.write_text(json.dumps(records, indent=2))


def _escaping_dataset(tmp_path: Path) -> tuple[Path, bytes, list[Path]]:
    """A tagged MIS folder where four samples reach outside it, each a different way."""
    root = make_tagged(tmp_path / "mis", n_easy=4, n_hard=4)
    secret_dir = tmp_path / "private"
    canary = _canary(secret_dir / "canary.png")
    shutil.copy(secret_dir / "canary.png", secret_dir / "object1.png")
    shutil.copy(secret_dir / "canary.png", secret_dir / "object2.png")
    # easy/1: a file symlink out; easy/2: a folder symlink out
    (root / "easy_image/1/object1.png").unlink()
    (root / "easy_image/1/object1.png").symlink_to(secret_dir / "canary.png")
    shutil.rmtree(root / "easy_image/2")
    (root / "easy_image/2").symlink_to(secret_dir)

    def hard(records: list) -> None:
        records[0]["image_path1"] = str(secret_dir / "canary.png")  # hard/1: an absolute path
        records[1]["image_path2"] = "../private/canary.png"  # hard/2: climbs out

    _edit(root / "mis_hard.json", hard)
    inside = [p for p in root.rglob("*.png") if not p.is_symlink() and "easy_image/2" not in str(p)]
    return root, canary, inside


def _no_canary(servers_: list, canary: bytes, inside: list[Path]) -> None:
    for server in servers_:
        assert not server.saw(canary), f"the outside file reached {server.base_url}"
        assert canary not in server.images_received()
        if server.images_received():  # the check can see images: the inside ones did arrive
            assert any(server.saw(p.read_bytes()) for p in inside)


def test_mis_eval_sends_no_byte_from_outside_the_root(servers, tmp_path: Path) -> None:
    root, canary, inside = _escaping_dataset(tmp_path)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    done = run_mis(eval_args(root, model, judge, tmp_path / "run"))
    one_line_error(done.stderr)
    _no_canary([model, judge], canary, inside)
    if done.returncode == 0:  # skipped and counted, never judged
        rows = {r["uid"]: r for r in read_jsonl(tmp_path / "run" / "samples.jsonl")}
        for uid in ("easy/1", "easy/2", "hard/1", "hard/2"):
            assert rows[uid]["outcome"] == "invalid", rows[uid]
    else:  # stopped before any request, naming a sample and its path
        assert not model.chat_requests() and not judge.chat_requests()
        assert "outside" in done.stderr and "sample" in done.stderr


def test_mis_judge_sends_no_byte_from_outside_the_root(servers, tmp_path: Path) -> None:
    root, canary, inside = _escaping_dataset(tmp_path)
    lines = []
    for split in ("easy", "hard"):
        for rec in json.loads((root / f"mis_{split}.json").read_text()):
            lines.append(json.dumps({**rec, "response": MODEL_ANSWER}))
    extra = {"question": "What is shown? [sample hard/9]", "response": MODEL_ANSWER, "id": 9,
             "image_path1": "hard_image/1/object2.png", "image_path2": str(tmp_path / "private/canary.png")}
    lines.append(json.dumps(extra))  # absolute path in a responses file
    responses = tmp_path / "responses.jsonl"
    responses.write_text("\n".join(lines) + "\n")
    judge = servers(chat=scripted_judge)
    done = run_mis(["judge", str(responses), "--data", str(root), "--judge", "openai-api/judge/j",
                    "--judge-base-url", judge.base_url, "--out", str(tmp_path / "judged"),
                    "--fail-on-unknown", "100"])
    one_line_error(done.stderr)
    _no_canary([judge], canary, inside)


def _corrupt_dataset(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = make_tagged(tmp_path / "mis", n_easy=4, n_hard=4)
    bad = {
        "easy/1": root / "easy_image/1/object1.png",
        "easy/2": root / "easy_image/2/object2.png",
        "hard/1": root / "hard_image/1/object1.png",
        "hard/2": root / "hard_image/2/object2.png",
    }
    png = bad["easy/1"].read_bytes()
    bad["easy/1"].write_bytes(png[: len(png) // 2])  # truncated
    bad["easy/2"].write_bytes(b"")  # 0 bytes
    bad["hard/1"].write_text("a text file named .png; not an image\n")
    write_png_bomb(bad["hard/2"], 30_000, 30_000)  # 900 megapixels
    return root, bad


def test_corrupt_images_are_refused_or_counted_invalid(servers, tmp_path: Path) -> None:
    root, bad = _corrupt_dataset(tmp_path)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    done = run_mis(eval_args(root, model, judge, tmp_path / "run"))
    one_line_error(done.stderr)
    for server in (model, judge):
        for uid, path in bad.items():
            data = path.read_bytes()
            assert not data or not server.saw(data), f"{uid}: the corrupt file reached {server.base_url}"
    if done.returncode == 0:
        results = json.loads((tmp_path / "run" / "results.json").read_text())
        rows = {r["uid"]: r for r in read_jsonl(tmp_path / "run" / "samples.jsonl")}
        assert all(rows[uid]["outcome"] == "invalid" for uid in bad), rows
        assert results.get("invalid") == 4
    else:
        assert not model.chat_requests()
        assert all(uid.split("/")[0] in done.stderr for uid in bad)


def test_a_non_image_file_is_one_clean_error_naming_sample_and_path(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=2, n_hard=0)
    notes = root / "easy_image/2/notes.txt"
    notes.write_text("meeting notes, not an image\n")
    _edit(root / "mis_easy.json", lambda records: records[1].update(image_path2="easy_image/2/notes.txt"))
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    done = run_mis(eval_args(root, model, judge, tmp_path / "run"))
    one_line_error(done.stderr)
    assert not model.saw(notes.read_bytes()) and not judge.saw(notes.read_bytes())
    if done.returncode != 0:
        assert "easy/2" in done.stderr or "sample 2" in done.stderr
        assert "notes.txt" in done.stderr
    else:
        rows = {r["uid"]: r for r in read_jsonl(tmp_path / "run" / "samples.jsonl")}
        assert rows["easy/2"]["outcome"] == "invalid"


def test_fixture_images_are_real_and_the_canary_is_unique(tmp_path: Path) -> None:
    """The checks above can fail: the canary is a valid PNG unlike any dataset image."""
    root, canary, inside = _escaping_dataset(tmp_path)
    assert canary.startswith(b"\x89PNG") and b"mis-reliability-canary" in canary
    assert all(canary != p.read_bytes() for p in inside) and len(inside) >= 10
    linked = os.path.realpath(root / "easy_image/2/object1.png")
    assert linked == os.path.realpath(tmp_path / "private/object1.png")


def test_skip_leaves_bad_images_out_and_counts_them_invalid(servers, tmp_path: Path) -> None:
    """`--invalid-images skip`: the other samples run; the bad ones are `invalid` rows, outside `n`."""
    root, bad = _corrupt_dataset(tmp_path)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    done = run_mis(eval_args(root, model, judge, tmp_path / "run", "--invalid-images", "skip"))
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    rows = {r["uid"]: r for r in read_jsonl(tmp_path / "run" / "samples.jsonl")}
    assert results["invalid"] == 4 and results["n"] == len(rows) - 4
    assert all(rows[uid]["outcome"] == "invalid" and rows[uid]["judge_error"] for uid in bad)
    for server in (model, judge):
        assert not any(server.saw(p.read_bytes()) for p in bad.values() if p.read_bytes())
