"""The torch side of `hfvlm/`: load a checkpoint as its preset says, lay out turns, generate a padded batch.

`hfvlm.HFVLMAPI` (the inspect provider) is a thin queue in front of this module; nothing here imports
inspect, so a GPU check (`perf/gpu_check.sh`) or any script can run exactly the provider's loading,
prompt layout and batched greedy decoding on a machine that has torch and transformers but no inspect.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mis.errors import UsageError
from mis.models._decoding import DEFAULT_MAX_TOKENS, Decoding, generate_kwargs, neutral_kwargs
from mis.models._layout import STOCK, TurnLayout, template_image_suffix
from mis.models._messages import lay_out, neutralise, reserved_markers
from mis.models.presets import PRESETS, Preset, preset_for

__all__ = ["TINY_MARKER", "LoadedVLM", "generate_batch", "load_vlm"]

#: Written by `mis.models.tiny` into a tiny model's config.json (and kept by `mis train` outputs): its
#: vision tower and context are sized for its own processor, so a preset's pixel settings must not apply.
TINY_MARKER = "mis_tiny_model"


@dataclass
class LoadedVLM:
    """A checkpoint loaded the way `hfvlm/` runs it: model, processor, preset, layout, decoding defaults."""

    model_name: str
    model: Any
    processor: Any
    device: str
    model_type: str | None
    preset: Preset | None
    layout: TurnLayout
    processor_kwargs: dict[str, Any] = field(default_factory=dict)
    reserved: dict[str, str] = field(default_factory=dict)
    image_suffix: str = ""
    neutral: dict[str, Any] = field(default_factory=dict)

    def conversation(
        self,
        messages: list[dict[str, Any]],
        neutralise_fn: Callable[[dict[str, Any], dict[str, str]], dict[str, Any]] = neutralise,
    ) -> list[dict[str, Any]]:
        """Transformers chat messages (structured blocks) laid out for this family, markers made inert."""
        return [neutralise_fn(lay_out(m, self.layout, self.image_suffix), self.reserved) for m in messages]

    def greedy_kwargs(self, max_tokens: int | None = None) -> dict[str, Any]:
        """The `generate` options of plain greedy decoding (what `hfvlm` uses at temperature 0)."""
        return generate_kwargs(Decoding(max_tokens=max_tokens), self.neutral, DEFAULT_MAX_TOKENS)

    def generate(self, conversations: list[list[dict[str, Any]]],
                 gen_kwargs: dict[str, Any]) -> list[tuple[str, int, int]]:
        """One left-padded forward pass over ``conversations``: (text, prompt tokens, new tokens) each."""
        return generate_batch(self.model, self.processor, self.device, conversations, gen_kwargs)


def load_vlm(
    model_name: str,
    *,
    device: str | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    family: str = "auto",
    processor_kwargs: dict[str, Any] | None = None,
    token: str | None = None,
    on_tiny: Callable[[Preset], None] | None = None,
    **model_args: Any,
) -> LoadedVLM:
    """Load ``model_name`` with its preset's processor settings (none for a tiny model), in eval mode."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    device = str(device or best_device(torch))
    try:
        hf_config = AutoConfig.from_pretrained(model_name, trust_remote_code=trust_remote_code, token=token)
    except OSError as exc:
        raise UsageError(f"hfvlm: cannot load {model_name!r}: not a model folder, and not found on the "
                         f"hub or in its cache ({str(exc).splitlines()[0]})") from exc
    model_type: str | None = getattr(hf_config, "model_type", None)
    preset = resolve_preset(family, model_type)
    kwargs: dict[str, Any] = {}
    if preset is not None and getattr(hf_config, TINY_MARKER, False):
        if on_tiny is not None:
            on_tiny(preset)
    elif preset is not None:
        kwargs.update(preset.hf_processor_kwargs)
    kwargs.update(processor_kwargs or {})
    processor = AutoProcessor.from_pretrained(model_name, trust_remote_code=trust_remote_code, token=token,
                                              **kwargs)
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"  # decoder-only generation: pad on the left
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForImageTextToText.from_pretrained(
        model_name, dtype=torch_dtype(torch, dtype, device), trust_remote_code=trust_remote_code, token=token,
        **model_args)
    model = model.to(torch.device(device))  # type: ignore[arg-type]  # transformers stub
    model.eval()
    return LoadedVLM(model_name=model_name, model=model, processor=processor, device=device,
                     model_type=model_type, preset=preset,
                     layout=preset.layout if preset is not None else STOCK, processor_kwargs=kwargs,
                     reserved=reserved_markers(processor), image_suffix=template_image_suffix(processor),
                     neutral=neutral_kwargs())


def generate_batch(model: Any, processor: Any, device: str, conversations: list[list[dict[str, Any]]],
                   gen_kwargs: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Generate for every conversation in one left-padded batch; (text, prompt tokens, new tokens) each."""
    import torch

    inputs = processor.apply_chat_template(
        conversations,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True},
    ).to(device)
    if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    pad_id = processor.tokenizer.pad_token_id
    with torch.inference_mode():
        sequences = model.generate(**inputs, **gen_kwargs, pad_token_id=pad_id)
    prompt_len = inputs["input_ids"].shape[1]
    new_tokens = sequences[:, prompt_len:]  # (batch, new) - left padding aligns every prompt end
    texts = processor.batch_decode(new_tokens, skip_special_tokens=True)
    out = []
    for i, text in enumerate(texts):
        n_in = int(inputs["attention_mask"][i].sum())
        n_out = int(count_generated(new_tokens[i], model.generation_config, pad_id))
        out.append((text.strip(), n_in, n_out))
    return out


def count_generated(tokens: Any, generation_config: Any, pad_id: int | None) -> int:
    """Generated tokens up to and including the first stop token (the rest is batch padding)."""
    eos = generation_config.eos_token_id
    stop = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    n = 0
    for tok in tokens.tolist():
        n += 1
        if tok in stop:
            break
    return n


def resolve_preset(family: str, model_type: str | None) -> Preset | None:
    """`auto` -> the model type's preset; `none` -> no preset; else the named one (unknown: error)."""
    if family == "auto":
        return preset_for(model_type)
    if family == "none":
        return None
    if family not in PRESETS:
        raise UsageError(f"hfvlm: unknown family {family!r}; use auto, none or one of {', '.join(PRESETS)}")
    return PRESETS[family]


def best_device(torch: Any) -> str:
    """The best device: CUDA (a data-parallel rank: its own ``cuda:LOCAL_RANK``), else MPS, else CPU."""
    if torch.cuda.is_available():
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:  # torchrun / accelerate launch: one GPU each
            local = int(os.environ.get("LOCAL_RANK", "0") or 0) % torch.cuda.device_count()
            torch.cuda.set_device(local)
            return f"cuda:{local}"
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def torch_dtype(torch: Any, name: str, device: str) -> Any:
    """`auto` (bf16 on CUDA, fp32 elsewhere) or a named dtype."""
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]
    except KeyError:
        raise UsageError(f"hfvlm: dtype must be auto, bfloat16, float16 or float32, got {name!r}") from None
