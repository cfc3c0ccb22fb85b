"""End-to-end training on tiny real models: loss falls, outputs load, resume, LoRA merge, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mis.train import TrainDataError
from tests.train.conftest import run_train

pytestmark = pytest.mark.slow


def _logits(model, processor, image_path: Path):
    import torch
    from PIL import Image

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[[Image.open(image_path).convert("RGB")]], return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits


@pytest.mark.parametrize("arch", ["idefics3", "qwen2_vl"])
def test_full_finetune_overfits_freezes_vision_and_loads(arch, tiny_model_path, train_file, tmp_path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    base = tiny_model_path(arch)
    out, losses = run_train(base, train_file, tmp_path / "out", max_steps=6, lr=3e-3)
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.9, losses

    before = AutoModelForImageTextToText.from_pretrained(base)
    after = AutoModelForImageTextToText.from_pretrained(out)  # the output folder loads as-is
    AutoProcessor.from_pretrained(out)
    b, a = dict(before.named_parameters()), dict(after.named_parameters())
    vision = [n for n in b if ".visual." in f".{n}" or "vision_model" in n]
    assert vision
    projector_in_vision = [n for n in vision if "merger" in n]
    frozen = [n for n in vision if n not in projector_in_vision]
    assert all(torch.equal(b[n], a[n]) for n in frozen)  # vision encoder untouched
    lm = [n for n in b if "layers" in n and n not in vision]
    assert any(not torch.equal(b[n], a[n]) for n in lm)  # language model trained
    if projector_in_vision:
        assert any(not torch.equal(b[n], a[n]) for n in projector_in_vision)  # Qwen's projector trained

    card = (out / "README.md").read_text()
    sha = json.loads((out / "train_log.json").read_text())["metrics"]
    assert "tiny-cpu" in card and str(base) in card and "full fine-tuning" in card and sha["global_step"] == 6
    assert len([ln for ln in card.splitlines() if ln.startswith("| data |")][0].split("`")[3]) == 64


@pytest.mark.parametrize("arch", ["idefics3", "qwen2_vl"])
def test_lora_overfits_and_merge_matches_base_plus_adapter(
    arch, tiny_model_path, train_file, tmp_path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from mis.train import merge_adapter

    base = tiny_model_path(arch)
    out, losses = run_train(base, train_file, tmp_path / "out", max_steps=6, lr=3e-3, lora=True, lora_r=8)
    assert losses[-1] < losses[0] - 0.1, losses  # a rank-8 adapter on a random tiny LM learns slowly
    assert (out / "adapter" / "adapter_config.json").is_file() and "LoRA" in (out / "README.md").read_text()

    processor = AutoProcessor.from_pretrained(out)
    image = Path(train_file).parent / "images" / "train_0_1.png"
    with_adapter = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(base), out / "adapter"
    )
    expected = _logits(with_adapter.eval(), processor, image)
    merged = AutoModelForImageTextToText.from_pretrained(out).eval()  # merged at the end of training
    assert torch.allclose(_logits(merged, processor, image), expected, atol=1e-4)
    plain = _logits(AutoModelForImageTextToText.from_pretrained(base).eval(), processor, image)
    assert not torch.allclose(plain, expected, atol=1e-4)  # the adapter changed something
    again = merge_adapter(out / "adapter", tmp_path / "merged")  # the explicit `mis train merge` path
    reloaded = AutoModelForImageTextToText.from_pretrained(again).eval()
    assert torch.allclose(_logits(reloaded, processor, image), expected, atol=1e-4)


def test_qwen2_5_vl_trains_with_mixed_text_only_general_data(tiny_model_path, train_file, tmp_path) -> None:
    from mis.train.baselines import make_baseline

    general = make_baseline(train_file, "text-only", tmp_path / "general", rewrite_model="offline")
    out, losses = run_train(
        tiny_model_path("qwen2_5_vl"),
        train_file,
        tmp_path / "out",
        max_steps=2,
        general_data=str(general),
        general_ratio=0.5,
    )
    assert len(losses) == 2
    info = json.loads((out / "train_log.json").read_text())
    assert info["metrics"]["global_step"] == 2
    assert "general_data" in (out / "README.md").read_text()


def test_llava_onevision_runs_a_few_steps_on_black_image_baseline(
    tiny_model_path, train_file, tmp_path
) -> None:
    from mis.train.baselines import make_baseline

    data = make_baseline(train_file, "black-image", tmp_path / "black")
    out, losses = run_train(tiny_model_path("llava_onevision"), data, tmp_path / "out", max_steps=2)
    assert len(losses) == 2 and all(loss == loss for loss in losses)  # finite, no NaN


def test_interrupted_run_resumes_and_ends_at_the_same_step(tiny_model_path, train_file, tmp_path) -> None:
    from mis.train import ConfigError

    model, out = tiny_model_path("qwen2_vl"), tmp_path / "out"
    run_train(model, train_file, out, max_steps=2, save_steps=1)  # "interrupted" after step 2
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    with pytest.raises(ConfigError, match="not empty; pass --resume"):
        run_train(model, train_file, out, max_steps=4, save_steps=1)
    _, losses = run_train(model, train_file, out, max_steps=4, save_steps=1, resume=True)
    history = json.loads((out / "train_log.json").read_text())["log_history"]
    steps = [h["step"] for h in history if "loss" in h]
    assert steps == [1, 2, 3, 4]  # resumed at 3 (steps 1-2 come from the checkpoint), nothing counted twice
    state = json.loads((out / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4


def test_sample_with_too_few_placeholders_fails_naming_it(tiny_model_path, train_file, tmp_path) -> None:
    from typer.testing import CliRunner

    from mis.cli import app

    records = json.loads(train_file.read_text())
    records[2]["conversations"][0]["value"] = "Image-1: <image>\nWhat is shown?"  # 1 placeholder, 2 images
    train_file.write_text(json.dumps(records))
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--recipe",
            "tiny-cpu",
            "--model",
            str(tiny_model_path("qwen2_vl")),
            "--data",
            str(train_file),
            "--out",
            str(tmp_path / "o"),
            "--max-steps",
            "1",
        ],
    )
    assert result.exit_code == 3  # a data error (mis.errors.DataError)
    assert (
        "sample 2" in result.output and "placeholders" in result.output and "conversations" in result.output
    )
    assert not (tmp_path / "o").exists()  # no OUT left behind: the fixed rerun needs no --resume


def test_samples_without_target_are_refused(tmp_path) -> None:
    from mis.train._data import load_rows
    from tests.fixtures.data import make_mis_test_dir

    with pytest.raises(TrainDataError, match=r"sample easy/1: field 'target' is empty"):
        load_rows(str(make_mis_test_dir(tmp_path / "t", n_easy=1, n_hard=0, n_real=0)))


def test_plain_loss_equals_trl_fused_lm_head_loss(tiny_model_path, train_file, tmp_path) -> None:
    """`fused_lm_head: false` (tiny-cpu) trains the same objective as TRL's fused head: same first loss."""
    base = tiny_model_path("idefics3")
    _, fused = run_train(base, train_file, tmp_path / "fused", max_steps=2, fused_lm_head=True)
    _, plain = run_train(base, train_file, tmp_path / "plain", max_steps=2, fused_lm_head=False)
    assert len(fused) == len(plain) == 2
    assert fused[0] == pytest.approx(plain[0], rel=1e-4), (fused, plain)  # same batch, same weights


def test_cli_training_prints_a_progress_bar_and_no_warning(tiny_model_path, train_file, tmp_path) -> None:
    """The real `mis train` (LoRA + activation checkpointing: the paths that warned): a bar, no warning."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_COLOR": "1",
           "COLUMNS": "160"}
    args = [str(Path(sys.executable).parent / "mis"), "train", "--recipe", "tiny-cpu", "--model",
            str(tiny_model_path("qwen2_vl")), "--data", str(train_file), "--out", str(tmp_path / "out"),
            "--max-steps", "3", "--lora", "--gradient-checkpointing"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = (proc.stdout + proc.stderr).splitlines()
    noisy = [ln for ln in lines if "Warning" in ln or "warnings.warn" in ln or "{'loss'" in ln
             or "Loading weights" in ln or "[transformers]" in ln]
    assert noisy == [], noisy
    bar = [ln for ln in lines if "3/3 steps" in ln]
    assert bar and "loss " in bar[-1] and "ETA" in bar[-1], lines


def test_train_reports_each_step_and_raises_no_warning(tiny_model_path, train_file, tmp_path) -> None:
    import warnings

    from mis.train import TrainProgress, resolve_config, train

    events: list[TrainProgress] = []
    config = resolve_config("tiny-cpu", model=str(tiny_model_path("idefics3")), data=str(train_file),
                            out=str(tmp_path / "out"), max_steps=3, gradient_checkpointing=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config, on_progress=events.append)
    raised = [f"{w.category.__name__}: {w.message}" for w in caught
              if issubclass(w.category, FutureWarning | UserWarning)]
    assert raised == []
    steps = [e.step for e in events]
    assert steps == sorted(steps) and steps[-1] == 3 and {1, 2, 3} <= set(steps)
    assert all(e.total == 3 for e in events) and events[-1].done
    assert events[-1].loss is not None and events[-1].loss > 0


def test_a_model_that_is_neither_a_folder_nor_a_hub_id_stops_before_any_data_is_read(tmp_path) -> None:
    from mis.train import ConfigError, resolve_config, train

    (tmp_path / "empty").mkdir()
    missing_data = str(tmp_path / "no-such-data")  # never read: the model is checked first
    with pytest.raises(ConfigError, match="has no config.json"):
        train(resolve_config(model=str(tmp_path / "empty"), data=missing_data, out=str(tmp_path / "o1")))
    with pytest.raises(ConfigError, match="neither a folder nor a hub id"):
        train(resolve_config(model="./no-such-model", data=missing_data, out=str(tmp_path / "o2")))
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
