"""One dataclass config per evaluation command (`mis eval`, `mis judge`, `mis bench run`), saved per run.

Each field's docstring is its ``--help`` text and its default is the command line's default: the CLI is
generated from these classes (:mod:`mis._util.config`), and a recipe (``--recipe NAME|FILE``, YAML of field
values) plus the options given on the command line resolve into one object, here in the library.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mis.errors import UsageError
from mis.eval import preflight

SPLIT_CHOICES: tuple[str, ...] = ("easy", "hard", "real", "all")
_SECRET_WORDS = ("key", "token", "secret", "password")
#: Providers whose server can read ``file://`` images (inspect's OpenAI-compatible providers; vLLM's
#: --allowed-local-media-path).
FILE_TRANSPORT_APIS: tuple[str, ...] = ("vllm", "openai-api")


class _Saved:
    """What every command config shares: the form saved in run.json."""

    def public(self) -> dict[str, Any]:
        """The config as saved in run.json: JSON-friendly, secret-looking model args redacted."""
        return public(self)

@dataclass(kw_only=True)
class LogOptions(_Saved):
    """Logs."""

    log_images: bool = False
    """Keep every image's bytes in the inspect logs (about 2x the image size per request); by default the logs
    and run folder hold each image's path and sha256 only."""


@dataclass(kw_only=True)
class InputOptions(LogOptions):
    """Input checks."""

    invalid_images: str = "stop"
    """An image that fails the gate (outside the dataset, missing, not an image, truncated, too many pixels):
    stop (before any request, naming sample, field and path) or skip (the sample is counted as invalid)."""
    allow_outside_root: bool = False
    """Accept image paths that lead outside the dataset folder (absolute, ../, symlinks): by default no file
    outside the dataset is ever read or sent."""

    def check_inputs(self) -> None:
        """The image policy is one of the two."""
        if self.invalid_images not in ("stop", "skip"):
            raise UsageError(f"--invalid-images must be stop or skip, got {self.invalid_images!r}")


@dataclass(kw_only=True)
class JudgeOptions(InputOptions):
    """Judge."""

    judge: str | None = None
    """Judge: an inspect model string (a VLM that sees the images: openai/gpt-4o-2024-11-20) or exact/NAME."""
    judge_base_url: str | None = None
    """OpenAI-compatible base URL of the judge (a vLLM server, any local server)."""
    judge_max_connections: int | None = None
    """Concurrent judge requests (default: the judge provider's)."""
    judge_max_tokens: int | None = None
    """Judge decoding budget (default: the protocol's own; the MIS paper rubric: 128)."""
    judge_request_timeout: float = 120.0
    """Seconds one judge request may take before it is abandoned and retried."""
    judge_attempts: int = 4
    """Tries per judge request (transport failures, backoff between them) before the sample is unknown."""
    judge_rubric: str = "paper"
    """MIS rubric: paper (the authors' judge request, exactly), mis-v1, or a template file (sha256 kept)."""
    judge_protocol: str = "mis"
    """MIS judge protocol: mis (the --judge-rubric request) or an open guard judge: llama-guard-4,
    llama-guard-4-prompt, proguard, guardreasoner-vl (ASR only; docs/evaluate.md, "Open judges")."""
    judge_parse_retries: int = 2
    """Extra MIS judge attempts when a reply holds no valid verdict (then: unknown)."""
    judge_cache: bool = True
    """Reuse stored judge replies for identical requests (judge, server, decoding, prompt, images)."""
    judge_batch: bool = False
    """Send the judge requests through the provider's batch API (openai, anthropic, google, grok, together:
    about half the price, results within the provider's 24 h window); the verdicts are the same."""
    judge_batch_size: int = 100
    """--judge-batch: requests per batch (sent once it holds this many, or after --judge-batch-delay);
    `mis judge` keeps 10x this many samples in flight unless --judge-max-connections says otherwise."""
    judge_batch_delay: float = 15.0
    """--judge-batch: seconds a partly filled batch waits for more requests before it is sent."""
    judge_batch_poll: float = 15.0
    """--judge-batch: seconds between two status checks of the batches in flight."""
    fail_on_unknown: float = 2.0
    """Percent of unknown verdicts above which the command exits with code 5 (after writing results)."""
    bootstrap: int = 0
    """Bootstrap resamples for 95% intervals of the overall MIS rates (0 = none)."""

    def check_judge(self) -> None:
        """Reject bad judge settings before any model or API time is spent."""
        self.check_inputs()
        for name in ("judge_max_connections",):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.judge_attempts < 1:
            raise UsageError(f"--judge-attempts must be >= 1, got {self.judge_attempts}")
        if self.judge_request_timeout <= 0:
            raise UsageError(f"--judge-request-timeout must be > 0, got {self.judge_request_timeout}")
        if self.judge_batch_size < 1:
            raise UsageError(f"--judge-batch-size must be >= 1, got {self.judge_batch_size}")
        for name in ("judge_batch_delay", "judge_batch_poll"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.fail_on_unknown <= 100:
            raise UsageError(f"--fail-on-unknown is a percentage (0-100), got {self.fail_on_unknown}")
        if self.judge is not None:
            preflight.check_model(self.judge, self.judge_base_url, what="judge")
            if self.judge_batch:
                preflight.check_batch(self.judge)
        preflight.check_rubric(self.judge_rubric)
        preflight.check_judge_protocol(self.judge_protocol, self.judge)


@dataclass(kw_only=True)
class ModelOptions:
    """Model under test."""

    model: str
    """Model under test: hfvlm/PATH, vllm/ID, openai/ID, openai-api/SERVICE/ID ..."""
    model_base_url: str | None = None
    """OpenAI-compatible base URL of the model under test (vLLM, any local server)."""
    model_args: dict[str, Any] = field(default_factory=dict)
    """Provider model arg KEY=VALUE (repeatable; hfvlm: device, dtype, family, trust_remote_code ...)."""
    batch_size: int | None = None
    """hfvlm only: requests per batched forward pass."""
    max_connections: int | None = None
    """Concurrent requests to the model under test (inspect's max_connections)."""
    temperature: float = 0.0
    """Temperature of the model under test (paper: 0, greedy)."""
    request_timeout: float = 600.0
    """Seconds one generation request may take before it is abandoned and retried."""
    image_transport: str = "base64"
    """How the model's requests carry images: base64 (inside each request), or file (file:// URLs, for a
    vLLM server on the same filesystem started with --allowed-local-media-path covering the data)."""
    retries: int = 3
    """Retries of a failed generation request, then of its sample; what still fails waits for a rerun."""
    limit: int | None = None
    """Evaluate only the first N samples (of each benchmark)."""

    def check_model(self) -> None:
        """Reject bad model settings before any model or API time is spent."""
        if self.batch_size is not None and not self.model.startswith("hfvlm/"):
            raise UsageError(
                "--batch-size applies to hfvlm/ models only; for servers and APIs use --max-connections"
            )
        for name in ("limit", "batch_size", "max_connections"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.temperature < 0:
            raise UsageError(f"--temperature must be >= 0, got {self.temperature}")
        if self.image_transport not in ("base64", "file"):
            raise UsageError(f"--image-transport must be base64 or file, got {self.image_transport!r}")
        if self.image_transport == "file" and self.model.split("/", 1)[0] not in FILE_TRANSPORT_APIS:
            apis = ", ".join(f"{a}/" for a in FILE_TRANSPORT_APIS)
            raise UsageError(f"--image-transport file needs an OpenAI-compatible server on this machine's "
                             f"filesystem ({apis}), not {self.model}")
        preflight.check_model(self.model, self.model_base_url)


@dataclass(kw_only=True)
class SuiteOptions:
    """Other benchmarks (--suite)."""

    suite: str | None = None
    """Benchmark suite: paper, safety, over-refusal, general, post-paper, all (see `mis bench list`)."""
    only: list[str] = field(default_factory=list)
    """Run only these benchmarks (repeatable; any registered benchmark, in the suite or not)."""
    guard: str | None = None
    """Llama Guard model for FigStep, MM-SafetyBench, JailBreakV (default: --judge in prompt mode)."""
    guard_base_url: str | None = None
    """OpenAI-compatible base URL of the guard (default: --judge-base-url)."""
    guard_mode: str | None = None
    """chat (the guard's own template) or prompt (default: chat with --guard, prompt without)."""
    task_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    """BENCHMARK.KEY=VALUE benchmark option (repeatable), e.g. figstep.subset=SafeBench-Tiny."""
    strict: bool = False
    """Stop before running anything when a benchmark's data is missing (default: run the ready ones)."""

    def check_suite(self) -> None:
        """The guard, like the judge, is checked before anything runs."""
        if self.guard_mode not in (None, "chat", "prompt"):
            raise UsageError(f"--guard-mode must be chat or prompt, got {self.guard_mode!r}")
        if self.guard is not None:
            preflight.check_model(self.guard, self.guard_base_url or getattr(self, "judge_base_url", None),
                                  what="guard")


@dataclass(kw_only=True)
class EvalConfig(ModelOptions, JudgeOptions, SuiteOptions):
    """Settings of one `mis eval` run (paper defaults; see docs/evaluate.md)."""

    out: Path
    """Output folder: results.json, samples.jsonl, logs/ (with --suite: OUT/mis/ and OUT/<benchmark>/)."""
    data: str | None = None
    """MIS folder (test layout) or hub id (Tuwhy/MIS_Test); optional when --suite runs other benchmarks."""
    split: str = "hard"
    """easy, hard, real, all (every split in the source but train), or another split it holds."""
    prompt: str = "paper"
    """Prompt template: paper (default), plain, step, two_step, safety_cot, or a file path."""
    max_tokens: int = 1024
    """New-token budget of the model under test on MIS (paper: 1024)."""
    allow_unknown_category: bool = False
    """Accept MIS samples whose category or sub-category is not in the taxonomy (each becomes its own group);
    by default such a sample is a data error naming it."""
    bench_data: dict[str, str] = field(default_factory=dict)
    """With --suite: BENCHMARK=FOLDER or hub id (repeatable), e.g. figstep=./FigStep."""

    def validate(self) -> None:
        """Reject bad combinations before any model or API time is spent."""
        if not self.split or "/" in self.split:
            raise UsageError(
                f"--split must be easy, hard, real, all or another split name, got {self.split!r}"
            )
        if self.judge is None:
            raise UsageError(
                "--judge is required: an inspect model string (e.g. openai/gpt-4o-2024-11-20) or exact/NAME"
            )
        if self.suite is None and self.data is None:
            raise UsageError(
                "--data is required (a MIS folder or hub id), unless --suite runs other benchmarks"
            )
        if self.max_tokens < 1:
            raise UsageError(f"--max-tokens must be >= 1, got {self.max_tokens}")
        self.check_model()
        self.check_suite()
        preflight.check_out(self.out)
        self.check_judge()

@dataclass(kw_only=True)
class BenchConfig(ModelOptions, JudgeOptions, SuiteOptions):
    """Settings of one `mis bench run` (the paper's other benchmarks for one model)."""

    out: Path
    """Output folder: OUT/<benchmark>/results.json per benchmark, OUT/suite.json; rerun to resume."""
    data: dict[str, str] = field(default_factory=dict)
    """BENCHMARK=FOLDER or hub id (repeatable), e.g. figstep=./FigStep (see `mis bench list` for the keys)."""
    suite: str | None = "paper"
    """Benchmark suite: paper, safety, over-refusal, general, post-paper, all (see `mis bench list`)."""
    max_tokens: int | None = None
    """Override every benchmark's generation budget (default: each benchmark's own)."""

    def validate(self) -> None:
        """Reject bad combinations before any model or API time is spent."""
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UsageError(f"--max-tokens must be >= 1, got {self.max_tokens}")
        self.check_model()
        self.check_judge()
        self.check_suite()
        preflight.check_out(self.out)


@dataclass(kw_only=True)
class JudgeConfig(JudgeOptions):
    """Settings of one `mis judge` run: judge responses produced elsewhere (the authors' JSONL)."""

    responses: Path
    """JSONL with question, response, image_path1, image_path2, category [, sub_category, id]."""
    data: str
    """Folder the image paths are relative to (the MIS test root)."""
    out: Path
    """Output folder (same files as `mis eval`); rerun on the same folder to resume."""
    model: str | None = None
    """Name of the model that wrote the responses (default: the file's stem, as the authors name them)."""
    limit: int | None = None
    """Judge only the first N responses."""

    def validate(self) -> None:
        """Reject bad combinations before any API time is spent."""
        if self.judge is None:
            raise UsageError("--judge is required: an inspect model string or exact/NAME")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be >= 1, got {self.limit}")
        self.check_judge()
        if not Path(self.responses).is_file():
            raise UsageError(f"{self.responses}: responses file not found")
        preflight.check_out(self.out)


def public(config: Any) -> dict[str, Any]:
    """A config as saved in run.json: JSON-friendly (paths as text), secret-looking values redacted."""
    data = asdict(config)
    for key, value in data.items():
        if isinstance(value, Path):
            data[key] = str(value)
    if "model_args" in data:
        data["model_args"] = redact(data["model_args"])
    return data


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """Args with secret-looking values replaced (keys only ever come from the environment)."""
    return {k: ("<redacted>" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in args.items()}
