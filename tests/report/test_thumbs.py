"""Thumbnails: one file per image (shared by models), reused across builds, placeholders for bad images."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from PIL import Image

from mis.report import build_report
from mis.report._thumbs import encode_thumbnail
from tests.report.schema import items, write_mis_legacy, write_mis_v2

pytestmark = pytest.mark.xdist_group("report")


def _runs(tmp_path: Path) -> tuple[list[Path], Path]:
    data = tmp_path / "data"
    spec = {"easy": items("easy", ["refusal", "attack_success", "refusal"], 0, data),
            "hard": items("hard", ["safe_reasoning", "unknown"], 3, data)}
    a = write_mis_v2(tmp_path / "a", "m/a", spec)
    b = write_mis_legacy(tmp_path / "b", "m/b", spec)  # same samples, same images, other schema
    return [a, b], data


def test_thumbnails_are_shared_cached_and_rebuilt_only_when_an_image_changes(tmp_path: Path) -> None:
    runs, data = _runs(tmp_path)
    out = tmp_path / "report"
    first = build_report(runs, out)
    assert first.thumbs is not None and (first.thumbs.encoded, first.thumbs.reused) == (10, 0)
    files = sorted(p for p in (out / "thumbs").iterdir() if p.name != "cache.json")
    assert len(files) == 10  # 5 samples x 2 images, once for both models
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = build_report(runs, out)
    assert again.thumbs is not None and (again.thumbs.encoded, again.thumbs.reused) == (0, 10)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    changed = data / "hard_image" / "3" / "object1.png"
    Image.new("RGB", (40, 40), (10, 200, 10)).save(changed)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    third = build_report(runs, out)
    assert third.thumbs is not None and (third.thumbs.encoded, third.thumbs.reused) == (1, 9)
    bigger = build_report(runs, out, thumb_px=128)  # another size is another cache entry
    assert bigger.thumbs is not None and bigger.thumbs.encoded == 10


def test_missing_and_broken_images_become_placeholders(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    runs, data = _runs(tmp_path)
    (data / "easy_image" / "1" / "object2.png").unlink()
    (data / "hard_image" / "4" / "object1.png").write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="mis.report"):
        paths = build_report(runs, tmp_path / "report")
    assert paths.thumbs is not None and paths.thumbs.missing == 2 and paths.thumbs.encoded == 8
    messages = [r.getMessage() for r in caplog.records]
    assert any("samples.jsonl:2 (sample easy/1)" in m and "file not found" in m for m in messages)
    assert any("hard_image/4/object1.png" in m and "cannot read image" in m for m in messages)


def test_photos_become_jpeg_and_flat_renders_png(tmp_path: Path) -> None:
    import numpy as np

    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (600, 900, 3), dtype=np.uint8)).save(photo)
    data, ext = encode_thumbnail(photo, 256)
    assert ext == ".jpg"
    with Image.open(__import__("io").BytesIO(data)) as im:
        assert max(im.size) == 256 and im.size == (256, 171)
    flat = tmp_path / "flat.png"
    Image.new("RGBA", (300, 300), (255, 0, 0, 128)).save(flat)
    assert encode_thumbnail(flat, 64)[1] == ".png"
