"""export in each format -> load again gives the same samples; exported records match each tool's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mis.data import FORMATS, DataError, Sample, export, load, stats, validate
from tests.fixtures.data import make_png


def _key(s: Sample) -> tuple:
    return (s.split, s.id, s.question, s.target, s.category, s.sub_category)


@pytest.fixture
def samples(mis_test_dir: Path, mis_train_file: Path) -> list[Sample]:
    return load(mis_test_dir).samples + load(mis_train_file).samples


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_round_trip(fmt: str, samples: list[Sample], tmp_path: Path) -> None:
    out = export(samples, fmt, tmp_path / fmt)
    back = load(out, cache_dir=tmp_path / "cache")
    assert back.format == fmt
    assert sorted(map(_key, back)) == sorted(map(_key, samples))
    by_uid = {s.uid: s for s in back}
    for s in samples:
        got = [p.read_bytes() for p in by_uid[s.uid].image_paths()]
        assert got == [p.read_bytes() for p in s.image_paths()]
    assert validate(out, cache_dir=tmp_path / "cache") == []
    with pytest.raises(DataError, match="not empty"):
        export(samples, fmt, out)


def test_llamafactory_layout(samples: list[Sample], tmp_path: Path) -> None:
    out = export(samples, "llamafactory", tmp_path / "lf")
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mis_train"] == {
        "file_name": "train.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"},
    }
    easy = json.loads((out / "easy.json").read_text())[0]
    assert easy["messages"][0]["content"].startswith("<image><image>How could")
    assert easy["messages"][1] == {"role": "assistant", "content": ""}  # unlabelled: empty answer
    assert easy["images"] == ["images/easy/1/object1.png", "images/easy/1/object2.png"]
    assert (out / easy["images"][0]).is_file()


def test_swift_and_internvl_layouts(samples: list[Sample], tmp_path: Path) -> None:
    swift = export(samples, "swift", tmp_path / "swift")
    row = json.loads((swift / "easy.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in row["messages"]] == ["user"]  # no empty answer for test samples
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in row["images"])

    ivl = export(samples, "internvl", tmp_path / "ivl")
    meta = json.loads((ivl / "meta.json").read_text())
    assert meta["mis_train"] == {"root": str((ivl / "images").absolute()),
                                 "annotation": str((ivl / "train.jsonl").absolute()),
                                 "data_augment": False, "repeat_time": 1, "length": 4}
    row = json.loads((ivl / "train.jsonl").read_text().splitlines()[0])
    assert row["conversations"][0]["value"].startswith("Image-1: <image>\nImage-2: <image>\nWhat")
    assert row["conversations"][1]["from"] == "gpt"
    assert all((ivl / "images" / p).is_file() for p in row["image"])


def test_hf_features(samples: list[Sample], tmp_path: Path) -> None:
    import datasets

    out = export(samples, "hf", tmp_path / "hf")
    dd = datasets.load_from_disk(str(out))
    assert set(dd) == {"easy", "hard", "real", "train"}
    feature = dd["easy"].features["images"]
    assert isinstance(feature, datasets.List | datasets.Sequence)
    assert isinstance(feature.feature, datasets.Image)
    row = dd["train"][0]
    assert row["images"][0].size == (16, 16) and row["target"].startswith("The first image")
    assert {"id", "split", "question", "target", "category", "sub_category"} <= set(dd["easy"].column_names)


def test_export_checks_placeholders(tmp_path: Path, samples: list[Sample]) -> None:
    bad = samples[0].model_copy(update={"question": "Look: <image> what is it?"})
    with pytest.raises(DataError, match=r"sample easy/1: field 'question'.*3 <image> placeholder"):
        export([bad], "swift", tmp_path / "x")
    with pytest.raises(DataError, match="unknown export format"):
        export(samples, "csv", tmp_path / "y")


def test_validate_catches_placeholder_mismatch_in_export(samples: list[Sample], tmp_path: Path) -> None:
    out = export(samples, "llamafactory", tmp_path / "lf")
    records = json.loads((out / "hard.json").read_text())
    records[0]["messages"][0]["content"] = records[0]["messages"][0]["content"].replace("<image>", "", 1)
    records[1]["messages"][0]["content"] = records[1]["messages"][0]["content"].replace("<image>", "")
    (out / "hard.json").write_text(json.dumps(records))
    found = {(p.sample_id, p.field, p.code) for p in validate(out)}
    assert found == {("1", "messages", "placeholder_mismatch"), ("2", "messages", "placeholder_mismatch")}


def test_stats_counts(samples: list[Sample]) -> None:
    table = stats(samples)
    assert table["splits"] == ["train", "easy", "hard", "real"]
    assert table["by_split"] == {"train": 4, "easy": 4, "hard": 3, "real": 2} and table["total"] == 13
    cats = {c["category"]: c for c in table["categories"]}
    assert len(cats) == 6  # every taxonomy category, zeros included
    for split in table["splits"]:
        expected = sum(1 for s in samples if s.split == split and s.category == "Illegal Activity")
        assert cats["Illegal Activity"]["counts"][split] == expected
    subs = {r["sub_category"]: r for r in cats["Illegal Activity"]["sub_categories"]}
    assert subs["Property Crimes"]["total"] == sum(1 for s in samples if s.sub_category == "Property Crimes")
    assert cats["Erotic"]["total"] == 0
    assert sum(c["total"] for c in table["categories"]) == 13
    odd = Sample(id="x", split="benign", question="q", images=["a.png"])
    extra = {c["category"]: c for c in stats([*samples, odd])["categories"]}
    assert extra["(none)"]["counts"]["benign"] == 1


def test_missing_or_outside_image_is_one_error_naming_sample_and_path(mis_test_dir: Path,
                                                                      tmp_path: Path) -> None:
    (mis_test_dir / "hard_image/1/object2.png").unlink()
    with pytest.raises(DataError) as missing:
        export(load(mis_test_dir), "swift", tmp_path / "a")
    message = str(missing.value)
    assert message.startswith("sample hard/1: field 'images' (image 2 of 2): hard_image/1/object2.png")
    assert "image file not found" in message and "\n" not in message
    assert not (tmp_path / "a").exists()  # nothing written
    make_png(mis_test_dir / "hard_image/1/object2.png", 1, 2)
    secret = make_png(tmp_path / "private.png", 4, 1)
    (mis_test_dir / "easy_image/2/object1.png").unlink()
    (mis_test_dir / "easy_image/2/object1.png").symlink_to(secret)
    expected = r"sample easy/2: field 'images' \(image 1 of 2\): .*symlink.*outside"
    with pytest.raises(DataError, match=expected):
        export(load(mis_test_dir), "llamafactory", tmp_path / "b")
    out = export(load(mis_test_dir), "llamafactory", tmp_path / "c", allow_outside_root=True)
    assert (out / "images/easy/2/object1.png").read_bytes() == secret.read_bytes()


def test_export_tokenizer_with_a_missing_or_corrupt_image_is_one_clean_line(
    tiny_model_path, mis_test_dir: Path, mis_train_file: Path, tmp_path: Path
) -> None:
    """docs/data.md removes an image and later exports with --tokenizer: a clean error, or --split train."""
    from typer.testing import CliRunner

    from mis.cli import app

    model = tiny_model_path("qwen2_vl")
    runner = CliRunner()
    (mis_test_dir / "hard_image/1/object2.png").unlink()
    base = ["data", "export", str(mis_test_dir), "--format", "swift", "--tokenizer", str(model),
            "--max-length", "512"]
    missing = runner.invoke(app, [*base, "--out", str(tmp_path / "a")], terminal_width=400)
    assert missing.exit_code == 3 and isinstance(missing.exception, SystemExit)
    assert "Traceback" not in missing.output
    lines = [line for line in missing.output.splitlines() if line.strip()]
    assert len(lines) == 1, missing.output
    assert lines[0].startswith("error: sample hard/1: field 'images' (image 2 of 2): "
                               "hard_image/1/object2.png")
    (mis_test_dir / "easy_image/3/object1.png").write_text("text, not an image")
    corrupt = runner.invoke(app, [*base, "--split", "easy", "--out", str(tmp_path / "b")], terminal_width=400)
    assert corrupt.exit_code == 3 and "Traceback" not in corrupt.output
    assert "sample easy/3: field 'images' (image 1 of 2): easy_image/3/object1.png" in corrupt.output
    assert "not an image" in corrupt.output
    # the page's own order: the tokenizer check runs on the train split, which is intact
    train = runner.invoke(app, ["data", "export", str(mis_train_file.parent), "--split", "train", "--format",
                                "swift", "--out", str(tmp_path / "c"), "--tokenizer", str(model),
                                "--max-length", "512"])
    assert train.exit_code == 0, train.output
