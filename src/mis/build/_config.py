"""`BuildConfig`: one dataclass for `mis build run`; YAML file + CLI overrides resolve into it.

A config is "packaged name or path": ``--config paper`` loads ``mis/build/configs/paper.yaml``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mis.errors import ConfigError

__all__ = [
    "MODEL_STEPS",
    "PROMPT_STEPS",
    "STAGES",
    "BuildConfig",
    "ConfigError",
    "StepModel",
    "T2IConfig",
    "config_from_dict",
    "load_config",
    "resolve_config",
]

#: Model-calling steps, in pipeline order, with whether they see images.
MODEL_STEPS: dict[str, bool] = {
    "extract": False,
    "extract_image": True,
    "refine": False,
    "critic": True,
    "text_safety": False,
    "image_harm": True,
    "label": True,
    "label_judge": True,
}
#: Prompt templates: one per model step, plus the text-to-image prompt.
PROMPT_STEPS: tuple[str, ...] = (*MODEL_STEPS, "render")
#: Stages in order.
STAGES: tuple[str, ...] = ("extract", "refine", "render", "split", "review", "label")


@dataclass
class StepModel:
    """Which model answers one step, and how."""

    model: str | None = None
    """inspect model string (``openai-api/vllm/Qwen/Qwen2.5-72B-Instruct``), ``offline`` (template
    generator for writing steps, exact checker for checking steps), ``offline/template``,
    ``offline/exact``, a registered backend name, or ``package.module:factory``. None: use
    ``text_model`` / ``vision_model``."""
    concurrency: int = 8
    """Requests in flight for this step."""
    temperature: float | None = None
    """Sampling temperature (None: the step's default, 0 for judging steps)."""
    max_tokens: int = 1024
    """Reply length limit."""
    base_url: str | None = None
    """OpenAI-compatible base URL (else the provider's env var, e.g. VLLM_BASE_URL)."""
    api_key_env: str | None = None
    """Name of the env var holding the API key (the key itself never goes in a config)."""
    max_retries: int = 3
    """Retries of a failed request (inspect's backoff) before the record is left for a rerun."""
    timeout: int = 600
    """Seconds before one request counts as failed."""


@dataclass
class T2IConfig:
    """Text-to-image backend and its settings (all recorded in the manifest)."""

    backend: str = "offline"
    """``diffusers`` (local path or hub id in ``model``), ``openai`` (images API), ``offline``
    (procedural renderer), a registered name, or ``package.module:factory``."""
    model: str = "stabilityai/stable-diffusion-3.5-large"
    """Pipeline path / hub id (diffusers) or model name (images API)."""
    steps: int = 28
    """Denoising steps (diffusers)."""
    guidance: float = 3.5
    """Classifier-free guidance scale (diffusers)."""
    width: int = 1024
    """Image width in pixels."""
    height: int = 1024
    """Image height in pixels."""
    seed: int = 0
    """Base seed; each image uses seed + a stable hash of (record id, object index, round)."""
    device: str = "auto"
    """diffusers device: auto (cuda when available), cuda, cpu."""
    dtype: str = "auto"
    """diffusers dtype: auto (bfloat16 on cuda, float32 on cpu), float16, bfloat16, float32."""
    load_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra ``DiffusionPipeline.from_pretrained`` arguments (e.g. text_encoder_3: null)."""
    base_url: str | None = None
    """Images API base URL ending in /v1 (openai backend; else OPENAI_BASE_URL)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Env var holding the images API key."""
    concurrency: int = 1
    """Renders in flight (diffusers always renders one at a time)."""


@dataclass
class BuildConfig:
    """Everything `mis build run` needs; saved into the manifest."""

    seeds: list[str] = field(default_factory=list)
    """Seed files or folders, repeatable: JSONL/CSV of text queries (and/or image paths), or image folders."""
    out: str | None = None
    """Output folder (stage work under OUT/<stage>/, dataset in the MIS layout at OUT/)."""
    text_model: str = "offline"
    """Default model for text steps (extract, refine, text_safety)."""
    vision_model: str = "offline"
    """Default model for vision steps (extract_image, critic, image_harm, label, label_judge)."""
    steps: dict[str, StepModel] = field(
        default_factory=dict, metadata={"option": "--step", "metavar": "STEP.KEY=VALUE"}
    )
    """Per-step model settings, repeatable: label.model=openai/gpt-4o-2024-11-20, refine.concurrency=16
    (keys: the fields of StepModel; steps: MODEL_STEPS)."""
    prompts: dict[str, str] = field(
        default_factory=dict, metadata={"option": "--prompt", "metavar": "STEP=PATH"}
    )
    """Your own prompt template for a step, repeatable (the model steps and render)."""
    t2i: T2IConfig = field(default_factory=T2IConfig)
    """Text-to-image settings."""
    questions_per_seed: int = 3
    """Questions asked of the extract step per seed (paper: 2-3)."""
    max_seeds: int | None = None
    """Use only the first N seeds (after sorting by id)."""
    allow_outside_root: bool = False
    """Accept seed images outside the folder of the seed file (or the seed folder) that names them."""
    label_attempts: int = 3
    """Label generations per train sample before it is dropped as unsafe."""
    phash_distance: int = 4
    """Images within this perceptual-hash Hamming distance count as the same image."""
    require_review: bool = False
    """Stop after split until `mis build review-import` has recorded human decisions."""
    world: str | None = None
    """Offline world YAML for the offline backends (default: mis/mini/world.yaml, whose format it follows)."""
    durable: bool = True
    """fsync every record. False is faster for throwaway builds (demos, tests) and still survives a
    killed process; only a power cut could lose the last records."""

    def step(self, name: str) -> StepModel:
        """The resolved settings of one model step (defaults filled in)."""
        if name not in MODEL_STEPS:
            raise ConfigError(f"unknown step {name!r}; steps: {', '.join(MODEL_STEPS)}")
        spec = dataclasses.replace(self.steps.get(name) or StepModel())
        if spec.model is None:
            spec.model = self.vision_model if MODEL_STEPS[name] else self.text_model
        if spec.temperature is None:
            spec.temperature = 0.7 if name in ("extract", "extract_image") else 0.0
        return spec

    def validate(self) -> None:
        """Check combinations before any model is called."""
        unknown = set(self.steps) - set(MODEL_STEPS)
        if unknown:
            raise ConfigError(f"steps: unknown step(s) {sorted(unknown)}; valid: {', '.join(MODEL_STEPS)}")
        unknown = set(self.prompts) - set(PROMPT_STEPS)
        if unknown:
            raise ConfigError(f"prompts: unknown step(s) {sorted(unknown)}; valid: {', '.join(PROMPT_STEPS)}")
        for step, path in self.prompts.items():
            if not Path(path).is_file():
                raise ConfigError(f"prompts.{step}: template file {path} does not exist")
        if not self.seeds:
            raise ConfigError("seeds: no seed files given (use --seeds PATH or seeds: [...] in the config)")
        for s in self.seeds:
            if not Path(s).exists():
                raise ConfigError(f"seeds: {s} does not exist")
        if not 1 <= self.questions_per_seed <= 10:
            raise ConfigError("questions_per_seed: must be between 1 and 10 (paper: 2-3)")
        if self.label_attempts < 1:
            raise ConfigError("label_attempts: must be at least 1")
        for name, spec in self.steps.items():
            if spec.concurrency < 1:
                raise ConfigError(f"steps.{name}.concurrency: must be at least 1")
        for name in MODEL_STEPS:
            _check_step_key(name, self.step(name))
        t2i = self.t2i
        if t2i.backend == "openai" and not t2i.base_url and not os.environ.get(t2i.api_key_env):
            raise ConfigError(f"t2i: the openai images backend needs an API key: set {t2i.api_key_env} "
                              "in the environment (keys are never options)")
        if self.t2i.width % 8 or self.t2i.height % 8:
            raise ConfigError("t2i.width/height: must be multiples of 8")
        if self.out is None:
            raise ConfigError("out: no output folder given (use --out DIR)")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the manifest."""
        return dataclasses.asdict(self)


def _check_step_key(name: str, spec: StepModel) -> None:
    """Before any stage: a hosted model of a step has its API key (an inspect model string, not a backend)."""
    from mis._util.providers import PROVIDERS, missing_key

    model = spec.model or ""
    if "/" not in model or ":" in model or model.split("/", 1)[0] not in PROVIDERS:
        return  # offline, a registered backend or a package.module:factory plug-in
    if spec.api_key_env:
        if not os.environ.get(spec.api_key_env):
            raise ConfigError(f"steps.{name}: {model} reads its key from {spec.api_key_env}, which is not "
                              "set in the environment")
        return
    why = missing_key(model, spec.base_url)
    if why:
        raise ConfigError(f"steps.{name}: {why}")


def _packaged_config(name: str) -> Path | None:
    ref = resources.files("mis.build").joinpath("configs", f"{name}.yaml")
    return Path(str(ref)) if ref.is_file() else None


def config_from_dict(data: dict[str, Any], *, source: str = "config") -> BuildConfig:
    """Build a BuildConfig from a plain dict (YAML), naming the bad field on error."""
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(BuildConfig)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {sorted(unknown)}; valid: {', '.join(sorted(known))}")
    for where, kind, given in (
        *((f"steps.{k}", StepModel, v) for k, v in (data.get("steps") or {}).items()),
        ("t2i", T2IConfig, data.get("t2i")),
    ):
        if given is not None and not isinstance(given, dict):
            raise ConfigError(f"{source}: {where}: expected a mapping of settings, got {given!r}")
        bad = sorted(set(given or {}) - {f.name for f in dataclasses.fields(kind)})
        if bad:
            valid = ", ".join(f.name for f in dataclasses.fields(kind))
            raise ConfigError(f"{source}: {where}: unknown setting(s) {', '.join(bad)}; valid: {valid}")
    try:
        steps = {k: StepModel(**(v or {})) for k, v in (data.pop("steps", None) or {}).items()}
        t2i = T2IConfig(**(data.pop("t2i", None) or {}))
        seeds = data.pop("seeds", None) or []
        if isinstance(seeds, str):
            seeds = [seeds]
        return BuildConfig(steps=steps, t2i=t2i, seeds=[str(s) for s in seeds], **data)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def load_config(name_or_path: str | Path) -> BuildConfig:
    """Load a packaged config by name (``paper``, ``offline``) or a YAML file.

    Relative seed, prompt and world paths resolve against the file's folder.
    """
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        packaged = _packaged_config(str(name_or_path))
        if packaged is None:
            raise ConfigError(
                f"--config: {name_or_path} is neither a file nor a packaged config (paper, offline)"
            )
        path = packaged
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    config = config_from_dict(data, source=str(path))
    base = path.parent
    config.seeds = [
        str(base / s) if not Path(s).is_absolute() and (base / s).exists() else s for s in config.seeds
    ]
    config.prompts = {
        k: str(base / v) if not Path(v).is_absolute() and (base / v).exists() else v
        for k, v in config.prompts.items()
    }
    if config.world and not Path(config.world).is_absolute() and (base / config.world).exists():
        config.world = str(base / config.world)
    return config


def resolve_config(
    name_or_path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> BuildConfig:
    """Defaults <- a config file or packaged name <- ``overrides`` (what `mis build run` options gave).

    ``steps`` and ``t2i`` merge key by key (``--step label.model=X`` keeps the file's other settings of
    ``label``); ``prompts`` merge by step. Paths in ``overrides`` (seeds, out, prompts, world) are relative
    to the working directory and are made absolute, as the file's own are made relative to the file.
    """
    config = load_config(name_or_path) if name_or_path else BuildConfig()
    data = config.to_dict()
    for key, value in (overrides or {}).items():
        if key == "steps":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"steps: expected STEP.KEY=VALUE settings, got {value!r}")
            for step, settings in value.items():
                data["steps"][step] = {**(data["steps"].get(step) or {}), **settings}
        elif key in ("t2i", "prompts"):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    given = overrides or {}
    if "seeds" in given:
        data["seeds"] = [str(Path(s).expanduser().resolve()) for s in given["seeds"]]
    for key in ("out", "world"):
        if given.get(key):
            data[key] = str(Path(given[key]).expanduser().resolve())
    for step, path in (given.get("prompts") or {}).items():
        data["prompts"][step] = str(Path(path).expanduser().resolve())
    return config_from_dict(data, source="options" if not name_or_path else f"{name_or_path} + options")
