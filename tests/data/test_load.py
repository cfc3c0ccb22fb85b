"""Loading the MIS layouts, the train file, the messages variant, hub ids; writing the MIS layout."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from mis.data import DataError, Sample, load, write_mis_layout
from tests.fixtures.data import QUESTIONS, make_mis_test_dir, make_mis_train_dir, make_png


def _key(s: Sample) -> tuple:
    return (s.split, s.id, s.question, s.target, s.category, s.sub_category)


def _image_bytes(s: Sample) -> list[bytes]:
    return [p.read_bytes() for p in s.image_paths()]


def test_load_test_layout(mis_test_dir: Path) -> None:
    ds = load(mis_test_dir)
    assert ds.format == "mis"
    assert ds.root == mis_test_dir
    assert ds.splits == ["easy", "hard", "real"]
    assert [len(ds.split(s)) for s in ("easy", "hard", "real")] == [4, 3, 2]
    first = ds.split("hard")[0]
    assert first.id == "1" and first.uid == "hard/1"
    assert first.images == ["hard_image/1/object1.png", "hard_image/1/object2.png"]
    assert first.image_paths()[0] == mis_test_dir / "hard_image/1/object1.png"
    assert first.question in QUESTIONS and first.target is None
    assert [im.size for im in first.open_images()] == [(16, 16), (16, 16)]
    assert len(ds) == 9 and list(ds) == ds.samples


def test_load_split_filter_and_single_file(mis_test_dir: Path) -> None:
    assert load(mis_test_dir, splits=["real"]).splits == ["real"]
    ds = load(mis_test_dir / "mis_hard.json")
    assert ds.splits == ["hard"] and len(ds) == 3 and ds.samples[0].root == mis_test_dir
    with pytest.raises(DataError, match=r"no samples for split\(s\) white; the splits it holds: easy, hard"):
        load(mis_test_dir, splits=["white"])


def test_load_extra_split_with_three_images(tmp_path: Path) -> None:
    root = make_mis_test_dir(tmp_path / "d", 1, 0, 0, extra={"benign": 2}, n_images=3)
    ds = load(root)
    assert ds.splits == ["easy", "benign"]
    assert len(ds.split("benign")[0].images) == 3


def test_load_train_file_strips_placeholders(mis_train_file: Path) -> None:
    for source in (mis_train_file, mis_train_file.parent):
        ds = load(source)
        assert ds.splits == ["train"] and len(ds) == 4
        s = ds.samples[1]
        assert s.question == QUESTIONS[1]
        assert "<image>" not in s.question and "Image-1" not in s.question
        assert s.target and s.target.startswith("The first image shows")
        assert s.images == ["images/train_1_1.png", "images/train_1_2.png"]
        assert _image_bytes(s)[0] == (mis_train_file.parent / "images/train_1_1.png").read_bytes()


def test_load_train_without_ids_and_bare_placeholders(tmp_path: Path) -> None:
    path = make_mis_train_dir(tmp_path / "t", n=2, with_ids=False)
    records = json.loads(path.read_text())
    records[0]["conversations"][0]["value"] = "<image>\n<image>\nWhat is shown?"
    path.write_text(json.dumps(records))
    ds = load(path)
    assert [s.id for s in ds] == ["0", "1"]
    assert ds.samples[0].question == "What is shown?"


def test_load_messages_variant(tmp_path: Path) -> None:
    make_png(tmp_path / "a.png", 0, 1)
    make_png(tmp_path / "b.png", 0, 2)
    records = [
        {"messages": [{"role": "system", "content": "Be helpful."},
                      {"role": "user", "content": "<image><image>Which shape is red?"},
                      {"role": "assistant", "content": "The square."}],
         "images": ["a.png", "b.png"], "category": "Privacy", "sub_category": "Identity Theft"},
        {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                                   {"type": "text", "text": "Which shape is blue?"}]}],
         "images": ["a.png", "b.png"]},
    ]
    path = tmp_path / "sft.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    ds = load(path)
    assert ds.splits == ["train"]
    a, b = ds.samples
    assert (a.question, a.target) == ("Which shape is red?", "The square.")
    assert a.metadata["system"] == "Be helpful."
    assert (b.question, b.target, b.category) == ("Which shape is blue?", None, None)


def test_write_mis_layout_round_trip(mis_test_dir: Path, mis_train_file: Path, tmp_path: Path) -> None:
    source = load(mis_test_dir).samples + load(mis_train_file).samples
    out = write_mis_layout(source, tmp_path / "out")
    assert json.loads((out / "mis_easy.json").read_text())[0]["id"] == 1  # ints stay ints
    train = json.loads((out / "mis_train.json").read_text())[0]
    assert train["image"] == ["train_image/0/object1.png", "train_image/0/object2.png"]
    assert train["conversations"][0]["value"].startswith("Image-1: <image>\nImage-2: <image>\n")
    back = load(out)
    assert sorted(map(_key, back)) == sorted(map(_key, source))
    by_uid = {s.uid: s for s in back}
    for s in source:
        assert _image_bytes(by_uid[s.uid]) == _image_bytes(s)
    with pytest.raises(DataError, match="exists"):
        write_mis_layout(source, out)


def test_write_converts_non_png_and_rejects_unsafe_ids(tmp_path: Path) -> None:
    from PIL import Image

    jpg = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8), (10, 200, 10)).save(jpg)
    s = Sample(id="a1", split="white", question="q?", images=[str(jpg)])
    out = write_mis_layout([s], tmp_path / "o")
    png = out / "white_image/a1/object1.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert load(out).samples[0].open_images()[0].getpixel((0, 0))[1] > 150
    bad = Sample(id="../up", split="easy", question="q?", images=[str(jpg)])
    with pytest.raises(DataError, match="field 'id'"):
        write_mis_layout([bad], tmp_path / "o2")


def test_load_10k_records_lazily(tmp_path: Path) -> None:
    records = [
        {"id": i, "category": "Violent", "sub_category": "Weapon-Related Violence",
         "question": f"What could object {i} be used for?",
         "image_path1": f"easy_image/{i}/object1.png", "image_path2": f"easy_image/{i}/object2.png"}
        for i in range(10_000)
    ]
    (tmp_path / "mis_easy.json").write_text(json.dumps(records))
    tracemalloc.start()
    ds = load(tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(ds) == 10_000 and ds.samples[-1].id == "9999"
    assert peak < 100 * 2**20  # paths only: tens of MB at most, no pixels


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "expected a JSON array"),
        ('[{"foo": 1}]', "unrecognised record"),
        ('[{"id": 1, "image_path1": "a.png", "image_path2": "b.png"}]', "field 'question': missing"),
        ('[{"id": 1, "question": "q", "image_path1": "a.png"}, {"id": 1, "question": "q", '
         '"image_path1": "a.png"}]', "sample 1: field 'id': duplicate id"),
    ],
)
def test_bad_files_raise_data_error_naming_file(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "mis_easy.json"
    path.write_text(content)
    with pytest.raises(DataError, match=expected) as info:
        load(tmp_path)
    assert str(path) in str(info.value)


def test_unknown_folder_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no MIS data found.*notes.txt.*mis_easy.json"):
        load(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        load(tmp_path / "missing" / "deeper" / "x")


def test_hub_offline_error_is_fast_and_says_what_to_do(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        load("Tuwhy/MIS_Test", cache_dir=tmp_path / "hf")
    message = str(info.value)
    assert time.monotonic() - start < 10
    assert "Tuwhy/MIS_Test" in message and "offline" in message
    assert "pass the local folder" in message


def test_hub_snapshot_archives_are_unpacked_once(tmp_path: Path) -> None:
    import zipfile

    from mis.data._hub import unpack_archives

    make_png(tmp_path / "src.png", 1, 1)
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as zf:
        zf.write(tmp_path / "src.png", "images/train_0_1.png")
    assert unpack_archives(tmp_path) == [tmp_path / "images.zip"]
    assert (tmp_path / "images/train_0_1.png").is_file()
    assert unpack_archives(tmp_path) == []
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../escape.png", b"x")
    with pytest.raises(DataError, match="outside"):
        unpack_archives(tmp_path)


def test_hub_snapshot_with_nested_layout_is_found(tmp_path: Path) -> None:
    from mis.data._loader import _data_folder

    make_mis_test_dir(tmp_path / "snap" / "mis_test", 1, 1, 0)
    assert _data_folder(tmp_path / "snap") == tmp_path / "snap" / "mis_test"
    assert _data_folder(tmp_path / "snap" / "mis_test") == tmp_path / "snap" / "mis_test"


def test_hub_id_reads_a_cached_snapshot_offline(tmp_path: Path) -> None:
    """A snapshot already in the HF cache loads offline through snapshot_download; zips get unpacked."""
    import shutil

    repo = tmp_path / "hf" / "datasets--Tuwhy--MIS_Test"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = make_mis_test_dir(repo / "snapshots" / commit, 2, 1, 0)
    shutil.make_archive(str(snapshot / "hard_image"), "zip", snapshot, "hard_image")
    shutil.rmtree(snapshot / "hard_image")
    ds = load("Tuwhy/MIS_Test", cache_dir=tmp_path / "hf")
    assert ds.root == snapshot and ds.splits == ["easy", "hard"]
    assert ds.split("hard")[0].open_images()[0].size == (16, 16)


def test_metadata_round_trips_without_changing_the_record_shape(tmp_path: Path) -> None:
    make_png(tmp_path / "a.png", 0, 1)
    meta = {"source": "seed-7", "conversations": "not a chat", "image_path9": "x", "split": "odd"}
    s = Sample(id="1", split="easy", question="q?", images=[str(tmp_path / "a.png")], metadata=meta)
    back = load(write_mis_layout([s], tmp_path / "o")).samples[0]
    assert back.metadata == meta and back.images == ["easy_image/1/object1.png"]


def test_paper_spelling_of_a_sub_category_is_an_alias(tmp_path: Path, caplog) -> None:
    """The paper's table spells one name "Abuse and Physical Alterations": load maps it, with a note."""
    import logging

    from mis.data import SUB_CATEGORIES, validate

    root = make_mis_test_dir(tmp_path / "d", 2, 0, 0)
    records = json.loads((root / "mis_easy.json").read_text())
    records[0].update(category="Violent", sub_category="Abuse and Physical Alterations")
    (root / "mis_easy.json").write_text(json.dumps(records))
    with caplog.at_level(logging.INFO, logger="mis.data._records"):
        sample = load(root).samples[0]
    assert sample.sub_category == "Abuse and Physical Altercations"
    assert "alias" in sample.metadata["label_alias"] and "Alterations" in sample.metadata["label_alias"]
    assert "normalised on load" in caplog.text
    assert not [p for p in validate(root) if p.code == "unknown_category"]  # not rejected any more
    assert len(SUB_CATEGORIES) == 14  # the names as they are (the paper says 12)
    records[0]["sub_category"] = "Abuse and Physical Alteration"  # a typo is still caught
    (root / "mis_easy.json").write_text(json.dumps(records))
    assert [p.code for p in validate(root)] == ["unknown_category"]


def test_user_turn_layout_is_kept_when_images_sit_in_the_text(tmp_path: Path) -> None:
    path = make_mis_train_dir(tmp_path / "t", n=3)
    records = json.loads(path.read_text())
    records[1]["conversations"][0]["value"] = "Compare <image> with <image>: which one is red?"
    records[2]["conversations"][0]["value"] = "Image-1: <image>\n\nImage-2: <image>\n\nWhich one is red?"
    path.write_text(json.dumps(records))
    first, inline, spaced = load(path).samples
    assert "user_turn" not in first.metadata  # "Image-1: <image>\nImage-2: <image>\n...": a prefix layout
    assert inline.question == "Compare with : which one is red?"  # what evaluation sees: no markers
    assert inline.metadata["user_turn"] == "Compare <image> with <image>: which one is red?"
    assert spaced.question == "Which one is red?" and "user_turn" not in spaced.metadata


def test_multi_turn_messages_are_kept_whole(tmp_path: Path) -> None:
    make_png(tmp_path / "a.png", 0, 1)
    record = {"messages": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": "A red square."},
        {"role": "user", "content": "And its colour?"},
        {"role": "assistant", "content": "Red."},
    ], "images": ["a.png"]}
    path = tmp_path / "general.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (sample,) = load(path).samples
    assert (sample.question, sample.target) == ("What is it?", "A red square.")
    assert sample.metadata["conversations"] == [
        {"from": "human", "value": "<image>What is it?"}, {"from": "gpt", "value": "A red square."},
        {"from": "human", "value": "And its colour?"}, {"from": "gpt", "value": "Red."}]
