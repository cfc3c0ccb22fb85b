"""MIRage training: supervised fine-tuning of any transformers VLM on MIS-style data with TRL.

`train(config)` runs one fine-tuning job; `resolve_config` builds its `TrainConfig` from a recipe
(`available_recipes()`) plus overrides; `merge_adapter` folds a LoRA adapter into its base;
`mis.train.baselines` makes the paper's baseline datasets. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mis.train._config import (
    ConfigError,
    TrainConfig,
    available_accelerate_configs,
    available_recipes,
    load_train_config,
    resolve_accelerate_config,
    resolve_config,
    resolve_recipe,
)
from mis.train._data import TrainDataError
from mis.train._progress import ProgressHook, TrainProgress, quiet_third_party

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "ConfigError",
    "TrainConfig",
    "TrainDataError",
    "TrainProgress",
    "available_accelerate_configs",
    "available_recipes",
    "load_train_config",
    "merge_adapter",
    "resolve_accelerate_config",
    "resolve_config",
    "resolve_recipe",
    "quiet_third_party",
    "train",
]


def train(config: TrainConfig, *, on_progress: ProgressHook | None = None) -> Path:
    """Fine-tune ``config.model`` on ``config.data``; return OUT (see `mis.train._train.train`).

    ``on_progress`` receives a ``TrainProgress`` (step, total, loss, elapsed) at every optimizer step.
    """
    from mis.train._train import train as _train

    return _train(config, on_progress=on_progress)


def merge_adapter(adapter_dir: Any, out: Any, *, base: str | None = None) -> Path:
    """Fold a LoRA adapter into its base model and save a plain checkpoint to ``out``."""
    from mis.train._merge import merge_adapter as _merge

    return _merge(adapter_dir, out, base=base)
