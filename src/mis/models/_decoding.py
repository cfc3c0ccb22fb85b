"""Plain greedy decoding for transformers `generate`: nothing from a checkpoint's generation_config leaks in.

transformers fills every generate() option the caller leaves unset from the checkpoint's
`generation_config.json` (`GenerationMixin._prepare_generation_config`: the model's values first,
explicit kwargs last). A Qwen2-VL checkpoint ships `repetition_penalty: 1.05, top_k: 1, top_p: 0.001,
temperature: 0.01`, so "greedy" there is greedy with a repetition penalty. The authors decoded with vLLM
`SamplingParams(temperature=0.0, max_tokens=1024)`, which applies none of those; `generate_kwargs` passes
every such option explicitly at its neutral value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["DEFAULT_MAX_TOKENS", "Decoding", "DecodingOptions", "gen_kwargs", "generate_kwargs",
           "neutral_kwargs"]

DEFAULT_MAX_TOKENS = 1024

#: Every generate() option that changes which token greedy (or plain sampling) picks, at its neutral
#: value. They are all passed explicitly, because transformers fills any option left unset from the
#: checkpoint's generation_config (e.g. repetition_penalty 1.05 in Qwen2-VL's): the authors' vLLM
#: `SamplingParams(temperature=0.0, max_tokens=1024)` applied none of those. Stop tokens (eos) stay the
#: checkpoint's: they end a turn, they do not change a token's choice.
_NEUTRAL: dict[str, Any] = {
    "do_sample": False, "num_beams": 1, "num_beam_groups": 1, "diversity_penalty": 0.0, "penalty_alpha": None,
    "dola_layers": None, "temperature": None, "top_k": None, "top_p": None, "min_p": None, "top_h": None,
    "typical_p": None, "epsilon_cutoff": None, "eta_cutoff": None, "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0, "length_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None, "sequence_bias": None, "min_length": 0,
    "min_new_tokens": None, "exponential_decay_length_penalty": None, "suppress_tokens": None,
    "begin_suppress_tokens": None, "forced_bos_token_id": None, "forced_eos_token_id": None,
    "renormalize_logits": False, "remove_invalid_values": False, "guidance_scale": None,
    "watermarking_config": None, "num_return_sequences": 1, "max_time": None, "stop_strings": None,
    "token_healing": False,
}


class DecodingOptions(Protocol):
    """What decoding reads from a request: inspect's `GenerateConfig`, or `Decoding` without inspect."""

    @property
    def max_tokens(self) -> int | None: ...  # noqa: D102
    @property
    def temperature(self) -> float | None: ...  # noqa: D102
    @property
    def top_p(self) -> float | None: ...  # noqa: D102
    @property
    def top_k(self) -> int | None: ...  # noqa: D102


@dataclass(frozen=True)
class Decoding:
    """The decoding options of `GenerateConfig` that `gen_kwargs` reads, for callers without inspect."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None


def neutral_kwargs() -> dict[str, Any]:
    """`_NEUTRAL` restricted to the options this transformers' GenerationConfig knows.

    An unknown key would not be an error but a model input ("unused kwargs" go to forward()).
    """
    from transformers import GenerationConfig

    known = GenerationConfig()
    return {k: v for k, v in _NEUTRAL.items() if hasattr(known, k)}


def gen_kwargs(config: DecodingOptions, default_max_tokens: int | None) -> dict[str, Any]:
    """Greedy unless a positive temperature is asked for; always a bounded number of new tokens."""
    kwargs: dict[str, Any] = {"max_new_tokens": config.max_tokens or default_max_tokens or DEFAULT_MAX_TOKENS}
    if config.temperature is not None and config.temperature > 0:
        kwargs.update(do_sample=True, temperature=config.temperature)
        if config.top_p is not None:
            kwargs["top_p"] = config.top_p
        if config.top_k is not None:
            kwargs["top_k"] = config.top_k
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def generate_kwargs(
    config: DecodingOptions, neutral: dict[str, Any], default_max_tokens: int | None
) -> dict[str, Any]:
    """The neutral options overlaid with what ``config`` asks for (greedy, or plain sampling)."""
    return {**neutral, **gen_kwargs(config, default_max_tokens)}
