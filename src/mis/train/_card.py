"""The model card (README.md) written last into a finished training output: its completion marker."""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from mis.train._config import TrainConfig

__all__ = ["write_model_card"]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_model_card(
    out: Path, config: TrainConfig, data: dict[str, Any], metrics: dict[str, Any], *, bf16: bool
) -> Path:
    """Render templates/model_card.md.jinja into OUT/README.md (recipe, data hashes, versions, metrics)."""
    import jinja2

    import mis

    source = (resources.files("mis.train") / "templates" / "model_card.md.jinja").read_text(encoding="utf-8")
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
        source
    )
    method = (
        ("QLoRA" if config.qlora else "LoRA" if config.lora else "full fine-tuning")
        + (", vision encoder frozen" if config.freeze_vision or config.lora else "")
        + (", bf16" if bf16 else ", fp32")
    )
    if config.lora and not config.merge_lora:
        method += "; adapter only, in OUT/adapter (fold it in with `mis train merge OUT/adapter --out DIR`)"
    text = template.render(
        name=Path(str(config.out)).name,
        base_model=config.model,
        recipe=config.recipe,
        method=method,
        versions={
            "mis": mis.__version__,
            **{d: _version(d) for d in ("transformers", "trl", "peft", "torch")},
        },
        metrics={"global_step": metrics.get("global_step"), "train_loss": metrics.get("train_loss")},
        data=data,
        out=str(out),
        config_yaml=yaml.safe_dump(config.to_dict(), sort_keys=False),
    )
    path = out / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
