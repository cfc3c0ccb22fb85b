"""Per-family inference presets, in one place, with the authors' settings as defaults.

Used by docs/models.md (the `vllm serve` and `mis eval` commands are generated from these presets and
tested against them), by the `hfvlm` provider (a checkpoint's `config.model_type` picks its preset:
processor settings and the user-turn layout apply without the user naming a family) and by training
(the same user-turn layout). Sources: the authors' inference script (GitHub `DripNowhy/MIS`,
`evaluation/inference_vllm.py`: two images per prompt, InternVL `max_dynamic_patch=4`, Idefics3
`longest_edge=4*364`, context lengths, `Image-k: <image>` labels for InternVL and Idefics3, greedy
`SamplingParams(temperature=0.0, max_tokens=1024)`) and MIS.md section 6.

Qwen pixel bounds: the script passes `min_pixels=256*28*28, max_pixels=1280*28*28` to the
`AutoProcessor` it only uses to write the prompt *text*; the pixels come from
`qwen_vl_utils.process_vision_info`, which resizes with its own defaults (4*28*28 .. 16384*28*28),
and vLLM's processor then keeps that size. The presets reproduce what reached the model: the
`qwen_vl_utils` bounds, stated explicitly so a checkpoint that saved other bounds gets the authors'.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from mis.models._layout import AUTHORS_LABELLED, STOCK, TurnLayout

__all__ = [
    "IMAGES_PER_PROMPT", "PRESETS", "Preset", "model_type_of_processor", "preset_for", "preset_for_model",
    "user_turn_layout",
]

#: Images per MIS prompt; vLLM must allow at least this many (`--limit-mm-per-prompt`).
IMAGES_PER_PROMPT = 2
#: `qwen_vl_utils` defaults: the bounds the authors' Qwen images were resized with (see module docstring).
QWEN_MIN_PIXELS = 4 * 28 * 28
QWEN_MAX_PIXELS = 16384 * 28 * 28
#: Sampling defaults a served checkpoint's generation_config would add to greedy requests; the authors'
#: offline `SamplingParams` had none, so the server is told to use the neutral value (vLLM reads
#: repetition_penalty, temperature, top_k, top_p, min_p from generation_config.json; a request that
#: sends temperature 0 is greedy whatever the others, but a repetition penalty still applies).
VLLM_PLAIN_GREEDY = {"repetition_penalty": 1.0}


@dataclass(frozen=True)
class Preset:
    """How to run one model family of the paper the way the authors did."""

    name: str
    """Short name used in docs and `--model-arg family=NAME`."""
    models: tuple[str, ...]
    """Hub ids the paper evaluated (first = the one docs use)."""
    model_types: tuple[str, ...]
    """transformers `config.model_type` values of this family (how a checkpoint finds its preset)."""
    max_model_len: int
    """Context length the authors served with."""
    layout: TurnLayout = STOCK
    """How a multi-image user turn is laid out (labels around each image)."""
    vllm_processor_kwargs: dict[str, Any] = field(default_factory=dict)
    """vLLM `--mm-processor-kwargs` (the original checkpoint's processor, remote code included)."""
    hf_processor_kwargs: dict[str, Any] = field(default_factory=dict)
    """`AutoProcessor` kwargs under `hfvlm/` (transformers-native checkpoints; names can differ)."""
    trust_remote_code: bool = False
    """Whether the original checkpoint needs `--trust-remote-code`."""
    dtype: str = "bfloat16"
    """Serving dtype."""
    hfvlm: bool = True
    """Whether the original checkpoint loads with `AutoModelForImageTextToText` (else: vLLM only)."""
    note: str = ""
    """Anything a user must know (shown in docs/models.md)."""

    def vllm_serve_args(self, model: str | None = None, *, port: int = 8000) -> list[str]:
        """`vllm serve` argument vector for ``model`` (default: the family's first paper model)."""
        args = ["vllm", "serve", model or self.models[0], "--port", str(port), "--dtype", self.dtype,
                "--max-model-len", str(self.max_model_len),
                "--limit-mm-per-prompt", _json({"image": IMAGES_PER_PROMPT}),
                "--override-generation-config", _json(VLLM_PLAIN_GREEDY)]
        if self.vllm_processor_kwargs:
            args += ["--mm-processor-kwargs", _json(self.vllm_processor_kwargs)]
        if self.trust_remote_code:
            args.append("--trust-remote-code")
        return args

    def vllm_serve_command(self, model: str | None = None, *, port: int = 8000) -> str:
        """The `vllm serve` command line, shell-quoted."""
        return shlex.join(self.vllm_serve_args(model, port=port))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


_QWEN_PIXELS = {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": QWEN_MAX_PIXELS}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("qwen2_vl",
               ("Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2-VL-72B-Instruct", "Tuwhy/Qwen2-VL-7B-MIRage"),
               ("qwen2_vl",), 4096, STOCK, _QWEN_PIXELS, _QWEN_PIXELS),
        Preset("qwen2_5_vl", ("Qwen/Qwen2.5-VL-7B-Instruct",), ("qwen2_5_vl",), 4096, STOCK,
               _QWEN_PIXELS, _QWEN_PIXELS),
        Preset("internvl2_5", ("OpenGVLab/InternVL2_5-8B", "OpenGVLab/InternVL2_5-78B",
                               "Tuwhy/InternVL2.5-8B-MIRage"),
               ("internvl_chat", "internvl"), 8192, AUTHORS_LABELLED, {"max_dynamic_patch": 4},
               {"crop_to_patches": True, "max_patches": 4}, trust_remote_code=True, hfvlm=False,
               note="The original InternVL2.5 checkpoints (and the MIRage one) use remote code that "
                    "`AutoModelForImageTextToText` does not load: serve them with vLLM. Converted `-hf` "
                    "InternVL checkpoints (model_type `internvl`) work with hfvlm, with the same tile "
                    "limit (`max_patches=4`, plus the thumbnail) and image labels."),
        Preset("llava_onevision", ("llava-hf/llava-onevision-qwen2-7b-ov-hf",
                                   "llava-hf/llava-onevision-qwen2-72b-ov-hf"),
               ("llava_onevision",), 16384, STOCK),
        Preset("idefics3", ("HuggingFaceM4/Idefics3-8B-Llama3",), ("idefics3",), 8192, AUTHORS_LABELLED,
               {"size": {"longest_edge": 4 * 364}}, {"size": {"longest_edge": 4 * 364}}),
        Preset("phi3_5_vision", ("microsoft/Phi-3.5-vision-instruct",), ("phi3_v",), 4096, STOCK,
               {"num_crops": 4}, trust_remote_code=True, hfvlm=False,
               note="Remote-code model that `AutoModelForImageTextToText` does not load: serve it with "
                    "vLLM. The authors' script passed `max_dynamic_patch=4`, an InternVL argument that "
                    "Phi-3.5-vision does not read; `num_crops=4` is Phi's own setting for multi-image "
                    "prompts (its model card)."),
    )
}


def preset_for(model_type_or_name: str | None) -> Preset | None:
    """The preset of a `config.model_type` or a preset name (None when unknown: stock settings apply)."""
    if model_type_or_name is None:
        return None
    if model_type_or_name in PRESETS:
        return PRESETS[model_type_or_name]
    for preset in PRESETS.values():
        if model_type_or_name in preset.model_types:
            return preset
    return None


#: Name fragments of served models (lower case, '-' and '.' as '_') -> preset: a server's model id is all a
#: client knows of it (vLLM's /v1/models gives no model_type), so the id names the family.
_NAME_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("internvl", "internvl2_5"), ("idefics3", "idefics3"), ("qwen2_5_vl", "qwen2_5_vl"),
    ("qwen2_vl", "qwen2_vl"), ("llava_onevision", "llava_onevision"), ("phi_3_5_vision", "phi3_5_vision"),
)


def preset_for_model(model: str) -> Preset | None:
    """The preset of a served model from its model string (``vllm/OpenGVLab/InternVL2_5-8B`` -> internvl2_5).

    The hub ids of the presets match exactly; otherwise a family's name in the id does. None: unknown (the
    stock layout applies, as before).
    """
    name = model.split("/", 1)[1] if "/" in model else model
    for preset in PRESETS.values():
        if any(name.lower().endswith(hub.lower()) for hub in preset.models):
            return preset
    norm = name.lower().replace("-", "_").replace(".", "_")
    return next((PRESETS[p] for fragment, p in _NAME_FRAGMENTS if fragment in norm), None)


def user_turn_layout(model_type_or_name: str | None) -> TurnLayout:
    """How a multi-image user turn is laid out for this model type or preset name.

    `TurnLayout.blocks` gives structured content (what `hfvlm` and the training collator send through
    the processor's chat template), `TurnLayout.text` one string with ``<image>`` placeholders (what a
    server that reads placeholders in the text, or a ShareGPT record, takes). Unknown types get the
    stock layout: images first, then the question.
    """
    preset = preset_for(model_type_or_name)
    return preset.layout if preset is not None else STOCK


def model_type_of_processor(processor: Any) -> str | None:
    """The `model_type` whose stock processor class ``processor`` is (None when transformers has none).

    For code that holds a processor but not the model config (the training collator). The first
    model type transformers maps to that class wins (`idefics3` before later reuses of its processor).
    """
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    name = type(processor).__name__
    return next((model_type for model_type, cls in PROCESSOR_MAPPING_NAMES.items() if cls == name), None)
