"""Per-family inference settings, in one place (the authors' settings as defaults).

Used by docs/models.md (the `vllm serve` and `mis eval` commands are generated from these entries and
tested against them) and by the `hfvlm` provider (processor arguments such as Qwen's pixel bounds are
applied when a checkpoint's `model_type` matches a family). Sources: the authors' inference script
(two images per prompt, Qwen pixel bounds 256*28*28..1280*28*28, InternVL `max_dynamic_patch=4`,
Idefics3 `longest_edge=4*364`, context lengths) and MIS.md section 6 (greedy, 1024 new tokens).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

#: Images per MIS prompt; vLLM must allow at least this many (`--limit-mm-per-prompt`).
IMAGES_PER_PROMPT = 2
QWEN_MIN_PIXELS = 256 * 28 * 28
QWEN_MAX_PIXELS = 1280 * 28 * 28


@dataclass(frozen=True)
class Family:
    """How to run one model family of the paper."""

    name: str
    """Short name used in docs and `mis models` listings."""
    models: tuple[str, ...]
    """Hub ids the paper evaluated (first = the one docs use)."""
    model_types: tuple[str, ...]
    """transformers `config.model_type` values of this family (how hfvlm recognises a checkpoint)."""
    max_model_len: int
    """Context length the authors served with."""
    processor_kwargs: dict[str, Any] = field(default_factory=dict)
    """Image processor arguments (vLLM `--mm-processor-kwargs`, hfvlm `AutoProcessor` kwargs)."""
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
        import json

        args = ["vllm", "serve", model or self.models[0], "--port", str(port), "--dtype", self.dtype,
                "--max-model-len", str(self.max_model_len),
                "--limit-mm-per-prompt", json.dumps({"image": IMAGES_PER_PROMPT}, separators=(",", ":"))]
        if self.processor_kwargs:
            args += ["--mm-processor-kwargs", json.dumps(self.processor_kwargs, separators=(",", ":"))]
        if self.trust_remote_code:
            args.append("--trust-remote-code")
        return args

    def vllm_serve_command(self, model: str | None = None, *, port: int = 8000) -> str:
        """The `vllm serve` command line, shell-quoted."""
        return shlex.join(self.vllm_serve_args(model, port=port))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("qwen2_vl",
               ("Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2-VL-72B-Instruct", "Tuwhy/Qwen2-VL-7B-MIRage"),
               ("qwen2_vl",), 4096, {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": QWEN_MAX_PIXELS}),
        Family("qwen2_5_vl", ("Qwen/Qwen2.5-VL-7B-Instruct",), ("qwen2_5_vl",), 4096,
               {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": QWEN_MAX_PIXELS}),
        Family("internvl2_5", ("OpenGVLab/InternVL2_5-8B", "OpenGVLab/InternVL2_5-78B",
                               "Tuwhy/InternVL2.5-8B-MIRage"),
               ("internvl_chat", "internvl"), 8192, {"max_dynamic_patch": 4}, trust_remote_code=True,
               hfvlm=False,
               note="The original InternVL2.5 checkpoints (and the MIRage one) use remote code that "
                    "`AutoModelForImageTextToText` does not load: serve them with vLLM. Converted `-hf` "
                    "InternVL checkpoints (model_type `internvl`) work with hfvlm."),
        Family("llava_onevision", ("llava-hf/llava-onevision-qwen2-7b-ov-hf",
                                   "llava-hf/llava-onevision-qwen2-72b-ov-hf"),
               ("llava_onevision",), 16384),
        Family("idefics3", ("HuggingFaceM4/Idefics3-8B-Llama3",), ("idefics3",), 8192,
               {"size": {"longest_edge": 4 * 364}}),
        Family("phi3_5_vision", ("microsoft/Phi-3.5-vision-instruct",), ("phi3_v",), 4096,
               {"num_crops": 4}, trust_remote_code=True, hfvlm=False,
               note="Remote-code model that `AutoModelForImageTextToText` does not load: "
                    "serve it with vLLM."),
    )
}


def family_of(model_type: str | None) -> Family | None:
    """The family whose checkpoints have ``model_type`` (None when unknown: stock settings apply)."""
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    return None
