"""Model loading for training: dtype, vision-tower freezing, LoRA / QLoRA set-up.

The vision encoder is found by name across architectures (Qwen2/2.5-VL `visual`, LLaVA-OneVision /
InternVL `vision_tower`, Idefics3 `vision_model`, ...). Parts of the encoder that are really the
projector (Qwen's `visual.merger`) stay trainable: the paper trains the LM and the projector.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mis.train._config import ConfigError, TrainConfig

if TYPE_CHECKING:
    import torch

__all__ = ["find_vision_modules", "freeze_vision", "load_model", "load_processor", "lora_config", "use_bf16"]

log = logging.getLogger(__name__)

#: Module names that are a vision encoder in transformers' VLMs (last component of the dotted name).
VISION_NAMES = ("visual", "vision_tower", "vision_model", "vision_encoder", "image_encoder", "vpm")
#: Sub-modules of a vision encoder that project into the LM (trained with the LM).
PROJECTOR_IN_VISION = ("merger",)


def use_bf16(config: TrainConfig) -> bool:
    """Resolve ``bf16=None`` (auto): on with a bf16-capable CUDA device, off on CPU."""
    import torch

    if config.bf16 is None:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if config.bf16 and not torch.cuda.is_available():
        log.warning("bf16 on CPU: autocast works but is slow; pass --no-bf16 for CPU runs")
    return config.bf16


def find_vision_modules(model: torch.nn.Module) -> list[str]:
    """Dotted names of the outermost vision-encoder modules; raises when there is none."""
    found: list[str] = []
    for name, _ in model.named_modules():
        if not name:
            continue
        if name.split(".")[-1] in VISION_NAMES and not any(name.startswith(f + ".") for f in found):
            found.append(name)
    if not found:
        raise ConfigError(
            f"freeze_vision: cannot find the vision encoder of {type(model).__name__} "
            "(looked for modules named "
            f"{', '.join(VISION_NAMES)}); pass --no-freeze-vision to train every weight"
        )
    return found


def freeze_vision(model: torch.nn.Module) -> dict[str, int]:
    """Freeze the vision encoder (except projector parts inside it); return parameter counts."""
    prefixes = find_vision_modules(model)
    frozen = trainable = 0
    for name, param in model.named_parameters():
        in_vision = any(name.startswith(p + ".") for p in prefixes)
        is_projector = any(f".{k}." in name for k in PROJECTOR_IN_VISION)
        if in_vision and not is_projector:
            param.requires_grad_(False)
            frozen += param.numel()
        elif param.requires_grad:
            trainable += param.numel()
    log.info("froze vision encoder %s: %d params frozen, %d trainable", prefixes, frozen, trainable)
    return {"frozen": frozen, "trainable": trainable}


def lm_linear_names(model: torch.nn.Module) -> list[str]:
    """Full names of the language model's Linear layers (LoRA targets): not vision, projector or lm_head."""
    import torch

    try:
        vision = find_vision_modules(model)
    except ConfigError:
        vision = []
    skip = ("lm_head", "multi_modal_projector", "connector", "merger", "mlp1")
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if any(name.startswith(v + ".") for v in vision) or any(s in name.split(".") for s in skip):
            continue
        names.append(name)
    if not names:
        raise ConfigError(f"lora: no Linear layers found in the language model of {type(model).__name__}")
    return names


def lora_config(model: torch.nn.Module, config: TrainConfig) -> Any:
    """PEFT LoraConfig on every linear layer of the language model."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=lm_linear_names(model),
        task_type="CAUSAL_LM",
    )


def _quantization_config() -> Any:
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("qlora: 4-bit loading (bitsandbytes) needs a CUDA GPU; on CPU use --lora")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ConfigError("qlora: bitsandbytes is not installed; run `pip install bitsandbytes`") from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_processor(config: TrainConfig) -> Any:
    """The model's processor (tokenizer + image processor + chat template)."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(config.model)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model: cannot load a processor from {config.model!r}: {exc}") from exc


def load_model(config: TrainConfig, bf16: bool) -> Any:
    """Load the model (dtype, attention, quantisation) and freeze its vision tower for full fine-tuning."""
    import torch
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    if config.qlora:
        kwargs["quantization_config"] = _quantization_config()
        kwargs["dtype"] = torch.bfloat16
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(config.model), **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"model: cannot load {config.model!r} as AutoModelForImageTextToText: {exc}"
        ) from exc
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    if config.freeze_vision and not config.lora:
        freeze_vision(model)
    return model
