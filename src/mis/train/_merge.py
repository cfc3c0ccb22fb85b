"""Fold a LoRA adapter into its base model: a plain checkpoint that transformers and vLLM load."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mis.train._config import ConfigError

__all__ = ["merge_adapter"]

log = logging.getLogger(__name__)


def merge_adapter(
    adapter_dir: str | Path, out: str | Path, *, base: str | None = None, allow_existing: bool = False
) -> Path:
    """Load ``base`` (default: the adapter's recorded base model) + adapter, merge, save to ``out``.

    The base is reloaded unquantised, so a QLoRA adapter merges into full-precision weights.
    The processor is taken from the adapter folder when saved there, else from the base.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    adapter_dir, out = Path(adapter_dir), Path(out)
    cfg_file = adapter_dir / "adapter_config.json"
    if not cfg_file.is_file():
        raise ConfigError(
            f"adapter_dir: {adapter_dir} has no adapter_config.json (not a PEFT adapter folder)"
        )
    base = base or json.loads(cfg_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"adapter_dir: {cfg_file} names no base model; pass --base")
    if out.exists() and any(out.iterdir()) and not allow_existing:
        raise ConfigError(f"out: {out} is not empty; choose an empty folder for the merged model")
    base_model = AutoModelForImageTextToText.from_pretrained(base, dtype="auto")
    model = PeftModel.from_pretrained(base_model, str(adapter_dir))
    merged: Any = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out))
    has_processor = any(
        (adapter_dir / f).is_file() for f in ("processor_config.json", "preprocessor_config.json")
    )
    processor = AutoProcessor.from_pretrained(str(adapter_dir) if has_processor else base)
    processor.save_pretrained(str(out))
    log.info("merged %s into %s -> %s", adapter_dir, base, out)
    del merged, model, base_model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out
