"""A benchmark is one :class:`Benchmark` spec in one file; this module defines the spec and the registry.

A spec says everything the one runner (:mod:`mis.eval.runner`) and the report need: how to load the
published data, what text follows the images, which judge protocols score a response, how rows summarise
into metrics, which metric is the headline and its kind (attack / over-refusal / general), which ``--data``
key it reads and its own options with their defaults. Resume, identity checks, results.json, the report and
``inspect eval mis/<name>`` registration come from the spec for free (see docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mis.data._schema import Sample
from mis.errors import UsageError
from mis.judges import Judge, JudgeSettings

Kind = Literal["attack", "over_refusal", "general"]
KINDS: tuple[str, ...] = ("attack", "over_refusal", "general")
#: Decoding budget of safety benchmarks (the paper: greedy, up to 1024 new tokens).
SAFETY_MAX_TOKENS = 1024


@dataclass(frozen=True)
class NoOptions:
    """A benchmark without options of its own."""


@dataclass(frozen=True)
class JudgeContext:
    """The judges a run was given; each spec picks the protocol(s) it needs from them."""

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    """The VLM/LLM judge (the MIS rubric, SIUO, MSSBench, MOSSBench, the white-image test)."""
    guard: JudgeSettings | None = None
    """Llama Guard for FigStep / MM-SafetyBench / JailBreakV; None: ``judge`` in prompt mode."""
    guard_mode: str | None = None
    """``chat`` (the guard's own template) or ``prompt``; default chat with a guard, else prompt."""
    rubric: str = "paper"
    """MIS rubric protocol (name or file)."""
    parse_retries: int = 2
    """Extra MIS judge attempts when a reply holds no valid verdict."""
    protocol: str = "mis"
    """MIS judge protocol: ``mis`` (the rubric) or an open guard (:data:`mis.judges._open.OPEN_GUARDS`)."""

    def guard_settings(self) -> tuple[JudgeSettings, str]:
        """The guard to use and its mode (falls back to the judge in prompt mode)."""
        if self.guard is not None:
            return self.guard, self.guard_mode or "chat"
        return self.judge, self.guard_mode or "prompt"


Loader = Callable[[str, Any], list[Sample]]
Summarizer = Callable[[list[dict[str, Any]], Any, int], dict[str, Any]]


@dataclass(frozen=True)
class Benchmark:
    """How to evaluate one benchmark (the fields a new benchmark fills in)."""

    name: str
    """Registry key, inspect task name, suite folder ``OUT/<name>/`` and report column."""
    kind: Kind
    """``attack`` (headline: lower is safer), ``over_refusal`` or ``general``."""
    description: str
    """One line for `mis bench list` and the docs."""
    load: Loader
    """``(data, options) -> samples`` in published order (errors name file, record and field)."""
    judges: Callable[[JudgeContext, Any], list[Judge]]
    """The judge protocols: the first one's label is the sample's label; the rest are cross-checks."""
    summarize: Summarizer
    """``(rows, options, bootstrap) -> {"metrics", "by_category"[, "by_sub_category", "splits", "ci"]}``."""
    headline: str
    """The metric researchers quote (a key of ``metrics``)."""
    higher_is_better: bool = False
    """Direction of the headline."""
    options: type = NoOptions
    """Dataclass of the benchmark's own arguments (``--task-arg NAME.KEY=VALUE``), with their defaults."""
    text: Callable[[Sample, Any], str] | None = None
    """The text after the images (default: the sample's question)."""
    target: Callable[[Sample], str] | None = None
    """The scoring target (multiple choice: the answer letter)."""
    data_key: str | None = None
    """The ``--data`` key this benchmark reads (default: its name)."""
    default_data: str | None = None
    """Hub id used when no data is given (None: ``--data`` is required)."""
    max_tokens: int = SAFETY_MAX_TOKENS
    """Default generation budget."""
    task_name: Callable[[Any], str] | None = None
    """The inspect task name for given options (default: ``name``)."""
    aliases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Extra inspect task names with preset options (MIS: ``mis_easy`` = split easy)."""
    identity: Callable[[Any], dict[str, Any]] | None = None
    """Extra identity from the options (e.g. the sha256 of a prompt file), beyond the options themselves."""
    row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Extra samples.jsonl fields from a sample's metadata (beyond the judges' own)."""
    label_rates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Running rates inspect shows while a task runs: metric name -> the labels it counts (% of samples)."""
    family_layout: bool = False
    """Whether a served model gets its family's turn layout (the authors did this for MIS only)."""
    image_check: bool = True
    """Whether missing images are checked up front (the ``missing`` option: error or skip)."""

    @property
    def key(self) -> str:
        """The ``--data`` key."""
        return self.data_key or self.name

    def make_options(self, values: Mapping[str, Any] | None = None) -> Any:
        """The options dataclass from ``values`` (unknown keys are an error naming the valid ones)."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(self.options)}
        unknown = sorted(set(values) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise UsageError(f"{self.name}: unknown option(s) {', '.join(unknown)} (valid: {valid})")
        return self.options(**values)

    def task_for(self, options: Any) -> str:
        """The inspect task name of a run with ``options``."""
        return self.task_name(options) if self.task_name else self.name


_REGISTRY: dict[str, Benchmark] = {}


def register(spec: Benchmark) -> Benchmark:
    """Add ``spec`` to the registry (its inspect tasks are generated when inspect loads mis)."""
    if spec.kind not in KINDS:
        raise ValueError(f"{spec.name}: kind {spec.kind!r} is not one of {KINDS}")
    _REGISTRY[spec.name] = spec
    return spec


def registry() -> dict[str, Benchmark]:
    """The specs registered so far (``mis.eval.benchmarks.registered()`` loads the packaged ones first)."""
    return dict(_REGISTRY)
