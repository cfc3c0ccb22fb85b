"""Checks that run before anything expensive.

A wrong model string, a missing key or an unusable output folder is a one-line error in a second, not a
traceback after the model has generated every response.
"""

from __future__ import annotations

import os
from pathlib import Path

from mis._util.providers import BATCH_PROVIDERS, missing_key, provider_of
from mis.errors import UsageError


def check_model(model: str, base_url: str | None, *, what: str = "model") -> None:
    """``model`` parses, names a known provider, and has its API key (or a base URL for a keyless server)."""
    provider = provider_of(model, what=what)
    if provider == "exact":
        if what == "model":
            raise UsageError(f"--model {model!r}: exact/ names a judge, not a model under test")
        from mis.judges.exact import get_exact_judge

        get_exact_judge(model.split("/", 1)[1])
        return
    if provider == "hfvlm":
        _check_checkpoint(model.split("/", 1)[1], what)
    why = missing_key(model, base_url)
    if why:
        raise UsageError(f"--{what} {why}")


def check_batch(model: str) -> None:
    """``--judge-batch`` needs a provider whose batch API inspect speaks (others would ignore it silently)."""
    provider = provider_of(model, what="judge")
    if provider == "exact":
        raise UsageError(f"--judge-batch: {model} is an exact judge (it sends no requests to batch)")
    if provider not in BATCH_PROVIDERS:
        hint = (" (for an OpenAI-compatible server that speaks /v1/files and /v1/batches, use openai/NAME "
                "with --judge-base-url)" if provider in ("openai-api", "vllm", "sglang") else "")
        raise UsageError(f"--judge-batch: inspect has no batch API for provider {provider!r} of {model}; "
                         f"it has one for {', '.join(BATCH_PROVIDERS)}{hint}")


def _check_checkpoint(name: str, what: str) -> None:
    """An ``hfvlm/`` model is a local folder with a config.json, or a hub id (``owner/name``)."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UsageError(f"--{what} hfvlm/{name}: the folder has no config.json (not a saved model)")
        return
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise UsageError(f"--{what} hfvlm/{name}: no such model folder (and not a hub id like "
                         "Qwen/Qwen2-VL-7B-Instruct)")


def check_rubric(rubric: str) -> None:
    """The MIS rubric is a packaged protocol or an existing template file."""
    from mis.judges.mis import rubric_of

    rubric_of(rubric)


def check_judge_protocol(protocol: str, judge: str | None) -> None:
    """The MIS judge protocol is ``mis`` or an open guard, and a guard needs a model (not an exact judge)."""
    from mis.judges._open import OPEN_GUARDS

    if protocol != "mis" and protocol not in OPEN_GUARDS:
        raise UsageError(f"--judge-protocol {protocol!r}: choose mis or one of {', '.join(OPEN_GUARDS)}")
    if protocol != "mis" and judge is not None and judge.startswith("exact/"):
        raise UsageError(f"--judge-protocol {protocol} needs a guard model as --judge (e.g. "
                         "openai-api/vllm/meta-llama/Llama-Guard-4-12B), not an exact judge")


def check_out(out: Path) -> None:
    """The output folder can be created and written (a file in its place, or no permission, is refused)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file is in the way (expected a folder)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: not writable")
