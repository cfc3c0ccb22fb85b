"""`TrainConfig`: the one configuration of a `mis train` run, resolved from recipe YAML + overrides.

Order of precedence (lowest first): the dataclass defaults, the recipe (`--recipe NAME|PATH`), then
explicit overrides (CLI flags or keyword arguments). The resolved config is written to
``OUT/train_config.yaml`` so every run says exactly how it was made (TRL `sft_config.py` habit).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mis.errors import ConfigError as BaseConfigError

__all__ = [
    "ConfigError",
    "TrainConfig",
    "available_accelerate_configs",
    "available_recipes",
    "load_train_config",
    "resolve_accelerate_config",
    "resolve_config",
    "resolve_recipe",
]

#: Fields that may change between a run and its `--resume` (they do not change what was learnt so far).
RESUMABLE_CHANGES = frozenset(
    {
        "resume",
        "max_steps",
        "epochs",
        "save_steps",
        "save_total_limit",
        "logging_steps",
        "accelerate",
        "validate",
        "dataloader_num_workers",
        "report_to",
        "out",
        "recipe",
    }
)


class ConfigError(BaseConfigError):
    """A bad training option; the message names the field, the reason and the fix (exit code 2)."""


def _f(default: Any, help: str, panel: str, **meta: Any) -> Any:  # noqa: A002 - TRL's metadata={"help": ...}
    """A field with its help text and CLI help panel in its metadata (`mis train --help` is built from it)."""
    metadata = {"help": help, "panel": panel, **meta}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _data(default: Any, help: str, **meta: Any) -> Any:  # noqa: A002
    return _f(default, help, "Data and output", **meta)


def _optim(default: Any, help: str) -> Any:  # noqa: A002
    return _f(default, help, "Optimisation")


def _trained(default: Any, help: str) -> Any:  # noqa: A002
    return _f(default, help, "What is trained")


def _speed(default: Any, help: str) -> Any:  # noqa: A002
    return _f(default, help, "Memory, speed and launch")


def _ckpt(default: Any, help: str) -> Any:  # noqa: A002
    return _f(default, help, "Checkpoints and logging")


@dataclass
class TrainConfig:
    """Everything `mis train` needs. Every field has a default; recipes set the paper's values."""

    # --- what to train, on what, where to
    model: str | None = _data(None, "Local path or hub id of an AutoModelForImageTextToText checkpoint.")
    data: str | None = _data(
        None, "Training data: anything `mis.data.load` reads whose samples carry `target`."
    )
    out: str | None = _data(
        None, "Output folder: final weights + processor + README.md; checkpoints in OUT/checkpoints."
    )
    recipe: str | None = _data(
        None, "Name or path of the recipe this config came from (recorded, not re-read)."
    )
    splits: list[str] | None = _data(
        None,
        "Only these splits of --data (repeatable; default: all; each must carry targets).",
        option="--split",
    )
    general_data: str | None = _data(
        None,
        "General instruction set mixed in (paper: 500 M4-Instruct samples); a run without it logs a warning.",
    )
    general_samples: int | None = _data(
        500,
        "Exactly this many general samples are mixed in (paper App. B.2: 500; the paper's 11.1% is "
        "500 of 4,427). None: use --general-ratio, or all of --general-data.",
    )
    general_ratio: float | None = _data(
        None,
        "Instead of --general-samples: the general share of the final mixture (e.g. 0.111). Setting it "
        "(without --general-samples) turns --general-samples off.",
    )
    baseline: str | None = _data(
        None,
        "Which of the paper's baselines this run trains (text-only, vlguard-p, sorry-prefix, "
        "textual-sft); recorded with the run, set by the baseline recipes.",
    )
    # --- optimisation
    epochs: float = _optim(3.0, "Training epochs (paper Table 7: 2 for InternVL2.5, 3 for the others).")
    lr: float = _optim(1e-5, "Peak learning rate (paper Table 7: 5e-6, or 2e-6 for Qwen2-VL).")
    warmup_ratio: float = _optim(0.03, "Linear warm-up as a share of all steps (paper: 0.03).")
    lr_scheduler: str = _optim(
        "cosine", "transformers scheduler name after warm-up (our choice; the paper is silent)."
    )
    weight_decay: float = _optim(0.0, "AdamW weight decay (our choice).")
    optim: str = _optim("adamw_torch", "transformers optimizer name (our choice; the paper is silent).")
    batch_size: int = _optim(1, "Per-device batch size.")
    grad_accum: int = _optim(
        1, "Gradient accumulation steps (global batch = batch_size * grad_accum * GPUs)."
    )
    max_length: int | None = _optim(
        4096, "Max tokens per sample; image tokens past it stop the run, target tokens past it are cut."
    )
    max_steps: int | None = _optim(None, "Stop after this many optimizer steps (overrides epochs).")
    seed: int = _optim(42, "Seed for data order, mixing, LoRA init.")
    # --- what is trained
    freeze_vision: bool = _trained(
        True, "Freeze the vision encoder; train LM + projector (the paper's setting)."
    )
    lora: bool = _trained(
        False, "Train LoRA adapters on the language model's linear layers instead of all weights."
    )
    qlora: bool = _trained(False, "LoRA on a 4-bit (NF4) base model; needs CUDA and bitsandbytes.")
    lora_r: int = _trained(16, "LoRA rank.")
    lora_alpha: int = _trained(32, "LoRA alpha (scaling = alpha / r).")
    lora_dropout: float = _trained(0.05, "LoRA dropout.")
    merge_lora: bool = _trained(
        True, "Fold the adapter into OUT's weights at the end (OUT/adapter is kept either way)."
    )
    # --- memory / speed
    bf16: bool | None = _speed(None, "bf16 mixed precision; None = on when a bf16-capable GPU is present.")
    gradient_checkpointing: bool = _speed(
        True, "Recompute activations in backward (less memory, ~30% slower)."
    )
    fused_lm_head: bool = _speed(
        True,
        "TRL's fused LM head: log-probs computed in tiles over answer tokens only, never the full logits "
        "(saves GBs on 150k-token vocabularies). False uses the model's own cross-entropy, faster for tiny "
        "vocabularies where the tiling costs more than it saves (the tiny-cpu recipe).",
    )
    attn_implementation: str | None = _speed(
        None, "e.g. sdpa, flash_attention_2 (None = transformers' default)."
    )
    dataloader_num_workers: int = _speed(0, "DataLoader workers that open and process images.")
    accelerate: str | None = _speed(
        None, "Launch under `accelerate launch`: zero2, zero3, fsdp, ddp or a YAML path."
    )
    num_processes: int | None = _speed(
        None, "Processes for --accelerate (default: the config's value / all GPUs)."
    )
    # --- checkpoints / logging
    resume: bool = _ckpt(
        False, "Resume from the last checkpoint in OUT/checkpoints (refuses a non-empty OUT otherwise)."
    )
    save_steps: int = _ckpt(500, "Save a checkpoint every N optimizer steps.")
    save_total_limit: int | None = _ckpt(2, "Keep only the last N checkpoints.")
    logging_steps: int = _ckpt(10, "Log loss every N steps.")
    report_to: str = _ckpt("none", "transformers report_to (none, tensorboard, wandb, ...).")
    validate: bool = _ckpt(
        True, "Process every sample once before training so a bad one stops the run early."
    )

    def check(self) -> TrainConfig:
        """Validate field combinations before any model is loaded; raise ConfigError naming field and fix."""
        for name in ("model", "data", "out"):
            if not getattr(self, name):
                raise ConfigError(f"{name}: required (pass --{name} or set it in the recipe)")
        if self.general_ratio is not None and not 0 <= self.general_ratio < 1:
            raise ConfigError(f"general_ratio: must be in [0, 1), got {self.general_ratio}")
        if self.general_samples is not None and self.general_ratio is not None:
            raise ConfigError(
                f"general_samples ({self.general_samples}) and general_ratio ({self.general_ratio}): set "
                "one; general_samples: null in a recipe uses the ratio"
            )
        if self.general_samples is not None and self.general_samples < 0:
            raise ConfigError(f"general_samples: must be >= 0, got {self.general_samples}")
        for name in ("lr", "epochs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        for name in ("batch_size", "grad_accum", "save_steps", "logging_steps", "lora_r"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps: must be >= 1, got {self.max_steps}")
        if self.max_length is not None and self.max_length < 16:
            raise ConfigError(f"max_length: {self.max_length} cannot hold a prompt and an answer (use >= 16)")
        if self.qlora and not self.lora:
            self.lora = True  # QLoRA is LoRA on a quantised base; recorded so the saved config says so
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML-safe) of every field."""
        return dataclasses.asdict(self)

    def save(self, path: Path) -> Path:
        """Write the resolved config as YAML (what `load_train_config` reads back)."""
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        return path


def check_model_source(model: str) -> None:
    """Before any data or weights are read: a local folder holds a saved model, anything else is a hub id."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model: {model} has no config.json (not a saved transformers model)")
        return
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ConfigError(f"model: {model} is neither a folder nor a hub id (owner/name)")


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _from_mapping(values: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = [k for k in values if k not in FIELDS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{source}: unknown field {key!r}{hint}; fields are {', '.join(FIELDS)}")
    return dict(values)


def _packaged(folder: str) -> dict[str, Path]:
    root = resources.files("mis.train") / folder
    return {p.name[: -len(".yaml")]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def available_recipes() -> list[str]:
    """Names of the recipes shipped with mis (`src/mis/train/recipes/*.yaml`)."""
    return sorted(_packaged("recipes"))


def available_accelerate_configs() -> list[str]:
    """Names of the accelerate configs shipped with mis (`src/mis/train/accelerate_configs/*.yaml`)."""
    return sorted(_packaged("accelerate_configs"))


def _resolve(name_or_path: str, folder: str, what: str) -> Path:
    packaged = _packaged(folder)
    if name_or_path in packaged:
        return packaged[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise ConfigError(
        f"{what}: {name_or_path!r} is neither a packaged name ({', '.join(sorted(packaged))}) nor a file"
    )


def resolve_recipe(name_or_path: str) -> Path:
    """Packaged recipe name (e.g. ``mirage-qwen2-vl-7b``) or a YAML path -> the file."""
    return _resolve(name_or_path, "recipes", "recipe")


def resolve_accelerate_config(name_or_path: str) -> Path:
    """Packaged accelerate config name (``zero2``, ``zero3``, ``fsdp``, ``ddp``, ``cpu``) or a YAML path."""
    return _resolve(name_or_path, "accelerate_configs", "accelerate")


def resolve_config(recipe: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults <- recipe YAML <- overrides (None values are "not given"), validated."""
    values: dict[str, Any] = {}
    if recipe:
        path = resolve_recipe(recipe)
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"recipe {path}: expected a mapping of TrainConfig fields, got {type(loaded).__name__}"
            )
        values.update(_from_mapping(loaded, f"recipe {path}"))
        if not values.get("recipe"):  # a saved config (launch, resume) keeps its original recipe name
            values["recipe"] = recipe
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(_from_mapping(given, "override"))
    if "general_ratio" in given and "general_samples" not in given:
        values["general_samples"] = None  # asking for a ratio on the command line replaces the count
    elif values.get("general_ratio") is not None and "general_samples" not in values:
        values["general_samples"] = None  # a recipe that only states a ratio
    return TrainConfig(**values).check()


def load_train_config(path: Path) -> TrainConfig:
    """Read a saved ``train_config.yaml`` back (resume checks, model cards)."""
    values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return TrainConfig(**_from_mapping(values, str(path)))
