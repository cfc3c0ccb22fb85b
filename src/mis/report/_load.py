"""Read run folders for `mis report`: results.json (schema 2, or 0.1.0's two shapes) and samples.jsonl.

A result's kind (``attack``, ``over_refusal``, ``general``) is read from the file, never guessed from a
task name: schema 2 (docs/results.md) declares it for the result and for each of its splits. 0.1.0
folders still load: an MIS result (``task`` ``mis`` / ``mis_<split>``, no ``kind``) is ``attack`` on its
harmful splits and ``over_refusal`` on MIS-mini's ``benign`` / ``white`` controls (RR there is the
over-refusal rate); a 0.1.0 benchmark result declares ``kind`` ``safety`` (read as ``attack``),
``over_refusal`` or ``general``. Anything else is ``other``: listed, never placed on an axis.

An aggregate over splits of different kinds (MIS-mini's ``all``: harmful splits averaged with the
controls) is dropped here, so no table or chart can show its diluted ASR. A folder without results.json
is searched for run folders below it. Bad input raises :class:`ReportError` naming the file and field.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mis._util.io import read_jsonl
from mis.errors import DataError

log = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
#: The MIS outcome rates, in the paper's order of importance for the table (ASR first).
MIS_RATES: tuple[str, ...] = ("asr", "rsr", "hr", "rr")
MIS_METRICS: tuple[str, ...] = (*MIS_RATES, "unknown")
KINDS: tuple[str, ...] = ("attack", "over_refusal", "general", "other")
#: 0.1.0 benchmark kinds -> schema-2 kinds.
_LEGACY_KINDS = {"safety": "attack", "over_refusal": "over_refusal", "general": "general"}
#: MIS-mini's control splits in 0.1.0 results (RR on them is the over-refusal rate, docs/mini.md).
_LEGACY_CONTROLS = ("benign", "white")
_MIS_TASK = re.compile(r"^mis(_(?P<split>[a-z0-9]+(_[a-z0-9]+)*))?$")


class ReportError(DataError):
    """A run folder cannot be reported; the message names the file, line/sample and field (exit code 3)."""


class ReportOptionError(ReportError):
    """An option of `mis report` is invalid (``--sort``, ``--published``); the message lists the choices."""

    exit_code = 2


@dataclass(frozen=True)
class Headline:
    """The one number researchers quote for a result: metric name, value and its direction."""

    metric: str
    value: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class RunResult:
    """One benchmark (or one split of it) of one run folder, normalised over both schemas."""

    run_dir: Path
    benchmark: str
    task: str
    model: str
    judge: str
    judge_protocol: str
    split: str  # "" = the benchmark as a whole; "all" = an aggregate over same-kind splits
    kind: str
    headline: Headline | None
    n: int | None
    n_unknown: int | None
    metrics: dict[str, float]
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    by_sub_category: dict[str, dict[str, float]] = field(default_factory=dict)
    schema_version: int = 2
    published: str = ""  # the citation, for the authors' published numbers (never a run of ours)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_mis_rates(self) -> bool:
        """Whether the result has the four MIS outcome rates (ASR, RSR, HR, RR)."""
        return all(k in self.metrics for k in MIS_RATES)

    @property
    def judge_id(self) -> str:
        """The judge and its protocol, as one label ('' when unjudged)."""
        if self.judge and self.judge_protocol:
            return f"{self.judge} [{self.judge_protocol}]"
        return self.judge


@dataclass
class Run:
    """A run folder: its results and its per-sample rows (empty when samples.jsonl is absent)."""

    path: Path
    results: list[RunResult]
    samples: list[dict[str, Any]]

    @property
    def benchmark(self) -> str:
        """The benchmark the folder's sample rows belong to (its first result's)."""
        return self.results[0].benchmark


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Resolve the given folders to run folders (those holding results.json), in the given order."""
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            raise ReportError(f"{path}: not a folder (expected a `mis eval` output folder)")
        if (path / RESULTS_FILE).is_file():
            candidates = [path]
        else:
            candidates = sorted(p.parent for p in path.rglob(RESULTS_FILE)
                                if "logs" not in p.relative_to(path).parts)
        if not candidates:
            raise ReportError(f"{path}: no {RESULTS_FILE} in it or below it (is it a `mis eval` --out?)")
        for c in candidates:
            if c.resolve() not in seen:
                seen.add(c.resolve())
                found.append(c)
    return found


def load_run(run_dir: str | Path) -> Run:
    """Read one run folder's results.json and (if present) samples.jsonl."""
    run_dir = Path(run_dir)
    results_path = run_dir / RESULTS_FILE
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ReportError(f"{results_path}: missing (is {run_dir} a `mis eval` output folder?)") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{results_path}: not valid JSON (line {err.lineno}: {err.msg})") from err
    items = data if isinstance(data, list) else [data]
    results: list[RunResult] = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(data, list) else ""
        if not isinstance(item, Mapping):
            raise ReportError(f"{results_path}: {where or 'top level'} must be an object, "
                              f"got {type(item).__name__}")
        parse = _parse_v2 if "schema_version" in item else _parse_legacy
        results.extend(parse(item, _At(results_path, run_dir, where)))
    if not results:
        raise ReportError(f"{results_path}: holds no results")
    samples_path = run_dir / SAMPLES_FILE
    samples = read_samples(samples_path) if samples_path.is_file() else []
    if not samples:
        log.warning("%s: no per-sample rows (%s missing or empty); only the tables will show it",
                    run_dir, SAMPLES_FILE)
    _check_counts(results, samples, samples_path)
    return Run(path=run_dir, results=results, samples=samples)


@dataclass(frozen=True)
class _At:
    """Where a result sits, for error messages."""

    path: Path
    run_dir: Path
    where: str

    def __call__(self, extra: str = "") -> str:
        inner = ".".join(p for p in (self.where, extra) if p)
        return f"{self.path}: {inner + ': ' if inner else ''}"

    def child(self, key: str) -> _At:
        return _At(self.path, self.run_dir, f"{self.where}.splits.{key}" if self.where else f"splits.{key}")


def _parse_v2(data: Mapping[str, Any], at: _At) -> list[RunResult]:
    version = data.get("schema_version")
    if version != 2:
        raise ReportError(f"{at()}field 'schema_version' is {version!r}; this mis reads 2 (and 0.1.0 "
                          "results, which have none): upgrade mis to report it")
    benchmark = _text_field(data, "benchmark", at)
    kind = _kind(data.get("kind"), at, "kind")
    identity = _identity(data, {}, at)
    top = _make(data, at, identity, benchmark=benchmark, split="", kind=kind, version=2)
    splits = data.get("splits") or {}
    if not isinstance(splits, Mapping):
        raise ReportError(f"{at()}field 'splits' must be an object of per-split summaries")
    children = []
    for name, child in splits.items():
        cat = at.child(str(name))
        if not isinstance(child, Mapping):
            raise ReportError(f"{cat()}must be an object")
        children.append(_make(child, cat, _identity(child, identity, cat), benchmark=benchmark,
                              split=str(name), kind=_kind(child.get("kind"), cat, "kind"), version=2))
    return _with_aggregate(top, children)


def _parse_legacy(data: Mapping[str, Any], at: _At) -> list[RunResult]:
    """0.1.0: an MIS result (task mis*, splits by name) or a benchmark result with a 0.1.0 ``kind``."""
    task = _text_field(data, "task", at)
    identity = _identity(data, {}, at)
    m = _MIS_TASK.match(task.lower())
    declared = data.get("kind")
    if m is None or declared is not None:
        kind = _LEGACY_KINDS.get(str(declared), "other")
        if declared is not None and str(declared) not in _LEGACY_KINDS:
            log.warning("%s%r is not a 0.1.0 kind (%s); listed as 'other'", at(), declared,
                        ", ".join(_LEGACY_KINDS))
        return [_make(data, at, identity, benchmark=task, split="", kind=kind, version=1)]
    splits = data.get("splits")
    if isinstance(splits, Mapping) and splits:
        children = []
        for name, child in splits.items():
            cat = at.child(str(name))
            if not isinstance(child, Mapping):
                raise ReportError(f"{cat()}must be an object")
            children.append(_make(child, cat, _identity(child, identity, cat), benchmark="mis",
                                  split=str(name), kind=_legacy_mis_kind(str(name)), version=1))
        top = _make(data, at, identity, benchmark="mis", split="", kind="attack", version=1)
        return _with_aggregate(top, children)
    split = m.group("split") or ""
    kind = _legacy_mis_kind(split)
    return [_make(data, at, identity, benchmark="mis", split=split, kind=kind, version=1)]


def _legacy_mis_kind(split: str) -> str:
    return "over_refusal" if split in _LEGACY_CONTROLS else "attack"


def _with_aggregate(top: RunResult, children: list[RunResult]) -> list[RunResult]:
    """Children, then the aggregate as split 'all' only when it adds something and mixes no kinds."""
    if not children:
        return [top]
    kinds = {c.kind for c in children}
    if len(kinds) > 1:
        log.debug("%s: %s's aggregate over %s mixes kinds (%s); not shown", top.run_dir, top.benchmark,
                  ", ".join(c.split for c in children), ", ".join(sorted(kinds)))
        return children
    if len(children) == 1:
        return children
    return [*children, replace(top, split="all", kind=kinds.pop())]


def _identity(data: Mapping[str, Any], parent: Mapping[str, str], at: _At) -> dict[str, str]:
    out = dict(parent)
    for key in ("task", "model", "judge", "judge_protocol"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise ReportError(f"{at()}field {key!r} must be a string, got {value!r}")
            out[key] = value
    if not out.get("model"):
        raise ReportError(f"{at()}field 'model' is missing")
    return out


def _make(data: Mapping[str, Any], at: _At, identity: Mapping[str, str], *, benchmark: str, split: str,
          kind: str, version: int) -> RunResult:
    if "metrics" not in data:
        raise ReportError(f"{at()}field 'metrics' is missing")
    metrics = _numbers(data["metrics"], f"{at()}field 'metrics'")
    if benchmark == "mis" and version == 1:
        missing = [k for k in MIS_METRICS if k not in metrics]
        if missing:
            raise ReportError(f"{at()}field 'metrics' lacks {', '.join(missing)}")
    headline = _headline(data.get("headline"), at) if "headline" in data else _default_headline(kind, metrics)
    return RunResult(
        run_dir=at.run_dir, benchmark=benchmark, task=identity.get("task", benchmark),
        model=identity["model"], judge=identity.get("judge", ""),
        judge_protocol=identity.get("judge_protocol", ""), split=split, kind=kind, headline=headline,
        n=_int_or_none(data.get("n"), f"{at()}field 'n'"),
        n_unknown=_int_or_none(data.get("unknown"), f"{at()}field 'unknown'"),
        metrics=metrics, by_category=_buckets(data.get("by_category"), f"{at()}by_category"),
        by_sub_category=_buckets(data.get("by_sub_category"), f"{at()}by_sub_category"),
        schema_version=version, raw=dict(data),
    )


def _default_headline(kind: str, metrics: Mapping[str, float]) -> Headline | None:
    """The headline of a result that names none (0.1.0): ASR / refusal rate lower, accuracy higher."""
    order: dict[str, tuple[tuple[str, bool], ...]] = {
        "attack": (("asr", False), ("score", True), ("safe_rate", True)),
        "over_refusal": (("refusal_rate", False), ("rr", False)),
        "general": (("accuracy", True), ("score", True), ("acc", True)),
    }
    for metric, higher in order.get(kind, ()):
        if metric in metrics:
            return Headline(metric, metrics[metric], higher)
    return None


def _headline(value: Any, at: _At) -> Headline:
    where = f"{at()}field 'headline'"
    if not isinstance(value, Mapping):
        raise ReportError(f"{where} must be an object {{metric, value, higher_is_better}}")
    metric, number, higher = value.get("metric"), value.get("value"), value.get("higher_is_better")
    if not isinstance(metric, str) or not metric:
        raise ReportError(f"{where}.metric must be a metric name")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)
                               or not math.isfinite(number)):
        raise ReportError(f"{where}.value must be a finite number or null, got {number!r}")
    if not isinstance(higher, bool):
        raise ReportError(f"{where}.higher_is_better must be true or false, got {higher!r}")
    return Headline(metric.lower(), None if number is None else float(number), higher)


def _kind(value: Any, at: _At, name: str) -> str:
    if value not in ("attack", "over_refusal", "general"):
        raise ReportError(f"{at()}field {name!r} is {value!r}; expected attack, over_refusal or general "
                          "(docs/results.md)")
    return str(value)


def _text_field(data: Mapping[str, Any], key: str, at: _At) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ReportError(f"{at()}field {key!r} is missing")
    return value


def _buckets(value: Any, where: str) -> dict[str, dict[str, float]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ReportError(f"{where} must be an object of per-group metrics")
    return {str(k): _numbers(v, f"{where}.{k}", nested=False) for k, v in value.items()
            if isinstance(v, Mapping)}


def _numbers(value: Any, where: str, *, nested: bool = True) -> dict[str, float]:
    """Numeric scalars of a mapping, keys lower-cased; lists (e.g. intervals) are skipped.

    One nested level (e.g. per-subset metrics) is kept as "outer/inner" keys.
    """
    if not isinstance(value, Mapping):
        raise ReportError(f"{where} must be an object of numbers")
    out = {}
    for key, v in value.items():
        if isinstance(v, Mapping):
            if nested:
                inner = _numbers(v, f"{where}.{key}", nested=False)
                out.update({f"{str(key).lower()}/{k}": x for k, x in inner.items()})
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            if isinstance(v, str):
                raise ReportError(f"{where}.{key} must be a number, got {v!r}")
            continue
        if not math.isfinite(v):
            raise ReportError(f"{where}.{key} is not finite ({v})")
        out[str(key).lower()] = float(v)
    return out


def _int_or_none(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ReportError(f"{where} must be a whole number, got {value!r}")
    return int(value)


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The rows of a samples.jsonl, each with ``_line`` (its line number) added."""
    rows = []
    for lineno, row in read_jsonl(path):
        images = row.get("images", [])
        if images is None:
            images = row["images"] = []
        if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
            who = row.get("uid", row.get("id", f"line {lineno}"))
            raise ReportError(f"{path}:{lineno}: sample {who}: field 'images' must be a list of paths")
        row["_line"] = lineno
        rows.append(row)
    return rows


def _check_counts(results: list[RunResult], samples: list[dict[str, Any]], path: Path) -> None:
    """Warn when samples.jsonl and results.json disagree on a count (e.g. a partial rerun)."""
    if not samples:
        return
    for r in results:
        if r.n is None or r.split == "all":
            continue
        parts = {r.split, *r.split.split("_")} if r.split else set()
        rows = [s for s in samples if not parts or s.get("split") in parts]
        if parts and not rows:  # a variant that is not a row split (e.g. an image mode)
            continue
        unique = len({s.get("uid") or s.get("id") or s["_line"] for s in rows})
        if r.n not in (len(rows), unique):
            log.warning("%s: %d rows for %s (split %s) but results.json says n=%d",
                        path, len(rows), r.benchmark, r.split or "-", r.n)
