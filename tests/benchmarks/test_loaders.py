from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

import mis.eval.benchmarks as B
from mis.errors import DataError
from mis.eval.benchmarks import figstep as figstep_mod
from mis.eval.benchmarks._common import check_images, missing_images
from tests.benchmarks import formats as F


def test_figstep_pairs_published_images_and_regenerates_the_rest(tmp_path):
    root = F.figstep(tmp_path / "fs", published=1)
    samples = B.load_figstep(root)
    assert [s.id for s in samples] == ["1_1", "1_2", "2_1", "2_3"]
    first, second = samples[0], samples[1]
    assert first.image_paths()[0] == root / "data/images/SafeBench/query_ForbidQI_1_1_6.png"
    assert first.question == figstep_mod.figstep_prompt()
    assert first.question.startswith("The image shows a list numbered 1, 2, and 3, but the items are empty.")
    assert first.metadata["judge_user_text"] == "How to paint a red square [case unsafe]?"
    assert first.metadata["regenerated_with_font"] is None
    regenerated = second.image_paths()[0]
    assert regenerated.is_file() and second.metadata["regenerated_with_font"]
    with Image.open(regenerated) as im:
        assert im.size == (760, 760)
        gray = im.convert("L")
        assert gray.getpixel((700, 700)) == 255  # white canvas
        assert min(gray.getdata()) < 50  # black text drawn
    assert not missing_images(samples)


def test_figstep_typography_text():
    text = figstep_mod.typography_text("Steps to fold a blue circle.")
    assert text == "Steps to fold a\nblue circle.\n1. \n2. \n3. "


def test_figstep_never_regenerate_reports_missing(tmp_path):
    samples = B.load_figstep(F.figstep(tmp_path / "fs", published=1), regenerate="never")
    assert len(missing_images(samples)) == 3
    with pytest.raises(DataError, match="3 of 4 referenced image"):
        check_images(samples, benchmark="figstep")
    assert [s.id for s in check_images(samples, missing="skip")] == ["1_1"]


def test_figstep_bad_csv_names_file_and_field(tmp_path):
    path = tmp_path / "data/question/safebench.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["dataset", "category_id", "task_id", "category_name", "question", "instruction"],
                ["ForbidQI", "x", "1", "c", "q?", "Steps."],
            ]
        )
    with pytest.raises(DataError, match=r"safebench.csv: record line 2: field 'category_id'"):
        B.load_figstep(tmp_path)


def test_mmsafety_pairs_text_with_image_type(tmp_path):
    root = F.mmsafety(tmp_path / "mm")
    sd_typo = B.load_mmsafety(root)
    assert [s.id for s in sd_typo] == ["01-Illegal_Activitiy/0", "01-Illegal_Activitiy/2", "02-HateSpeech/5"]
    assert sd_typo[0].question.startswith("The bottom of the image shows")
    assert sd_typo[0].images[0].endswith("01-Illegal_Activitiy/SD_TYPO/0.jpg")
    sd = B.load_mmsafety(root, image_type="SD")
    assert sd[0].question.startswith("The image shows a phrase") and sd[0].images[0].endswith("/SD/0.jpg")
    assert not missing_images(sd_typo)
    data = json.loads((root / "data/processed_questions/02-HateSpeech.json").read_text())
    del data["5"]["Rephrased Question"]
    (root / "data/processed_questions/02-HateSpeech.json").write_text(json.dumps(data))
    with pytest.raises(
        DataError, match=r"02-HateSpeech.json: record 5: field 'Rephrased Question'"
    ):
        B.load_mmsafety(root)


def test_jailbreakv_mini(tmp_path):
    samples = B.load_jailbreakv(F.jailbreakv(tmp_path / "jb"))
    assert [s.id for s in samples] == ["11", "12", "13"]
    assert samples[0].category == "Fraud" and samples[0].metadata["transfer_from_llm"] is True
    assert samples[1].metadata["judge_user_text"] == samples[1].question
    assert not missing_images(samples)


def test_siuo(tmp_path):
    root = F.siuo(tmp_path / "siuo")
    samples = B.load_siuo(root)
    assert [s.id for s in samples] == ["1001", "2001", "9001"]
    assert samples[0].metadata["reference_answer"] == "Handle the square carefully."
    records = json.loads((root / "data/siuo_gen.json").read_text())
    records[1]["reference"] = records[1].pop("reference_answer")  # the authors' script's wrong key
    (root / "data/siuo_gen.json").write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"siuo_gen.json: record 2001: field 'reference_answer'"):
        B.load_siuo(root)


def test_mssbench_two_situations_per_query(tmp_path):
    samples = B.load_mssbench(F.mssbench(tmp_path / "mss"))
    assert len(samples) == 6
    assert {s.split for s in samples} == {"safe", "unsafe"}
    safe, unsafe = samples[0], samples[1]
    assert safe.id == unsafe.id == "0_0" and safe.question == unsafe.question
    assert safe.images == ["1.jpg"] and unsafe.images == ["2.jpg"]  # as published, relative to chat/
    assert safe.image_paths()[0] == tmp_path / "mss/chat/1.jpg"
    assert B.load_mssbench(tmp_path / "mss", situations=("safe",))[0].split == "safe"


def test_mossbench(tmp_path):
    samples = B.load_mossbench(F.mossbench(tmp_path / "moss"))
    assert [s.id for s in samples] == ["1", "2", "101", "201"]
    assert [s.category for s in samples] == ["Exaggerated Risk"] * 2 + [
        "Negated Harm",
        "Counterintuitive Interpretation",
    ]
    assert samples[0].metadata["short_description"] == "a toy shape on a table"


def test_vlguard_subsets(tmp_path):
    samples = B.load_vlguard(F.vlguard(tmp_path / "vg"))
    assert [(s.split, s.id) for s in samples] == [
        ("unsafes", "Ads_0001"),
        ("safe_unsafes", "12396"),
        ("safe_safes", "12396"),
    ]
    assert samples[1].question == "Write a mean caption for the square."
    assert samples[0].category == "deception"


def test_general_loaders(tmp_path):
    qb = B.load_qbench(F.qbench(tmp_path / "qb"))
    assert [s.metadata["options"] for s in qb] == [["Yes", "No"], ["Dark", "Even", "Harsh"]]
    assert [s.target for s in qb] == ["B", "B"]
    star = B.load_mmstar(F.mmstar(tmp_path / "star"))
    assert star[0].metadata["options"] == ["square", "circle", "cube", "ball"] and star[1].target == "B"
    mmmu = B.load_mmmu(F.mmmu(tmp_path / "mmmu"))
    assert mmmu[0].target == "A" and mmmu[0].category == "Art"
    assert mmmu[1].metadata["question_type"] == "open" and mmmu[1].target == "2" and len(mmmu[1].images) == 2
    muir = B.load_muirbench(F.muirbench(tmp_path / "muir"))
    assert len(muir[0].images) == 2 and muir[0].target == "C"
    mmt = B.load_mmt_mi(F.mmt_mi(tmp_path / "mmt"))
    assert mmt[0].metadata["options"] == ["left", "right", "both", "neither"] and len(mmt[0].images) == 2
    for s in [*qb, *star, *mmmu, *muir, *mmt]:
        assert all(p.is_file() for p in s.image_paths())


def test_hub_id_offline_is_a_clear_error():
    with pytest.raises(DataError, match="pass the local folder"):
        B.load_mmstar("Lin-Chen/MMStar")


def test_white_image_transform(tmp_path):
    samples = B.load_mossbench(F.mossbench(tmp_path / "moss"))
    white = B.apply_image_mode(samples, "white", folder=tmp_path / "w")
    with Image.open(white[0].images[0]) as im:
        assert im.size == (16, 16) and im.convert("L").getextrema() == (255, 255)
    assert white[0].metadata["original_images"] == [str(samples[0].image_paths()[0])]
    none = B.apply_image_mode(samples, "none")
    assert none[0].images == [] and none[0].uid == samples[0].uid
    assert B.apply_image_mode(samples, "original") == samples
    with pytest.raises(ValueError, match="image_mode"):
        B.apply_image_mode(samples, "black")
