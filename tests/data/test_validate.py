"""`validate` reports every seeded defect at once, each naming file, sample and field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from mis.cli import app
from mis.data import Problem, validate
from mis.data._validate import RELEASE_SIZES, release_size_warning, validate_report
from tests.fixtures.data import PEAK, make_mis_test_dir, make_png, write_png_bomb


def _edit(path: Path, fn) -> None:
    records = json.loads(path.read_text())
    fn(records)
    path.write_text(json.dumps(records))


def _found(problems: list[Problem]) -> set[tuple[str, str | None, str | None, str]]:
    return {(Path(p.file).name, p.sample_id, p.field, p.code) for p in problems}


def test_clean_fixture_is_valid(mis_test_dir: Path, mis_train_file: Path) -> None:
    assert validate(mis_test_dir) == []
    assert validate(mis_train_file) == []


def test_every_seeded_defect_is_reported_at_once(mis_test_dir: Path, tmp_path: Path) -> None:
    root = mis_test_dir
    (root / "easy_image/1/object1.png").unlink()  # missing image
    (root / "easy_image/2/object2.png").write_bytes(b"not a png at all")  # corrupt image
    png = (root / "hard_image/3/object1.png").read_bytes()
    (root / "hard_image/3/object1.png").write_bytes(png[: len(png) // 2])  # truncated image
    outside = tmp_path / "outside.png"
    outside.write_bytes(png)

    def easy(records: list) -> None:
        records[2]["question"] = "   "  # empty question
        records[3]["category"] = "Violence"  # unknown category (near miss)

    def hard(records: list) -> None:
        records[0]["image_path1"] = "../outside.png"  # escapes the root
        records[1]["image_path2"] = str(outside)  # absolute path
        del records[2]["image_path2"]  # one image where the file has two

    def real(records: list) -> None:
        records[1]["id"] = records[0]["id"]  # duplicate id
        records[0]["sub_category"] = "Erotic Visual Content"  # wrong parent for the category

    _edit(root / "mis_easy.json", easy)
    _edit(root / "mis_hard.json", hard)
    _edit(root / "mis_real.json", real)

    problems = validate(root)
    found = _found(problems)
    expected = {
        ("mis_easy.json", "1", "image_path1", "image_missing"),
        ("mis_easy.json", "2", "image_path2", "image_corrupt"),
        ("mis_easy.json", "3", "question", "empty_field"),
        ("mis_easy.json", "4", "category", "unknown_category"),
        ("mis_hard.json", "1", "image_path1", "path_escape"),
        ("mis_hard.json", "2", "image_path2", "absolute_path"),
        ("mis_hard.json", "3", "image_path1", "image_corrupt"),
        ("mis_hard.json", "3", "image_path2", "image_count"),
        ("mis_real.json", "1", "id", "duplicate_id"),
    }
    assert expected <= found, expected - found
    assert any(p.code == "unknown_category" and p.field == "sub_category" for p in problems)
    unknown = next(p for p in problems if p.field == "category")
    assert "did you mean 'Violent'" in unknown.message
    assert str(unknown).startswith(str(root / "mis_easy.json") + ": sample 4: field 'category': ")


def test_file_that_is_not_json_is_one_problem(mis_test_dir: Path) -> None:
    (mis_test_dir / "mis_real.json").write_text("[{oops")
    (mis_test_dir / "easy_image/1/object2.png").unlink()
    problems = validate(mis_test_dir)
    assert _found(problems) == {
        ("mis_real.json", None, None, "not_json"),
        ("mis_easy.json", "1", "image_path2", "image_missing"),
    }


def test_missing_required_fields_and_bad_types(mis_test_dir: Path) -> None:
    def easy(records: list) -> None:
        del records[0]["id"]
        del records[1]["question"]
        records[2]["image_path1"] = 7
        del records[3]["image_path1"], records[3]["image_path2"]

    _edit(mis_test_dir / "mis_easy.json", easy)
    found = _found(validate(mis_test_dir))
    assert {
        ("mis_easy.json", "#0", "id", "missing_field"),
        ("mis_easy.json", "2", "question", "missing_field"),
        ("mis_easy.json", "3", "image_path1", "bad_type"),
        ("mis_easy.json", "4", "images", "empty_field"),
    } <= found


def test_train_placeholder_mismatch(mis_train_file: Path) -> None:
    def train(records: list) -> None:
        records[1]["conversations"][0]["value"] = "<image>\n<image>\n<image>\nWhat is this?"
        records[2]["image"] = ["images/train_2_1.png"]

    _edit(mis_train_file, train)
    found = _found(validate(mis_train_file))
    assert ("mis_train.json", "1", "conversations", "placeholder_mismatch") in found
    assert ("mis_train.json", "2", "conversations", "placeholder_mismatch") in found


def test_unreadable_source_is_a_problem(tmp_path: Path) -> None:
    problems = validate(tmp_path / "nope" / "nothing" / "here")
    assert [p.code for p in problems] == ["unreadable"]


def test_symlinks_leaving_the_root_are_reported(mis_test_dir: Path, tmp_path: Path) -> None:
    root = mis_test_dir
    secret = make_png(tmp_path / "private" / "secret.png", 5, 1)
    target = root / "easy_image/1/object1.png"
    target.unlink()
    target.symlink_to(secret)  # a file symlink out of the dataset
    shutil.rmtree(root / "hard_image/2")
    (root / "hard_image/2").symlink_to(tmp_path / "private")  # a folder symlink out of the dataset
    (root / "hard_image/2/object1.png").unlink(missing_ok=True)
    make_png(tmp_path / "private" / "object1.png", 6, 1)
    make_png(tmp_path / "private" / "object2.png", 6, 2)
    inside = root / "real_image/1/object2.png"
    inside.unlink()
    inside.symlink_to(root / "real_image/2/object2.png")  # a symlink within the root is fine
    problems = validate(root)
    found = _found(problems)
    assert found == {("mis_easy.json", "1", "image_path1", "path_escape"),
                     ("mis_hard.json", "2", "image_path1", "path_escape"),
                     ("mis_hard.json", "2", "image_path2", "path_escape")}
    assert all("symlink" in p.message and "outside the dataset root" in p.message for p in problems)
    assert validate(root, allow_outside_root=True) == []


def test_corrupt_images_each_name_file_sample_field_and_path(mis_test_dir: Path) -> None:
    root = mis_test_dir
    (root / "easy_image/1/object1.png").write_bytes(b"")  # 0 bytes
    (root / "easy_image/2/object2.png").write_text("plain text named .png\n")
    png = (root / "easy_image/3/object1.png").read_bytes()
    (root / "easy_image/3/object1.png").write_bytes(png[:-30])  # truncated
    write_png_bomb(root / "hard_image/1/object2.png", 30_000, 30_000)  # 900 MP
    Image.new("RGB", (4, 4)).save(root / "hard_image/2/object1.png", format="TIFF")  # wrong format
    problems = validate(root)
    assert _found(problems) == {
        ("mis_easy.json", "1", "image_path1", "image_corrupt"),
        ("mis_easy.json", "2", "image_path2", "image_corrupt"),
        ("mis_easy.json", "3", "image_path1", "image_corrupt"),
        ("mis_hard.json", "1", "image_path2", "image_too_large"),
        ("mis_hard.json", "2", "image_path1", "image_format"),
    }
    by_field = {(p.sample_id, p.field): p.message for p in problems}
    assert "empty file" in by_field[("1", "image_path1")]
    assert "easy_image/1/object1.png" in by_field[("1", "image_path1")]
    assert "not an image" in by_field[("2", "image_path2")]
    assert "truncated" in by_field[("3", "image_path1")] or "ends" in by_field[("3", "image_path1")]
    assert "900,000,000 pixels" in by_field[("1", "image_path2")]
    # --no-decode checks only paths and existence: the content problems are not looked for
    assert validate(root, decode_images=False) == []


def test_zero_records_fail(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "mis_hard.json").write_text("[]")
    problems = validate(root)
    assert [(p.code, p.sample_id) for p in problems] == [("empty_dataset", None)]
    assert "0 records" in problems[0].message


def test_split_sizes_other_than_the_release_warn_but_do_not_fail(mis_test_dir: Path) -> None:
    report = validate_report(mis_test_dir)
    assert report.ok and report.problems == [] and report.samples == {"easy": 4, "hard": 3, "real": 2}
    assert report.images == 18
    assert report.warnings == [
        "split sizes differ from the MIS release: easy 4 (release 1,675), hard 3 (release 510), real 2 "
        "(release 100); expected for your own or a partial dataset, otherwise the download may be incomplete"]
    assert release_size_warning(dict(RELEASE_SIZES)) is None
    assert release_size_warning({"easy": 1675, "hard": 510}) == (
        "split sizes differ from the MIS release: real absent (release 100); expected for your own or a "
        "partial dataset, otherwise the download may be incomplete")
    assert release_size_warning({"train": 3927}) is None
    assert release_size_warning({"benign": 3}) is None


def test_validate_cli_warns_on_split_sizes_and_fails_on_zero_records(mis_test_dir: Path,
                                                                      tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["data", "validate", str(mis_test_dir)], terminal_width=200)
    assert ok.exit_code == 0, ok.output
    assert "warning: split sizes differ from the MIS release: easy 4 (release 1,675)" in ok.stderr
    assert "OK: 9 samples (easy 4, hard 3, real 2), 18 images decode" in ok.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "mis_easy.json").write_text("[]")
    bad = runner.invoke(app, ["data", "validate", str(empty)], terminal_width=200)
    assert bad.exit_code == 3 and "0 records" in bad.output


def test_validate_memory_stays_flat_on_large_images(tmp_path: Path) -> None:
    """Eight 49-megapixel PNGs (~60 KB each on disk): checked one at a time, by streaming, never decoded."""
    root = make_mis_test_dir(tmp_path / "big", n_easy=4, n_hard=0, n_real=0)
    for k in (1, 2):
        for sid in range(1, 5):
            write_png_bomb(root / f"easy_image/{sid}/object{k}.png", 7_000, 7_000)
    probe = (PEAK + "import sys, json; from mis.data import validate; p = validate(sys.argv[1]); "
             "print(json.dumps([len(p), peak_kb()]))")
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True)
    n_problems, peak_kb = json.loads(out.stdout)
    assert n_problems == 0
    # decoding them (as PIL does: 49 MB each in mode "1") would need ~49 MB per image in flight
    assert peak_kb < 120_000, f"peak RSS {peak_kb / 1024:.0f} MB"  # 39 MB measured; 217 MB before
