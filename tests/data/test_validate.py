"""`validate` reports every seeded defect at once, each naming file, sample and field."""

from __future__ import annotations

import json
from pathlib import Path

from mis.data import Problem, validate


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
