"""Read run folders for `mis report`: results.json (one or many results) and samples.jsonl.

A run folder is what `mis eval` / `mis judge` write. Its results.json may hold one result, a list of
results, or a result with a ``splits`` / ``tasks`` mapping (``mis --split all``, suites); results
of other benchmarks (``{"task": "mmstar", "metrics": {"accuracy": 61.2}}``) are read the same way.
A folder without results.json is searched for run folders below it, so a suite's output folder can
be passed whole. Bad input raises :class:`ReportError` naming the file, line and field.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
#: The MIS rates, in leaderboard order.
MIS_METRICS: tuple[str, ...] = ("asr", "hr", "rsr", "rr", "unknown")
#: Mapping keys under which one results.json nests per-split / per-task results.
_NESTED_KEYS = ("splits", "tasks", "results")
#: "mis", "mis_hard", "mis_easy_hard" (several splits in one task), "mis_all".
_MIS_TASK = re.compile(r"^mis(_(?P<split>[a-z0-9]+(_[a-z0-9]+)*))?$")

#: Known benchmark task-name prefixes (compared without case, "_", "-" or spaces) -> kind.
#: "over_refusal" results are tabled but kept off the harmlessness axis (lower is better there).
_KIND_PREFIXES: tuple[tuple[str, str], ...] = (
    ("figstep", "safety"),
    ("mmsafetybench", "safety"),
    ("jailbreakv", "safety"),
    ("siuo", "safety"),
    ("mssbench", "safety"),
    ("vlguard", "safety"),
    ("mossbench", "over_refusal"),
    ("whiteimage", "over_refusal"),
    ("qbench", "general"),
    ("llvisionqa", "general"),
    ("mmstar", "general"),
    ("mmmu", "general"),
    ("muirbench", "general"),
    ("mmt", "general"),
)
KINDS: tuple[str, ...] = ("mis", "safety", "over_refusal", "general", "other")


class ReportError(ValueError):
    """A run folder cannot be reported; the message names the file, line/sample and field."""


@dataclass(frozen=True)
class RunResult:
    """One row of the leaderboard: one task (and split) of one run folder."""

    run_dir: Path
    task: str
    model: str
    judge: str
    split: str
    kind: str
    n: int | None
    n_unknown: int | None
    metrics: dict[str, float]
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_mis(self) -> bool:
        """Whether this is an MIS result (rates, categories, outcome-level samples)."""
        return self.kind == "mis"


@dataclass
class Run:
    """A run folder: its results and its per-sample rows (empty when samples.jsonl is absent)."""

    path: Path
    results: list[RunResult]
    samples: list[dict[str, Any]]


def task_kind(task: str, declared: Any = None) -> str:
    """Classify a task as mis / safety / over_refusal / general / other (a declared kind wins)."""
    if isinstance(declared, str) and declared in KINDS:
        return declared
    if _MIS_TASK.match(task.lower()):
        return "mis"
    norm = re.sub(r"[^a-z0-9]", "", task.lower())
    for prefix, kind in _KIND_PREFIXES:
        if norm.startswith(prefix):
            return kind
    return "other"


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Resolve the given folders to run folders (those holding results.json), in the given order."""
    found: list[Path] = []
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
        found.extend(c for c in candidates if c.resolve() not in {f.resolve() for f in found})
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
    results = list(_flatten(data, results_path, run_dir))
    if not results:
        raise ReportError(f"{results_path}: holds no results")
    samples_path = run_dir / SAMPLES_FILE
    samples = _read_samples(samples_path) if samples_path.is_file() else []
    if not samples:
        log.warning("%s: no per-sample rows (%s missing or empty); only the leaderboard will show it",
                    run_dir, SAMPLES_FILE)
    _check_counts(results, samples, samples_path)
    return Run(path=run_dir, results=results, samples=samples)


def _flatten(data: Any, path: Path, run_dir: Path, inherit: Mapping[str, Any] | None = None,
             where: str = "") -> Iterable[RunResult]:
    """Yield one RunResult per result object, descending into lists and splits/tasks mappings."""
    inherit = dict(inherit or {})
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from _flatten(item, path, run_dir, inherit, f"{where}[{i}]")
        return
    if not isinstance(data, Mapping):
        raise ReportError(f"{path}: {where or 'top level'} must be an object or a list, "
                          f"got {type(data).__name__}")
    nested = next((k for k in _NESTED_KEYS if isinstance(data.get(k), Mapping | list)), None)
    context = {k: data[k] for k in ("task", "model", "judge", "kind", "benchmark") if data.get(k) is not None}
    if nested is None:
        if "metrics" not in data:
            raise ReportError(f"{path}: {where or 'top level'} has no 'metrics' (nor a splits/tasks mapping)")
        yield _result(data, path, run_dir, inherit, where, has_children=False)
    else:
        children = data[nested]
        child_inherit = {**inherit, **context}
        items = children.items() if isinstance(children, Mapping) else enumerate(children)
        for key, child in items:
            if not isinstance(child, Mapping):
                raise ReportError(f"{path}: {where}.{nested}.{key} must be an object")
            child = dict(child)
            if "task" not in child and isinstance(key, str):
                parent = str(child_inherit.get("task", ""))
                is_split = task_kind(parent) == "mis" and key not in ("", "all")
                if is_split:
                    child["task"] = key if key.startswith("mis") else f"mis_{key}"
                else:  # a variant of another benchmark (the white-image modes) keeps its benchmark's name
                    child["task"] = f"{parent}@{key}" if nested == "splits" and parent else key
                child.setdefault("kind", child_inherit.get("kind"))
            yield from _flatten(child, path, run_dir, child_inherit, f"{where}.{nested}.{key}")
        if "metrics" in data:  # the overall row after its parts
            yield _result(data, path, run_dir, inherit, where, has_children=True)


def _result(data: Mapping[str, Any], path: Path, run_dir: Path, inherit: Mapping[str, Any],
            where: str, *, has_children: bool) -> RunResult:
    at = f"{path}: {where + ': ' if where else ''}"
    task = data.get("task", inherit.get("task"))
    if not isinstance(task, str) or not task:
        raise ReportError(f"{at}field 'task' is missing")
    model = data.get("model", inherit.get("model"))
    if not isinstance(model, str) or not model:
        raise ReportError(f"{at}field 'model' is missing (task {task!r})")
    kind = task_kind(task, _declared_kind(data, inherit))
    metrics = _numbers(data["metrics"], f"{at}task {task!r}: field 'metrics'")
    if kind == "mis":
        missing = [k for k in MIS_METRICS if k not in metrics]
        if missing:
            raise ReportError(f"{at}task {task!r}: field 'metrics' lacks {', '.join(missing)}")
    m = _MIS_TASK.match(task.lower())
    split = str(data.get("split") or (m and m.group("split")) or ("all" if has_children else ""))
    by_category = {}
    for cat, bucket in (data.get("by_category") or {}).items():
        if isinstance(bucket, Mapping):
            by_category[str(cat)] = _numbers(bucket, f"{at}by_category.{cat}")
    return RunResult(
        run_dir=run_dir, task=task, model=model, judge=str(data.get("judge", inherit.get("judge")) or ""),
        split=split, kind=kind, n=_int_or_none(data.get("n"), f"{at}field 'n'"),
        n_unknown=_int_or_none(data.get("unknown"), f"{at}field 'unknown'"),
        metrics=metrics, by_category=by_category, raw=dict(data),
    )


def _declared_kind(data: Mapping[str, Any], inherit: Mapping[str, Any]) -> Any:
    """The kind a result declares: schema 2 names its benchmark and kind (attack / over_refusal / general)."""
    benchmark = data.get("benchmark", inherit.get("benchmark"))
    kind = data.get("kind", inherit.get("kind"))
    if benchmark == "mis":
        return "mis"
    return {"attack": "safety"}.get(kind, kind)


def _numbers(value: Any, where: str, *, nested: bool = True) -> dict[str, float]:
    """Numeric scalars of a mapping, keys lower-cased; lists (e.g. intervals) are skipped.

    One nested level (e.g. per-subset metrics) is kept as "outer/inner" keys.
    """
    if not isinstance(value, Mapping):
        raise ReportError(f"{where} must be an object of numbers")
    out = {}
    for key, v in value.items():
        if nested and isinstance(v, Mapping):
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


def _read_samples(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ReportError(f"{path}:{lineno}: not valid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise ReportError(f"{path}:{lineno}: a row must be a JSON object")
            images = row.get("images", [])
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
        if not r.is_mis or r.n is None:
            continue
        parts = set(r.split.split("_"))  # "easy_hard": a task over two splits
        rows = [s for s in samples if r.split in ("", "all") or s.get("split") in parts]
        if len(rows) != r.n:
            log.warning("%s: %d rows for %s (split %s) but results.json says n=%d",
                        path, len(rows), r.task, r.split or "-", r.n)


def row_model(run: Run, row: Mapping[str, Any]) -> str:
    """The model a sample row belongs to: its own ``model`` field, else the run's first result's."""
    return str(row.get("model") or run.results[0].model)


def row_split(run: Run, row: Mapping[str, Any]) -> str:
    """The split/task label of a sample row: its ``split``, else the run's single result's split/task."""
    if row.get("split"):
        return str(row["split"])
    first = run.results[0]
    return first.split or first.task
