"""The image gate: where an image may live, what it must be, how big, and that it decodes completely."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mis.data import GATE_CODES, GateCache, ImageGate, check_image, image_ref
from tests.fixtures.data import PEAK, make_png, write_png_bomb


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    make_png(root / "img" / "ok.png", 1, 1, size=64)
    return root


def _png_bytes(mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> bytes:
    """A small PNG of ``mode`` with varied pixels (so its zlib stream is not trivial)."""
    im = Image.effect_noise(size, 60).convert("L")
    im = im.convert("RGB") if mode == "RGB" else im.quantize(16) if mode == "P" else im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# -- where: the dataset root, symlinks followed ----------------------------------------------------------
def test_inside_root_is_ok_and_reports_size_format_and_sha256(root: Path) -> None:
    check = ImageGate(root).check("img/ok.png")
    data = (root / "img/ok.png").read_bytes()
    assert check.ok and check.code is None and check.message == ""
    assert (check.format, check.width, check.height, check.size) == ("PNG", 64, 64, len(data))
    assert check.sha256 == hashlib.sha256(data).hexdigest()
    assert check.resolved == os.path.realpath(root / "img/ok.png")


def test_every_way_out_of_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    secret = make_png(tmp_path / "secret.png", 9, 1)
    (root / "img" / "link.png").symlink_to(secret)  # a file symlink leading out
    (root / "linkdir").symlink_to(tmp_path)  # a folder symlink leading out
    gate = ImageGate(root)
    for raw, how in [("../secret.png", "climbs"), (str(secret), "absolute"), ("img/link.png", "symlink"),
                     ("linkdir/secret.png", "symlink"), ("img/../../secret.png", "climbs")]:
        check = gate.check(raw)
        assert check.code == "outside_root", raw
        assert raw in check.message and how in check.message and "--allow-outside-root" in check.message
        assert check.sha256 is None and check.size is None  # nothing about the outside file is read
    # the same paths are fine when the caller explicitly allows outside paths
    assert all(ImageGate(root, allow_outside=True).check(r).ok for r in ("../secret.png", "img/link.png"))


def test_outside_root_is_decided_before_existence(root: Path) -> None:
    assert ImageGate(root).check("../does-not-exist.png").code == "outside_root"  # nothing leaks


def test_absolute_path_and_symlink_inside_the_root_are_fine(root: Path) -> None:
    (root / "img" / "alias.png").symlink_to(root / "img" / "ok.png")
    gate = ImageGate(root)
    assert gate.check(str((root / "img/ok.png").absolute())).ok
    assert gate.check("img/alias.png").ok


def test_hub_snapshot_links_into_its_blobs_are_inside(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "datasets--Tuwhy--MIS_Test"
    blob = make_png(repo / "blobs" / "3f2a9c", 1, 2)
    snap = repo / "snapshots" / "abc123"
    (snap / "hard_image" / "1").mkdir(parents=True)
    (snap / "hard_image" / "1" / "object1.png").symlink_to(os.path.relpath(blob, snap / "hard_image" / "1"))
    other = make_png(tmp_path / "hub" / "datasets--x--y" / "blobs" / "ffff", 1, 2)
    (snap / "hard_image" / "1" / "object2.png").symlink_to(other)  # another repo's blob: outside
    gate = ImageGate(snap)
    assert gate.check("hard_image/1/object1.png").ok
    assert gate.check("hard_image/1/object2.png").code == "outside_root"


# -- what: exists, is an image of an allowed format --------------------------------------------------
def test_missing_empty_text_folder_and_format(root: Path) -> None:
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("this is not an image, only text named .png\n")
    (root / "folder.png").mkdir()
    Image.new("RGB", (8, 8)).save(root / "pic.tiff", format="TIFF")
    gate = ImageGate(root)
    names = ("nope.png", "empty.png", "text.png", "folder.png", "pic.tiff")
    codes = {raw: gate.check(raw).code for raw in names}
    assert codes == {"nope.png": "not_found", "empty.png": "not_an_image", "text.png": "not_an_image",
                     "folder.png": "not_found", "pic.tiff": "bad_format"}
    assert "TIFF" in gate.check("pic.tiff").message and "pic.tiff" in gate.check("pic.tiff").message
    assert ImageGate(root, formats=["PNG", "TIFF"]).check("pic.tiff").ok
    assert ImageGate(root, formats=["JPEG"]).check("img/ok.png").code == "bad_format"
    assert gate.check("").code == "not_found"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_each_allowed_format_passes_and_its_truncation_is_refused(root: Path, fmt: str) -> None:
    im = Image.effect_noise((96, 64), 40).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    data = buf.getvalue()
    (root / f"x.{fmt.lower()}").write_bytes(data)
    (root / f"cut.{fmt.lower()}").write_bytes(data[: len(data) // 2])
    gate = ImageGate(root)
    check = gate.check(f"x.{fmt.lower()}")
    assert check.ok and check.format == fmt and (check.width, check.height) == (96, 64), check
    assert gate.check(f"cut.{fmt.lower()}").code in ("truncated", "corrupt")


# -- how big: the pixel budget, from the header, before decoding ----------------------------------------
def test_a_900_megapixel_bomb_is_refused_without_allocating_it(tmp_path: Path) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png", 30_000, 30_000)
    assert bomb.stat().st_size < 400_000  # ~110 KB on disk, 900 MB as pixels
    probe = (PEAK + "import sys, json; from mis.data import check_image; "
             "c = check_image(sys.argv[1], sys.argv[2]); "
             "print(json.dumps([c.code, c.message, peak_kb()]))")
    out = subprocess.run([sys.executable, "-c", probe, "bomb.png", str(tmp_path)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "default"})
    code, message, peak_kb = json.loads(out.stdout)
    assert code == "too_many_pixels" and "30000 x 30000" in message and "bomb.png" in message
    assert peak_kb < 250_000, f"peak RSS {peak_kb} KB: the bomb was decoded"
    assert "DecompressionBomb" not in out.stderr  # PIL's warning is turned into the refusal, not printed


def test_budget_is_the_callers_and_pil_bomb_warning_is_a_refusal(root: Path, tmp_path: Path) -> None:
    assert ImageGate(root, max_pixels=64 * 64).check("img/ok.png").ok
    small = ImageGate(root, max_pixels=64 * 64 - 1).check("img/ok.png")
    assert small.code == "too_many_pixels" and "4,096" in small.message
    # 90 MP is over PIL's own warning threshold (89.5 MP): with a larger budget PIL's bomb check still refuses
    write_png_bomb(root / "big.png", 10_000, 9_000)
    with _no_bomb_warning():
        assert ImageGate(root, max_pixels=200_000_000).check("big.png").code == "too_many_pixels"
    with pytest.raises(ValueError, match="max_pixels"):
        ImageGate(root, max_pixels=0)


@contextmanager
def _no_bomb_warning() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert not [w for w in caught if "Bomb" in w.category.__name__], caught


# -- whole: PNG integrity by streaming ------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["rgb", "rgba16", "palette", "gray1", "interlaced", "gray_alpha"])
def test_png_variants_pass(root: Path, variant: str) -> None:
    data = {
        "rgb": lambda: _png_bytes("RGB"),
        "rgba16": lambda: _png_bytes("I;16"),
        "palette": lambda: _png_bytes("P"),
        "gray1": lambda: _png_bytes("1", (33, 7)),
        "interlaced": _interlaced,
        "gray_alpha": _la,
    }[variant]()
    (root / "v.png").write_bytes(data)
    check = ImageGate(root).check("v.png")
    assert check.ok, check.message
    with Image.open(root / "v.png") as im:
        im.load()


def _interlaced() -> bytes:
    """An Adam7-interlaced RGB PNG written by hand (PIL does not write interlaced PNGs)."""
    w, h = 13, 11
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        pw = len(range(x0, w, dx))
        ph = len(range(y0, h, dy))
        if pw and ph:
            for _ in range(ph):
                raw += b"\x00" + bytes((i * 5) % 256 for i in range(pw * 3))
    return _chunks(struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1), zlib.compress(raw))


def _la() -> bytes:
    w, h = 5, 4
    raw = b"".join(b"\x00" + bytes([10, 200] * w) for _ in range(h))
    return _chunks(struct.pack(">IIBBBBB", w, h, 8, 4, 0, 0, 0), zlib.compress(raw))


def _chunks(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_png_that_pil_would_load_but_is_incomplete_is_refused(root: Path) -> None:
    data = (root / "img/ok.png").read_bytes()
    (root / "no_iend.png").write_bytes(data[:-12])  # PIL's load() accepts this; the gate does not
    w, h = 8, 8
    short = _chunks(struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0), zlib.compress(b"\x00" + b"\x07" * w))
    (root / "short.png").write_bytes(short)  # one row of eight
    bad_filter = _chunks(struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0),
                         zlib.compress(b"".join(b"\x09" + b"\x07" * w for _ in range(h))))
    (root / "filter.png").write_bytes(bad_filter)
    gate = ImageGate(root)
    assert gate.check("no_iend.png").code == "truncated"
    assert gate.check("short.png").code == "truncated" and "ends early" in gate.check("short.png").message
    assert gate.check("filter.png").code == "corrupt"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0, max_value=10_000),
       bit=st.integers(min_value=0, max_value=7), variant=st.sampled_from(["rgb", "palette", "interlaced"]))
def test_any_truncation_or_bit_flip_of_a_png_is_refused(tmp_path: Path, cut: int, flip: int, bit: int,
                                                       variant: str) -> None:
    """Every byte of a PNG up to IEND is checked: any cut and any single bit flip is refused."""
    makers = {"rgb": lambda: _png_bytes("RGB"), "palette": lambda: _png_bytes("P"), "interlaced": _interlaced}
    data = makers[variant]()
    folder = tmp_path / f"p{cut}-{flip}-{bit}-{variant}"
    folder.mkdir(exist_ok=True)
    (folder / "cut.png").write_bytes(data[: cut % len(data)])
    flipped = bytearray(data)
    flipped[flip % len(data)] ^= 1 << bit
    (folder / "flip.png").write_bytes(bytes(flipped))
    gate = ImageGate(folder)
    assert gate.check("cut.png").code in ("truncated", "not_an_image", "corrupt")
    assert gate.check("flip.png").code in ("truncated", "not_an_image", "corrupt")


# -- the cache and the references ------------------------------------------------------------------------
def test_cache_skips_unchanged_files_and_notices_changes(root: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "run" / "image_gate.json"
    (root / "bad.png").write_bytes(b"junk")
    gate = ImageGate(root, cache=cache_file)
    first = [gate.check(p) for p in ("img/ok.png", "bad.png")]
    gate.save()
    assert json.loads(cache_file.read_text())["version"] == 1
    again = ImageGate(root, cache=cache_file)
    assert [again.check(p) for p in ("img/ok.png", "bad.png")] == first
    assert again.cache is not None and (again.cache.hits, again.cache.misses) == (2, 0)
    make_png(root / "bad.png", 3, 1)  # fixed: size and mtime change, so the verdict is redone
    os.utime(root / "bad.png", ns=(1, 1))
    assert again.check("bad.png").ok and again.cache.misses == 1
    # other settings do not trust the cached verdicts
    strict = ImageGate(root, cache=GateCache(cache_file), max_pixels=10)
    assert strict.check("img/ok.png").code == "too_many_pixels"
    # the root rule is never cached
    assert ImageGate(tmp_path, cache=cache_file).check(str(root / "img/ok.png")).ok
    assert ImageGate(root / "img", cache=cache_file).check("../bad.png").code == "outside_root"


def test_a_damaged_cache_file_is_ignored(root: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "image_gate.json"
    cache_file.write_text("{not json")
    gate = ImageGate(root, cache=cache_file)
    assert gate.check("img/ok.png").ok
    gate.save()
    assert json.loads(cache_file.read_text())["entries"]


def test_image_ref_and_check_image(root: Path) -> None:
    ref = image_ref(root / "img/ok.png")
    data = (root / "img/ok.png").read_bytes()
    assert (ref.sha256, ref.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert ref.path == os.path.realpath(root / "img/ok.png")
    assert check_image("img/ok.png", root).sha256 == ref.sha256
    assert set(GATE_CODES) >= {"outside_root", "not_found", "not_an_image", "truncated", "too_many_pixels",
                               "bad_format"}


def test_problem_names_file_sample_and_field(root: Path) -> None:
    check = ImageGate(root).check("missing.png")
    problem = check.problem("mis_hard.json", "7", "image_path2")
    assert str(problem) == f"mis_hard.json: sample 7: field 'image_path2': {check.message}"
    assert problem.code == "not_found" and "missing.png" in problem.message


def test_two_runs_saving_one_cache_keep_both_runs_verdicts(root: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "shared" / "gate.json"
    (root / "two.png").write_bytes((root / "img/ok.png").read_bytes())
    first, second = ImageGate(root, cache=cache_file), ImageGate(root, cache=cache_file)
    assert first.check("img/ok.png").ok and second.check("two.png").ok
    first.save()
    second.save()  # loaded before the first saved: merges instead of dropping the first run's verdict
    entries = json.loads(cache_file.read_text())["entries"]
    assert {os.path.realpath(root / "img/ok.png"), os.path.realpath(root / "two.png")} <= set(entries)
    assert not list(cache_file.parent.glob("*.tmp"))


def test_eval_gate_verdicts_are_shared_per_dataset_and_never_trusted_for_a_changed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mis.data import load
    from mis.data import shared_cache_path as shared_gate_cache
    from mis.errors import DataError
    from mis.eval._samples import ImagePolicy, gate_samples
    from mis.eval.benchmarks import get
    from tests.fixtures.data import make_mis_test_dir

    monkeypatch.setenv("MIS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_mis_test_dir(tmp_path / "data", n_easy=0, n_hard=3, n_real=0)
    samples = list(load(str(data), splits=["hard"]).samples)
    kept, invalid = gate_samples(get("mis"), str(data), samples, ImagePolicy())
    assert len(kept) == 3 and not invalid
    want = [[hashlib.sha256(p.read_bytes()).hexdigest() for p in s.image_paths()] for s in samples]
    assert [s.metadata["image_sha256"] for s in kept] == want  # what samples.jsonl records, read once
    cache = shared_gate_cache(data)
    assert cache.parent == tmp_path / "cache" / "image_gate"
    assert len(json.loads(cache.read_text())["entries"]) == 6
    bad = samples[1].image_paths()[0]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # truncated after the first run checked it
    with pytest.raises(DataError, match=r"sample hard/2: field 'images' \(image 1 of 2\).*truncated|ends"):
        gate_samples(get("mis"), str(data), samples, ImagePolicy())


def test_validate_fills_the_cache_that_evaluation_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mis.data._gate as gate_module
    from mis.data import GateCache, load, shared_cache_path, validate
    from mis.eval._samples import ImagePolicy, gate_samples
    from mis.eval.benchmarks import get
    from tests.fixtures.data import make_mis_test_dir

    monkeypatch.setenv("MIS_CACHE_DIR", str(tmp_path / "cache"))
    data = make_mis_test_dir(tmp_path / "data", n_easy=0, n_hard=2, n_real=0)
    assert validate(data) == []
    assert len(GateCache(shared_cache_path(data)).entries) == 4  # every image decoded once, by validate

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluation decoded an image that validate had already checked")

    monkeypatch.setattr(gate_module, "_content_check", no_decoding)
    samples = list(load(str(data), splits=["hard"]).samples)
    kept, invalid = gate_samples(get("mis"), str(data), samples, ImagePolicy())
    want = [[hashlib.sha256(p.read_bytes()).hexdigest() for p in s.image_paths()] for s in samples]
    assert not invalid and [s.metadata["image_sha256"] for s in kept] == want



@pytest.mark.parametrize("inflater", ["zlib", "isal"])
def test_a_highly_compressed_image_decodes_with_either_inflater(root: Path, inflater: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """3 KB of IDAT inflating to 1.7 MB (a plain 760 px render): ISA-L takes the whole input at once and
    hands out what is over each call's max_length on later calls, with no unconsumed input left."""
    from mis.data import _gate

    lib = pytest.importorskip("isal.isal_zlib") if inflater == "isal" else zlib
    monkeypatch.setattr(_gate, "_INFLATE", lib)
    Image.new("RGB", (760, 760), "white").save(root / "white.png")
    check = ImageGate(root).check("white.png")
    assert check.ok, check.message
    assert (check.width, check.height) == (760, 760)
    png = (root / "white.png").read_bytes()
    (root / "cut.png").write_bytes(png[: len(png) - 40])  # inside the IDAT: refused, not hung
    assert ImageGate(root).check("cut.png").code in ("truncated", "corrupt")
