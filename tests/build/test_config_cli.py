"""`mis build run`'s options come from BuildConfig and merge over `--config` in `mis.build.resolve_config`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mis.build import ConfigError, StepModel, resolve_config
from mis.cli import app


def _config(tmp_path: Path) -> Path:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "seeds.jsonl").write_text('{"query": "A synthetic seed about two shapes"}\n')
    path = tmp_path / "cfg" / "build.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "seeds": ["seeds.jsonl"],
                "steps": {"label": {"model": "offline/template", "concurrency": 2, "max_tokens": 300}},
                "t2i": {"backend": "offline", "width": 64, "height": 64, "steps": 2},
            }
        )
    )
    return path


def test_options_merge_over_the_config_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # paths given as options are relative to the working directory
    config = resolve_config(
        str(path),
        {
            "steps": {"label": {"concurrency": 7}, "refine": {"model": "offline/exact"}},
            "t2i": {"width": 128},
            "out": "run",
            "prompts": {"label": "mine.jinja"},
        },
    )
    assert config.steps["label"] == StepModel(model="offline/template", concurrency=7, max_tokens=300)
    assert config.steps["refine"].model == "offline/exact"
    assert (config.t2i.width, config.t2i.height, config.t2i.steps) == (128, 64, 2)  # the file's others kept
    assert config.seeds == [str(path.parent / "seeds.jsonl")]  # relative to the config file
    assert config.out == str(work / "run") and config.prompts == {"label": str(work / "mine.jinja")}


def test_a_bad_step_setting_names_the_step_and_the_valid_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"steps\.label: unknown setting\(s\) modle; valid: model, concurr"):
        resolve_config(None, {"steps": {"label": {"modle": "x"}}})


def test_build_run_cli_takes_every_override_and_records_it(tmp_path: Path) -> None:
    path = _config(tmp_path)
    out = tmp_path / "out"
    args = [
        "build",
        "run",
        "--config",
        str(path),
        "--out",
        str(out),
        "--step",
        "label.concurrency=3",
        "--step",
        "extract.temperature=0.5",
        "--t2i-width",
        "96",
        "--questions-per-seed",
        "2",
        "--no-durable",
        "--until",
        "extract",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "build.json").read_text())  # the resolved config, saved before any stage
    label = saved["steps"]["label"]
    assert (label["model"], label["concurrency"], label["max_tokens"]) == ("offline/template", 3, 300)
    assert saved["steps"]["extract"]["temperature"] == 0.5
    assert saved["t2i"]["width"] == 96 and saved["t2i"]["height"] == 64
    assert saved["questions_per_seed"] == 2 and saved["durable"] is False


def test_build_run_errors_are_one_line_with_a_usage_exit_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "build",
            "run",
            "--config",
            str(_config(tmp_path)),
            "--out",
            str(tmp_path / "o"),
            "--step",
            "label=x",
        ],
    )
    assert result.exit_code == 2 and "--step expects NAME.KEY=VALUE" in result.output, result.output
    result = CliRunner().invoke(app, ["build", "run", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "seeds: no seed files given" in result.output, result.output
    assert "Traceback" not in result.output and not os.path.exists(tmp_path / "o" / "manifest.json")


def test_seed_images_pass_the_image_gate(tmp_path: Path) -> None:
    from PIL import Image

    from mis.build import SeedError, read_seeds

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    Image.new("RGB", (16, 16), "blue").save(seeds / "ok.png")
    (seeds / "broken.png").write_bytes(b"not an image at all")
    outside = tmp_path / "elsewhere.png"
    Image.new("RGB", (16, 16), "red").save(outside)
    rows = seeds / "rows.jsonl"
    rows.write_text('{"query": "A synthetic seed", "image": "ok.png"}\n')
    assert [s["kind"] for s in read_seeds([str(rows)])] == ["image"]
    rows.write_text('{"query": "A synthetic seed", "image": "broken.png"}\n')
    with pytest.raises(SeedError, match=r"rows\.jsonl:1: field 'image': .*broken\.png: not an image"):
        read_seeds([str(rows)])
    rows.write_text(f'{{"query": "A synthetic seed", "image": "{outside}"}}\n')
    with pytest.raises(SeedError, match=r"rows\.jsonl:1: field 'image': .*outside the dataset root"):
        read_seeds([str(rows)])
    assert len(read_seeds([str(rows)], allow_outside=True)) == 1  # --allow-outside-root


def test_a_hosted_step_model_without_its_key_stops_before_any_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MYJUDGE_KEY", raising=False)
    path, out = _config(tmp_path), tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "build",
            "run",
            "--config",
            str(path),
            "--out",
            str(out),
            "--step",
            "label_judge.model=openai/gpt-4o-2024-11-20",
        ],
    )
    assert (
        result.exit_code == 2 and "steps.label_judge" in result.output and "OPENAI_API_KEY" in result.output
    )
    assert not out.exists()  # nothing ran
    result = CliRunner().invoke(
        app,
        [
            "build",
            "run",
            "--config",
            str(path),
            "--out",
            str(out),
            "--step",
            "refine.model=openai-api/judge/m",
            "--step",
            "refine.api_key_env=MYJUDGE_KEY",
        ],
    )
    assert result.exit_code == 2 and "MYJUDGE_KEY, which is not set" in result.output, result.output
    # a local OpenAI-compatible server needs no key
    config = resolve_config(
        str(path),
        {
            "steps": {"refine": {"model": "openai-api/vllm/m", "base_url": "http://127.0.0.1:9/v1"}},
            "out": "o",
        },
    )
    config.validate()
