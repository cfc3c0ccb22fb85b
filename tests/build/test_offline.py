"""Offline backends through the CLI (the docs' small local run), the review round, resume rules."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from mis.build import BuildConfig, BuildError, config_from_dict, load_config, read_manifest, run_build
from mis.build._offline import OBJECT_KEY, image_object
from mis.cli import app
from mis.data import load, validate

runner = CliRunner()


def _seeds(tmp_path):
    lines = [
        {"query": f"Synthetic seed {k}: how might two shapes be combined?", "category": "Violent"}
        for k in range(4)
    ]
    path = tmp_path / "seeds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (32, 32), "red").save(folder / "red_square.png")
    with (tmp_path / "seeds.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["query", "category"], ["A synthetic csv seed about a ring", "Privacy"]])
    return [path, folder, tmp_path / "seeds.csv"]


def test_offline_run_cli_then_review_round(tmp_path):
    seeds = _seeds(tmp_path)
    out = tmp_path / "out"
    args = ["build", "run", "--config", "offline", "--out", str(out)]
    for s in seeds:
        args += ["--seeds", str(s)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "mis build: complete" in result.output
    assert validate(out) == []
    manifest = read_manifest(out)
    ds = load(out)
    assert {s: len(ds.split(s)) for s in ("train", "easy", "hard") if ds.split(s)} == {
        k: v for k, v in manifest.final.items() if v
    }
    assert manifest.stages["extract"]["in"] == 6  # 4 JSONL + 1 image + 1 CSV seed
    assert sum(manifest.final.values()) == manifest.stages["label"]["out"] > 0
    # the image seed went through the VLM extract prompt with its image
    assert any(
        r["seed_kind"] == "image"
        for r in (json.loads(x) for x in (out / "extract" / "records.jsonl").read_text().splitlines())
    )
    # the critic's refinement round happened for some images (flawed first renders)
    rendered = [json.loads(x) for x in (out / "render" / "records.jsonl").read_text().splitlines()]
    assert any(r["refine_rounds"] == 1 for r in rendered)
    for r in rendered:  # ground truth stamped in every final image
        assert [image_object(out / p) for p in r["images"]] == r["objects"]

    # rerunning a finished build does nothing new
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and read_manifest(out).final == manifest.final

    # review round: export, drop one, move one to hard, import, rerun
    result = runner.invoke(app, ["build", "review-export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "human_review" / "review.html").read_text()
    rows = list(csv.DictReader((out / "human_review" / "review.csv").open()))
    assert len(rows) == manifest.stages["split"]["out"] and html.count("<img") == 2 * len(rows)
    assert (out / "human_review" / json.loads(json.dumps(html.split('src="')[1].split('"')[0]))).exists()
    rows[0]["decision"], rows[0]["note"] = "drop", "looks like nonsense"
    moved = next(r for r in rows[1:] if r["split"] == "easy")
    moved["decision"] = "hard"
    with (tmp_path / "filled.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["build", "review-import", str(tmp_path / "filled.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "drop 1" in result.output and "hard 1" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    reviewed = read_manifest(out)
    assert sum(reviewed.final.values()) == sum(manifest.final.values()) - 1
    assert reviewed.final["hard"] == manifest.final["hard"] + 1 - (rows[0]["split"] == "hard")
    assert any(d.code == "review" and "nonsense" in d.reason for d in reviewed.dropped)
    assert validate(out) == []


def test_review_import_rejects_bad_rows(tmp_path):
    out = tmp_path / "out"
    cfg = BuildConfig(seeds=[str(_seeds(tmp_path)[0])], out=str(out), require_review=True)
    result = run_build(cfg)
    assert result.status == "awaiting_review" and "review-export" in result.message
    assert not (out / "label").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,decision\nnot-an-id,drop\n")
    result = runner.invoke(app, ["build", "review-import", str(bad), "--out", str(out)])
    assert result.exit_code == 1 and "row 2" in result.output and "'id'" in result.output
    runner.invoke(app, ["build", "review-export", "--out", str(out)])
    rows = list(csv.DictReader((out / "human_review" / "review.csv").open()))
    bad.write_text(f"id,decision\n{rows[0]['id']},maybe\n")
    result = runner.invoke(app, ["build", "review-import", str(bad), "--out", str(out)])
    assert result.exit_code == 1 and "'decision'" in result.output and "maybe" in result.output
    bad.write_text(f"id,decision\n{rows[0]['id']},keep\n")
    assert runner.invoke(app, ["build", "review-import", str(bad), "--out", str(out)]).exit_code == 0
    assert run_build(cfg).status == "complete"


def test_changed_prompt_is_refused_then_restarted_with_cache(tmp_path):
    seeds = _seeds(tmp_path)[0]
    out = tmp_path / "out"
    cfg = BuildConfig(seeds=[str(seeds)], out=str(out))
    first = run_build(cfg)
    assert first.status == "complete"
    label = tmp_path / "label.jinja"
    label.write_text("TASK: safety reasoning answer.\nAnswer carefully: {{ question }}\n")
    cfg.prompts = {"label": str(label)}
    with pytest.raises(BuildError, match="restart-from label"):
        run_build(cfg)
    cache_lines = len((out / "cache" / "requests.jsonl").read_text().splitlines())
    again = run_build(cfg, restart_from="label")
    assert again.status == "complete" and again.final == first.final
    new_lines = len((out / "cache" / "requests.jsonl").read_text().splitlines())
    n_train = first.final["train"]
    assert (
        new_lines == cache_lines + n_train
    )  # only the changed prompt was asked again (judge replies reused)
    assert read_manifest(out).prompts["label"]["source"] == str(label)


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="steps: unknown step"):
        BuildConfig(seeds=[str(tmp_path)], out=str(tmp_path / "o"), steps={"extrct": None}).validate()
    with pytest.raises(ValueError, match="unknown field"):
        config_from_dict({"sedes": []})
    with pytest.raises(ValueError, match="prompts.label"):
        BuildConfig(
            seeds=[str(tmp_path)], out="o", prompts={"label": str(tmp_path / "nope.jinja")}
        ).validate()
    assert load_config("paper").step("text_safety").model == "openai/gpt-4o-2024-11-20"
    assert load_config("paper").step("label").model == "openai-api/internvl/OpenGVLab/InternVL2_5-78B"
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(BuildError, match="not a `mis build` folder"):
        run_build(BuildConfig(seeds=[str(_seeds(tmp_path)[0])], out=str(tmp_path / "junk")))
    assert OBJECT_KEY == "mis:object"


def test_more_seeds_grow_a_finished_build(tmp_path):
    seeds = _seeds(tmp_path)[0]
    out = tmp_path / "out"
    small = run_build(BuildConfig(seeds=[str(seeds)], out=str(out), max_seeds=2))
    assert small.status == "complete" and small.stages["extract"]["in"] == 2
    grown = run_build(BuildConfig(seeds=[str(seeds)], out=str(out)))
    assert grown.status == "complete" and grown.stages["extract"]["in"] == 4
    ledger = (out / "extract" / "ledger.jsonl").read_text().splitlines()
    assert len(ledger) == 4  # the two finished seeds were not redone
    assert sum(grown.final.values()) > sum(small.final.values())
    fresh = run_build(BuildConfig(seeds=[str(seeds)], out=str(tmp_path / "fresh")))
    assert fresh.final == grown.final  # same result as building all seeds at once


def test_offline_backends_use_the_one_world_of_mis_mini(tmp_path):
    """`--config offline` draws, checks and labels MIS-mini's objects and rules (one offline world)."""
    from mis.build import ImageRequest, ProceduralRenderer, TemplateGenerator
    from mis.mini import load_world, render_object
    from mis.mini._offline import ProceduralRenderer as MiniProcedural

    assert ProceduralRenderer is MiniProcedural and TemplateGenerator.__module__ == "mis.mini._offline"
    world = load_world()
    out = tmp_path / "out"
    result = run_build(BuildConfig(seeds=[str(_seeds(tmp_path)[0])], out=str(out)))
    assert result.status == "complete", result.message
    names = {f"{'an' if o.name[0] in 'aeiou' else 'a'} {o.name}" for o in world.objects}
    rendered = [json.loads(x) for x in (out / "render" / "records.jsonl").read_text().splitlines()]
    assert rendered and all(set(r["objects"]) <= names for r in rendered)
    manifest = read_manifest(out)
    assert manifest.backends["extract"]["settings"] == {"world": world.sha}
    # the renderer draws the world's icon for a world object (same pixels as mis.mini's renderer)
    request = ImageRequest(record_id="r", index=0, object="a red flame", prompt="p", seed=3, width=64,
                           height=64, round=1)
    drawn = ProceduralRenderer(flaw_every=0).render(request)
    assert list(drawn.getdata()) == list(render_object("red flame", size=64, seed=3).getdata())
    assert drawn.info[OBJECT_KEY] == "a red flame"
    # a pair one of the world's rules covers is labelled with that rule's safety chain of thought
    records = [json.loads(x) for x in (out / "label" / "records.jsonl").read_text().splitlines()]
    labels = [r for r in records if r["split"] == "train"]
    assert labels and all(r["target"] for r in labels)
    reasons = {r.reason for r in world.rules}
    for rec in labels:
        a, b = (world.find(o) for o in rec["objects"])
        rule = world.rule_for(a, b) if a and b else None
        assert (rule.reason in rec["target"]) if rule else not any(x in rec["target"] for x in reasons)
    assert any(world.rule_for(*(world.find(o) for o in rec["objects"])) for rec in labels)  # both kinds seen


def test_build_config_world_path_swaps_the_world_and_a_bad_one_is_one_line(tmp_path):
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("mis.mini").joinpath("world.yaml").read_text(encoding="utf-8"))
    keep = ("red apple", "grey knife", "pink person")
    raw["objects"] = {k: v for k, v in raw["objects"].items() if k in keep}
    raw["rules"] = {"injury": raw["rules"]["injury"]}
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    seeds = [str(_seeds(tmp_path)[0])]
    result = run_build(BuildConfig(seeds=seeds, out=str(out), world=str(tmp_path / "w.yaml")))
    assert result.status == "complete", result.message
    rendered = [json.loads(x) for x in (out / "render" / "records.jsonl").read_text().splitlines()]
    assert {o for r in rendered for o in r["objects"]} <= {"a red apple", "a grey knife", "a pink person"}
    (tmp_path / "bad.yaml").write_text("objects: {}\n")
    with pytest.raises(ValueError, match=r"world: cannot read .*bad.yaml.*missing field"):
        run_build(BuildConfig(seeds=seeds, out=str(tmp_path / "o2"), world=str(tmp_path / "bad.yaml")))
