"""One dataclass config per command (`mis eval`, `mis judge`), saved with every run (STYLE habit 7)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mis.eval._judge import DEFAULT_RUBRIC

SPLIT_CHOICES: tuple[str, ...] = ("easy", "hard", "real", "all")
_SECRET_WORDS = ("key", "token", "secret", "password")


@dataclass
class EvalConfig:
    """Settings of one `mis eval` run (paper defaults; see docs/evaluate.md)."""

    data: str
    """MIS folder (test layout) or hub id (e.g. Tuwhy/MIS_Test)."""
    model: str
    """inspect model string: hfvlm/PATH, vllm/..., openai/..., openai-api/SERVICE/MODEL ..."""
    judge: str
    """Judge: an inspect model string (a VLM that sees the images) or exact/<name>."""
    out: Path
    """Output folder: results.json, samples.jsonl, logs/, checkpoint.jsonl, run.json."""
    split: str = "hard"
    """easy, hard, real, all (every split in the source but train), or another split it holds."""
    prompt: str = "paper"
    """Prompt template: paper (default), plain, step, two_step, safety_cot, or a file path."""
    model_base_url: str | None = None
    """OpenAI-compatible base URL of the model under test (vLLM, any local server)."""
    judge_base_url: str | None = None
    """OpenAI-compatible base URL of the judge."""
    model_args: dict[str, Any] = field(default_factory=dict)
    """Provider model args (hfvlm: device, dtype, family, trust_remote_code ...)."""
    batch_size: int | None = None
    """hfvlm only: requests per batched forward pass."""
    max_connections: int | None = None
    """Concurrent requests to the model under test (inspect's max_connections)."""
    limit: int | None = None
    """Evaluate only the first N samples of the selection."""
    max_tokens: int = 1024
    """New-token budget of the model under test (paper: 1024)."""
    temperature: float = 0.0
    """Temperature of the model under test (paper: 0, greedy)."""
    judge_rubric: str = DEFAULT_RUBRIC
    """Rubric template: packaged name or path; its sha256 is recorded."""
    judge_max_tokens: int = 512
    """Judge decoding budget."""
    judge_parse_retries: int = 2
    """Extra judge attempts when a reply holds no valid verdict (then: unknown)."""
    judge_max_connections: int | None = None
    """Concurrent judge requests (default: the judge provider's)."""
    fail_on_unknown: float = 2.0
    """Percent of unknown verdicts above which the command exits non-zero (after writing results)."""
    bootstrap: int = 0
    """Bootstrap resamples for 95% intervals of the overall rates (0 = none)."""
    benchmark: str = "mis"
    """Registered benchmark whose dataset, scorer and summary this run uses."""

    def validate(self) -> None:
        """Reject bad combinations before any model or API time is spent."""
        if not self.split or "/" in self.split:
            raise ValueError(f"split must be easy, hard, real, all or another split name, got {self.split!r}")
        if self.batch_size is not None and not self.model.startswith("hfvlm/"):
            raise ValueError("--batch-size applies to hfvlm/ models only; for servers and APIs use "
                             "--max-connections")
        for name in ("limit", "batch_size", "max_connections", "judge_max_connections"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0 <= self.fail_on_unknown <= 100:
            raise ValueError(f"fail_on_unknown is a percentage (0-100), got {self.fail_on_unknown}")

    def public(self) -> dict[str, Any]:
        """The config as saved in run.json: JSON-friendly, secret-looking model args redacted."""
        data = asdict(self)
        data["out"] = str(self.out)
        data["model_args"] = redact(self.model_args)
        return data


@dataclass
class JudgeConfig:
    """Settings of one `mis judge` run: judge responses produced elsewhere (the authors' JSONL)."""

    responses: Path
    """JSONL with question, response, image_path1, image_path2, category [, sub_category, id]."""
    data: str
    """Folder the image paths are relative to (the MIS test root)."""
    judge: str
    """Judge: an inspect model string or exact/<name>."""
    out: Path
    """Output folder (same files as `mis eval`)."""
    model: str | None = None
    """Name of the model that wrote the responses (default: the file's stem, as the authors name them)."""
    judge_base_url: str | None = None
    """OpenAI-compatible base URL of the judge."""
    max_connections: int | None = None
    """Concurrent judge requests."""
    limit: int | None = None
    """Judge only the first N responses."""
    judge_rubric: str = DEFAULT_RUBRIC
    """Rubric template: packaged name or path."""
    judge_max_tokens: int = 512
    """Judge decoding budget."""
    judge_parse_retries: int = 2
    """Extra judge attempts when a reply holds no valid verdict."""
    fail_on_unknown: float = 2.0
    """Percent of unknown verdicts above which the command exits non-zero (after writing results)."""
    bootstrap: int = 0
    """Bootstrap resamples for 95% intervals (0 = none)."""

    def public(self) -> dict[str, Any]:
        """The config as saved in run.json."""
        data = asdict(self)
        data["out"], data["responses"] = str(self.out), str(self.responses)
        return data


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """Model args with secret-looking values replaced (keys only ever come from the environment)."""
    return {k: ("<redacted>" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in args.items()}
