"""Model strings and API keys: one policy for the model under test and for every judge.

A model string is inspect's ``provider/name`` (``openai/gpt-4o-2024-11-20``,
``vllm/Qwen/Qwen2-VL-7B-Instruct``,
``openai-api/<service>/<model>``) or ours (``hfvlm/<path or hub id>``, ``exact/<name>`` for exact judges).
Keys
come only from the environment; a keyless local OpenAI-compatible server (``--model-base-url`` /
``--judge-base-url``) gets a placeholder key so the client does not refuse to start.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from mis.errors import UsageError

#: Providers inspect registers (0.3.x) plus mis's own.
PROVIDERS: tuple[str, ...] = (
    "openai",
    "openai-api",
    "openai-api-completions",
    "anthropic",
    "google",
    "hf",
    "vllm",
    "vllm-completions",
    "sglang",
    "cloudflare",
    "mistral",
    "grok",
    "together",
    "fireworks",
    "moonshot",
    "meta",
    "litellm-proxy",
    "deepseek",
    "sambanova",
    "ollama",
    "openrouter",
    "perplexity",
    "llama-cpp-python",
    "azureai",
    "bedrock",
    "mockllm",
    "sagemaker",
    "groq",
    "transformer_lens",
    "nnterp",
    "none",
    "hf-inference-providers",
    "hfvlm",
    "exact",
)
#: provider -> the environment variables that can hold its key (any one is enough).
KEY_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY", "VERTEX_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "grok": ("XAI_API_KEY", "GROK_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "fireworks": ("FIREWORKS_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "perplexity": ("PERPLEXITY_API_KEY",),
    "azureai": ("AZUREAI_API_KEY", "AZURE_API_KEY", "AZUREAI_OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"),
}
#: Providers whose batch API inspect speaks (``GenerateConfig.batch``; the others ignore the setting).
BATCH_PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google", "grok", "together")
#: A placeholder inspect's OpenAI client accepts when a local server needs no key.
PLACEHOLDER_KEY = "EMPTY"


def provider_of(model: str, *, what: str = "model") -> str:
    """The provider of a model string; a clear error with a suggestion for a malformed or unknown one."""
    if "/" not in model:
        close = difflib.get_close_matches(model, ["openai/gpt-4o-2024-11-20"], n=1, cutoff=0.3)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"--{what} {model!r} is not a model string: expected provider/name, e.g. "
            f"openai/gpt-4o-2024-11-20, vllm/Qwen/Qwen2-VL-7B-Instruct or hfvlm/PATH{hint}"
        )
    provider = model.split("/", 1)[0]
    if provider not in PROVIDERS:
        close = difflib.get_close_matches(provider, PROVIDERS, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0] + '/' + model.split('/', 1)[1]!r}?" if close else ""
        raise UsageError(
            f"--{what} {model!r}: unknown provider {provider!r}{hint} (known: {', '.join(sorted(PROVIDERS))})"
        )
    if provider == "openai-api" and model.count("/") < 2:
        raise UsageError(f"--{what} {model!r}: openai-api models are openai-api/<service>/<model>")
    return provider


def key_vars(model: str) -> tuple[str, ...]:
    """The environment variables that can hold this model's key (empty: it needs none)."""
    provider = model.split("/", 1)[0]
    if provider == "openai-api":
        return (model.split("/")[1].upper().replace("-", "_") + "_API_KEY",)
    return KEY_VARS.get(provider, ())


def missing_key(model: str, base_url: str | None) -> str | None:
    """Why this model cannot authenticate (the variable to set), or None when it can.

    A model served at ``base_url`` (a local vLLM or any OpenAI-compatible server) is given a placeholder key
    when none is set, so only hosted APIs without a key are reported.
    """
    names = key_vars(model)
    if not names or any(os.environ.get(n) for n in names):
        return None
    provider = model.split("/", 1)[0]
    if base_url and provider in ("openai", "openai-api"):
        return None
    return f"{model} needs an API key: set {' or '.join(names)} in the environment (keys are never options)"


def key_args(model: str, base_url: str | None) -> dict[str, Any]:
    """Extra ``get_model`` arguments: a placeholder key for a keyless server at ``base_url``, else nothing."""
    provider = model.split("/", 1)[0]
    if (
        base_url
        and provider in ("openai", "openai-api")
        and not any(os.environ.get(n) for n in key_vars(model))
    ):
        return {"api_key": PLACEHOLDER_KEY}
    return {}
