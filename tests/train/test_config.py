"""TrainConfig: recipe + overrides resolution, validation before any model is loaded, OUT policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mis.train import (
    ConfigError,
    TrainConfig,
    available_accelerate_configs,
    available_recipes,
    load_train_config,
    resolve_accelerate_config,
    resolve_config,
)
from mis.train._train import prepare_out

PAPER = {  # paper Table 7: lr, warm-up, epochs
    "mirage-internvl2.5-8b": (5e-6, 0.03, 2),
    "mirage-qwen2-vl-7b": (2e-6, 0.03, 3),
    "mirage-llava-onevision-7b": (5e-6, 0.03, 3),
}
#: baseline recipe -> (kind recorded, general samples): InternVL2.5-8B's Table 7 row each.
BASELINES = {
    "baseline-text-only-internvl2.5-8b": ("text-only", 500),
    "baseline-sorry-prefix-internvl2.5-8b": ("sorry-prefix", 500),
    "baseline-vlguard-p-internvl2.5-8b": ("vlguard-p", 0),
    "baseline-textual-sft-internvl2.5-8b": ("textual-sft", 0),
}


def test_packaged_recipes_carry_table7_values() -> None:
    assert set(PAPER) | set(BASELINES) | {"tiny-cpu"} == set(available_recipes())
    for name, (lr, warmup, epochs) in PAPER.items():
        config = resolve_config(name, data="d", out="o")
        assert (config.lr, config.warmup_ratio, config.epochs) == (lr, warmup, epochs), name
        assert config.freeze_vision and not config.lora and config.recipe == name
        assert config.general_samples == 500 and config.general_ratio is None  # the paper's 500, not 490
    mirage = resolve_config("mirage-internvl2.5-8b", data="d", out="o")
    for name, (kind, general) in BASELINES.items():
        config = resolve_config(name, data="d", out="o")
        assert (config.lr, config.warmup_ratio, config.epochs) == PAPER["mirage-internvl2.5-8b"], name
        assert (config.baseline, config.general_samples) == (kind, general), name
        assert config.model == mirage.model and config.max_length == mirage.max_length


def test_general_samples_or_ratio(tmp_path: Path) -> None:
    assert resolve_config(model="m", data="d", out="o").general_samples == 500  # the default is the paper's
    by_ratio = resolve_config("mirage-qwen2-vl-7b", data="d", out="o", general_ratio=0.2)
    assert (by_ratio.general_samples, by_ratio.general_ratio) == (None, 0.2)  # a ratio replaces the count
    old = tmp_path / "old.yaml"
    old.write_text("model: m\ngeneral_ratio: 0.111\n")  # a recipe that only states a ratio keeps working
    assert resolve_config(str(old), data="d", out="o").general_samples is None
    both = tmp_path / "both.yaml"
    both.write_text("model: m\ngeneral_ratio: 0.111\ngeneral_samples: 500\n")
    with pytest.raises(ConfigError, match=r"general_samples \(500\) and general_ratio \(0\.111\): set one"):
        resolve_config(str(both), data="d", out="o")
    with pytest.raises(ConfigError, match="general_samples: must be >= 0"):
        resolve_config(model="m", data="d", out="o", general_samples=-1)


def test_overrides_beat_recipe_and_none_means_not_given(tmp_path: Path) -> None:
    config = resolve_config("mirage-qwen2-vl-7b", data="d", out="o", lr=1e-4, epochs=None, lora=True)
    assert config.lr == 1e-4 and config.epochs == 3 and config.lora
    assert config.model == "Qwen/Qwen2-VL-7B-Instruct"
    custom = tmp_path / "mine.yaml"
    custom.write_text("model: m\nlr: 0.5\nmax_steps: 3\n")
    config = resolve_config(str(custom), data="d", out="o")
    assert (config.model, config.lr, config.max_steps, config.recipe) == ("m", 0.5, 3, str(custom))


def test_bad_recipe_field_and_bad_values_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 1.0e-5\n")
    with pytest.raises(
        ConfigError, match=r"unknown field 'learning_rate'.*bad\.yaml|bad\.yaml.*'learning_rate'"
    ):
        resolve_config(str(bad), model="m", data="d", out="o")
    with pytest.raises(ConfigError, match="neither a packaged name"):
        resolve_config("no-such-recipe", model="m", data="d", out="o")
    with pytest.raises(ConfigError, match="^model: required"):
        resolve_config(data="d", out="o")
    with pytest.raises(ConfigError, match="general_ratio"):
        resolve_config(model="m", data="d", out="o", general_ratio=1.5)
    with pytest.raises(ConfigError, match="max_length"):
        resolve_config(model="m", data="d", out="o", max_length=4)
    assert resolve_config(model="m", data="d", out="o", qlora=True).lora  # QLoRA is LoRA on a 4-bit base


def test_accelerate_configs_resolve_by_name_or_path(tmp_path: Path) -> None:
    assert {"zero2", "zero3", "fsdp", "ddp", "cpu"} <= set(available_accelerate_configs())
    zero3 = yaml.safe_load(resolve_accelerate_config("zero3").read_text())
    assert zero3["deepspeed_config"]["zero_stage"] == 3 and zero3["distributed_type"] == "DEEPSPEED"
    assert yaml.safe_load(resolve_accelerate_config("fsdp").read_text())["distributed_type"] == "FSDP"
    own = tmp_path / "acc.yaml"
    own.write_text("distributed_type: 'NO'\n")
    assert resolve_accelerate_config(str(own)) == own
    with pytest.raises(ConfigError, match="accelerate"):
        resolve_accelerate_config("zero4")


def test_out_policy_refuses_non_empty_unless_compatible_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = resolve_config(model="m", data="d", out=str(out), lr=1e-5)
    prepare_out(first)
    first.save(out / "train_config.yaml")
    assert load_train_config(out / "train_config.yaml") == first
    with pytest.raises(ConfigError, match="not empty; pass --resume"):
        prepare_out(resolve_config(model="m", data="d", out=str(out)))
    prepare_out(resolve_config(model="m", data="d", out=str(out), lr=1e-5, resume=True, max_steps=9))
    with pytest.raises(ConfigError, match=r"lr: 1e-05 -> 0\.001"):
        prepare_out(resolve_config(model="m", data="d", out=str(out), lr=1e-3, resume=True))


def test_qlora_on_cpu_is_a_clear_error() -> None:
    import torch

    from mis.train._model import _quantization_config

    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    with pytest.raises(ConfigError, match="qlora: .*CUDA"):
        _quantization_config()
    from mis.train import train

    with pytest.raises(ConfigError, match="qlora: .*CUDA"):  # before any data or model is read
        train(resolve_config(model="no-such-model", data="no-such-data", out="unused", qlora=True))


def test_every_field_has_help() -> None:
    import dataclasses

    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f.name
