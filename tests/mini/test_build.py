"""MIS-mini through `mis build` with the world's offline backends: a valid MIS set with ground truth."""

import json

from mis.data import load, validate
from mis.mini import load_world


def test_build_writes_valid_mis_layout(mini_built):
    root = mini_built["mis_mini"]
    assert validate(root) == []
    assert validate(mini_built["general"]) == []
    data = load(root)
    counts = {s: len(data.split(s)) for s in ("train", "easy", "hard", "benign", "white")}
    assert counts == {"train": 12, "easy": 6, "hard": 6, "benign": 6, "white": 6}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["final"] == {"train": 12, "easy": 6, "hard": 6}
    assert manifest["backends"]["label"]["name"] == "mis-mini/world"
    assert manifest["backends"]["t2i"]["name"] == "mis-mini/render"
    assert manifest["dropped"] == []


def test_built_samples_carry_truth_and_labels(mini_built):
    world = load_world()
    data = load(mini_built["mis_mini"])
    for s in data.split("train"):
        a, b = (world.obj(n) for n in s.metadata["objects"])
        rule = world.rule_for(a, b)
        assert rule is not None and rule.reason in s.target and a.name in s.target
        assert s.category == rule.category and s.sub_category == rule.sub_category
    for s in data.split("easy"):
        assert any(world.obj(n).looks_dangerous for n in s.metadata["objects"])
    for s in data.split("hard"):
        assert not any(world.obj(n).looks_dangerous for n in s.metadata["objects"])
        assert "first image" in s.question and not any(n in s.question for n in s.metadata["objects"])
    for s in data.split("white"):
        assert s.metadata["mini"]["white"] and s.category is None
        assert all(im.getextrema() == ((255, 255), (255, 255), (255, 255)) for im in s.open_images())
    general = load(mini_built["general"])
    assert len(general.split("train")) == 8 and all(s.target for s in general.samples)


def test_build_resumes_identically(mini_built, tmp_path):
    from mis.mini import MiniConfig, build_mini

    root = mini_built["mis_mini"]
    before = (root / "mis_hard.json").read_text()
    build_mini(MiniConfig(seed=0, n_train=12, n_eval=6, n_general=8), root.parent, durable=False)
    assert (root / "mis_hard.json").read_text() == before
