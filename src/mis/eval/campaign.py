"""Campaigns: many models x many benchmarks from one plan; each cell one call of `mis eval`/`mis bench run`.

A plan (YAML, docs/scale-out.md) lists models (each with its provider args), benchmarks (MIS splits and any
registered benchmark), one judge and shared options. Every (model, benchmark) pair is a *cell* whose folder
``DIR/<model>/<benchmark>/`` is the ``--out`` of one library call (:func:`mis.eval.commands.run_eval` for MIS,
:func:`~mis.eval.commands.run_bench` for the others), so a cell resumes exactly as those commands do. Nothing
here schedules: a worker walks its cells in plan order (``--shard K/N``: every N-th, from the K-th), claims
each with a file lock (:mod:`mis.eval._cells`), skips those done (state file + the same config fingerprint)
or held by another worker, and records why a cell failed without stopping the others. Slurm arrays, or
several machines on one filesystem, do the scheduling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from mis.errors import ConfigError, MisError, RunStopped, UsageError
from mis.eval import _cells
from mis.eval._cells import DONE, ELSEWHERE, FAILED, OTHER_SHARD, PENDING, RUNNING, STOPPED, CellStatus

logger = logging.getLogger(__name__)

CAMPAIGN_FILE = "campaign.json"
ERROR_FILE = "cell.error.txt"
_MIS_CELL = re.compile(r"^mis_(?P<split>[A-Za-z0-9_]+)$")
#: Plan keys of a model entry besides the ModelOptions fields.
_MODEL_KEYS = ("name",)
_BENCH_KEYS = ("benchmark", "name", "split", "data", "task_args", "max_tokens", "prompt")
#: Config fields a cell sets itself (from its model and benchmark entries), never from shared options.
_PER_CELL = ("out", "data", "split", "only", "suite", "bench_data", "task_args", "model", "model_base_url",
             "model_args", "batch_size")


class CampaignIncomplete(RunStopped):
    """Some cells of this worker failed or stopped (the others finished); rerun to retry them (exit 4)."""


@dataclass(frozen=True)
class Cell:
    """One (model, benchmark) pair of a plan: its folder and the config of the one library call it is."""

    index: int
    model_name: str
    benchmark_name: str
    command: str
    """``eval`` (MIS, run_eval) or ``bench`` (another benchmark, run_bench)."""
    config: Any
    """The resolved EvalConfig / BenchConfig (its ``out`` is the cell folder)."""
    results: str
    """Where the call writes results.json, relative to the cell folder."""

    @property
    def id(self) -> str:
        """``<model>/<benchmark>``, also the folder under DIR."""
        return f"{self.model_name}/{self.benchmark_name}"

    @property
    def folder(self) -> Path:
        """The cell folder (the call's ``--out``)."""
        return Path(self.config.out)

    @property
    def fingerprint(self) -> str:
        """A hash of the call's config (without the folder): another plan for this cell runs it again."""
        public = {k: v for k, v in self.config.public().items() if k != "out"}
        blob = json.dumps(public, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Plan:
    """A campaign plan as read from its file (models x benchmarks, one judge, shared options)."""

    path: Path
    models: list[dict[str, Any]]
    benchmarks: list[dict[str, Any]]
    judge: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)

    def cells(self, out: Path) -> list[Cell]:
        """Every cell in plan order (models outer, benchmarks inner), configs resolved."""
        from mis._util.config import resolve
        from mis.eval.config import BenchConfig, EvalConfig

        names = [model_name(m) for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"{self.path}: models: two models share the folder name {dup[0]!r}; give "
                              "each a distinct 'name'")
        cells: list[Cell] = []
        for model, name_of_model in zip(self.models, names, strict=True):
            for bench in self.benchmarks:
                name, command, values = self._cell_values(model, bench)
                cls = EvalConfig if command == "eval" else BenchConfig
                values["out"] = Path(out) / name_of_model / name
                allowed = {f.name for f in fields(cls)}
                shared = {k: v for k, v in self.options.items() if k in allowed}
                try:
                    config = resolve(cls, None, shared | self.judge | values, source=str(self.path))
                except MisError as exc:
                    raise ConfigError(f"{self.path}: cell {name_of_model}/{name}: {exc}") from None
                results = "results.json" if command == "eval" else f"{bench['benchmark']}/results.json"
                cells.append(Cell(len(cells), name_of_model, name, command, config, results))
        return cells

    def _cell_values(self, model: dict[str, Any], bench: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        values = {k: v for k, v in model.items() if k not in _MODEL_KEYS}
        spec = bench["benchmark"]
        data = bench.get("data") or self.data.get(spec)
        if spec == "mis":
            split = str(bench.get("split", "hard"))
            if data is None:
                raise ConfigError(f"{self.path}: benchmarks: mis needs its data: a 'data: {{mis: FOLDER}}' "
                                  "entry, or 'data' on the benchmark")
            values |= {"data": str(data), "split": split}
            values |= {k: bench[k] for k in ("prompt", "max_tokens") if k in bench}
            return str(bench.get("name") or f"mis_{split}"), "eval", values
        values |= {"suite": "all", "only": [spec], "data": {spec: str(data)} if data else {}}
        if bench.get("task_args"):
            values["task_args"] = {spec: dict(bench["task_args"])}
        if "max_tokens" in bench:
            values["max_tokens"] = bench["max_tokens"]
        return str(bench.get("name") or spec), "bench", values


def model_name(model: dict[str, Any]) -> str:
    """A model's folder name: its ``name``, else a slug of the model string's last two parts."""
    name = model.get("name") or "-".join(str(model["model"]).rstrip("/").split("/")[-2:])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-.") or "model"


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; errors name the file, the entry and the key."""
    import yaml

    from mis.eval.benchmarks import registered
    from mis.eval.config import BenchConfig, EvalConfig, JudgeOptions, ModelOptions

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: plan file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a plan is a mapping with models, benchmarks, judge, options, data")
    _keys(path, "the plan", raw, {"models", "benchmarks", "judge", "options", "data"})
    model_fields = {f.name for f in fields(ModelOptions)} | set(_MODEL_KEYS)
    models = [_entry(path, "models", i, m, "model", model_fields)
              for i, m in enumerate(_list(path, raw, "models"))]
    benchmarks = [_entry(path, "benchmarks", i, _bench_entry(b), "benchmark", set(_BENCH_KEYS))
                  for i, b in enumerate(_list(path, raw, "benchmarks"))]
    judge = raw.get("judge") or {}
    if isinstance(judge, str):
        judge = {"judge": judge}
    judge_fields = {f.name for f in fields(JudgeOptions)} | {"guard", "guard_base_url", "guard_mode"}
    _keys(path, "judge", judge, judge_fields)
    options = raw.get("options") or {}
    shared = ({f.name for f in fields(EvalConfig)} | {f.name for f in fields(BenchConfig)}) - set(_PER_CELL)
    _keys(path, "options", options, shared)
    data = raw.get("data") or {}
    _keys(path, "data", data, None)
    specs = registered()
    for i, b in enumerate(benchmarks):
        if b["benchmark"] not in specs:
            raise ConfigError(f"{path}: benchmarks[{i}]: unknown benchmark {b['benchmark']!r}; registered: "
                              f"{', '.join(sorted(specs))}")
    names = [b.get("name") or (f"mis_{b.get('split', 'hard')}" if b["benchmark"] == "mis" else b["benchmark"])
             for b in benchmarks]
    if len(set(names)) < len(names):
        raise ConfigError(f"{path}: benchmarks: two entries share a folder name; give one a distinct 'name'")
    return Plan(path, models, benchmarks, judge, options, {str(k): str(v) for k, v in data.items()})


def _list(path: Path, raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{path}: {key!r} must be a non-empty list")
    return value


def _bench_entry(entry: Any) -> Any:
    """``mis_hard`` -> MIS's hard split; ``mossbench`` -> that benchmark; mappings as written."""
    if isinstance(entry, str):
        found = _MIS_CELL.match(entry)
        return {"benchmark": "mis", "split": found.group("split")} if found else {"benchmark": entry}
    return entry


def _entry(path: Path, key: str, i: int, entry: Any, required: str, allowed: set[str]) -> dict[str, Any]:
    where = f"{key}[{i}]"
    if isinstance(entry, str) and key == "models":
        entry = {"model": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {where} must be a mapping (or a string)")
    if required not in entry:
        raise ConfigError(f"{path}: {where}: {required!r} is missing")
    _keys(path, where, entry, allowed)
    return dict(entry)


def _keys(path: Path, where: str, value: Any, allowed: set[str] | None) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {where} must be a mapping")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise ConfigError(f"{path}: {where}: unknown key(s) {', '.join(unknown)} (valid: "
                          f"{', '.join(sorted(allowed or ()))})")


def parse_shard(text: str | None) -> tuple[int, int]:
    """``K/N`` (1-based) -> (K, N); None -> (1, 1)."""
    if text is None:
        return 1, 1
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/8), got {text!r}")
    return int(found.group(1)), int(found.group(2))


def in_shard(cell: Cell, shard: tuple[int, int]) -> bool:
    """Round-robin over the plan order: shard K of N takes cells K-1, K-1+N, K-1+2N ..."""
    k, n = shard
    return cell.index % n == k - 1


class CampaignProgress(Protocol):
    """What a campaign reports while it runs (the CLI draws a live table; the library never prints)."""

    def update(self, status: CellStatus) -> None:
        """A cell's status changed (state, samples done, reason)."""


@dataclass
class CampaignOutcome:
    """Every cell's status after this worker's pass (cells of other shards and workers included)."""

    out: Path
    statuses: list[CellStatus]

    def of(self, state: str) -> list[CellStatus]:
        """The cells in ``state``."""
        return [s for s in self.statuses if s.state == state]


def status(out: str | Path) -> list[CellStatus]:
    """A campaign's cells and their states, from its folder alone (DIR/campaign.json + each cell folder)."""
    out = Path(out)
    path = out / CAMPAIGN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{out}: no {CAMPAIGN_FILE} (not a `mis campaign run` --out)") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return [_cells.status_of(out / c["cell"], c["cell"], c["model"], c["benchmark"], c["fingerprint"])
            for c in data["cells"]]


def _write_campaign(out: Path, plan: Plan, cells: Sequence[Cell]) -> None:
    """Add this plan's cells to DIR/campaign.json (several plans may share a folder: one per Slurm task).

    Read-merge-write under a lock on DIR/campaign.lock, so workers starting together lose no entry.
    """
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    entries = [{"cell": c.id, "model": c.model_name, "benchmark": c.benchmark_name, "command": c.command,
                "model_string": c.config.model, "results": c.results, "fingerprint": c.fingerprint,
                "plan": str(plan.path.resolve())} for c in cells]
    with (out / "campaign.lock").open("a", encoding="utf-8") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        path = out / CAMPAIGN_FILE
        try:
            known = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            known = []
        mine = {e["cell"] for e in entries}
        record = {"cells": [e for e in known if e.get("cell") not in mine] + entries}
        tmp = out / f".{CAMPAIGN_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def plan_cells(plan_path: str | Path, out: str | Path) -> list[Cell]:
    """The plan's cells for DIR ``out``, every cell's config validated (models, judge, folders)."""
    cells = load_plan(plan_path).cells(Path(out))
    for cell in cells:
        cell.config.validate()
    return cells


def run_campaign(plan_path: str | Path, out: str | Path, *, shard: str | None = None,
                 progress: CampaignProgress | None = None) -> CampaignOutcome:
    """Run this worker's cells of the plan into ``out``; raise :class:`CampaignIncomplete` if any failed.

    Cells held by another worker, or of another shard, are left to it; every cell is checked before any runs.
    """
    part = parse_shard(shard)
    out = Path(out)
    plan = load_plan(plan_path)
    cells = plan.cells(out)
    for cell in cells:
        cell.config.validate()
    _write_campaign(out, plan, cells)
    statuses = [_cells.status_of(c.folder, c.id, c.model_name, c.benchmark_name, c.fingerprint)
                for c in cells]
    for cell, st in zip(cells, statuses, strict=True):
        if not in_shard(cell, part) and st.state not in (DONE, RUNNING):
            st.state = OTHER_SHARD
        _notify(progress, st)
    bad = []
    for cell, st in zip(cells, statuses, strict=True):
        if in_shard(cell, part):
            _run_cell(cell, st, progress)
            if st.state in (FAILED, STOPPED):
                bad.append(st)
    if bad:
        raise CampaignIncomplete(f"{len(bad)} of {len(cells)} cells did not finish ("
                                 + "; ".join(f"{s.cell}: {s.reason}" for s in bad)
                                 + "); the others did. Rerun the same command to retry them")
    return CampaignOutcome(out, statuses)


class _CellProgress:
    """The runner's per-sample Progress, turned into updates of one cell's status."""

    def __init__(self, st: CellStatus, progress: CampaignProgress | None) -> None:
        self.st, self.progress = st, progress

    def start(self, task: str, total: int, done: int) -> None:
        self.st.total, self.st.done = total, done
        _notify(self.progress, self.st)

    def advance(self, task: str, row: dict[str, Any]) -> None:
        self.st.done += 1
        _notify(self.progress, self.st)


def _run_cell(cell: Cell, st: CellStatus, progress: CampaignProgress | None) -> None:
    """Claim the cell, run its one library call unless it is done, record how it ended, release it."""
    lock = _cells.CellLock(cell.folder)
    if not lock.acquire():
        st.state, st.reason = ELSEWHERE, ""
        _notify(progress, st)
        return
    try:
        now = _cells.status_of(cell.folder, cell.id, cell.model_name, cell.benchmark_name, cell.fingerprint)
        if now.state == DONE:  # finished by another worker (or an earlier run) before this one got the lock
            st.__dict__.update(now.__dict__)
            _notify(progress, st)
            return
        who = _cells.worker()
        st.state, st.reason, st.host, st.pid = RUNNING, "", who["host"], who["pid"]
        st.fingerprint, st.results, st.headline = cell.fingerprint, cell.results, ""
        _cells.write_state(cell.folder, st)
        _notify(progress, st)
        started = time.monotonic()
        try:
            result = _call(cell, _CellProgress(st, progress))
        except KeyboardInterrupt:
            st.state, st.reason = STOPPED, "interrupted"
            raise
        except RunStopped as exc:
            if _interrupted(exc):  # Ctrl-C stops the campaign, not just this cell
                st.state, st.reason = STOPPED, "interrupted"
                raise KeyboardInterrupt from exc
            st.state, st.reason = FAILED, str(exc)
        except MisError as exc:
            st.state, st.reason = FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the others; traceback kept
            st.state, st.reason = FAILED, f"{type(exc).__name__}: {exc} (traceback in {ERROR_FILE})"
            (cell.folder / ERROR_FILE).write_text(traceback.format_exc(), encoding="utf-8")
            logger.error("cell %s failed: %s", cell.id, exc)
        else:
            st.state, st.headline, st.reason = DONE, _headline(result), ""
            st.done = int(result.get("n", st.done))
        finally:
            st.seconds = round(time.monotonic() - started, 1)
            if st.state == RUNNING:
                st.state = STOPPED
            _cells.write_state(cell.folder, st)
            _notify(progress, st)
    finally:
        lock.release()


def _call(cell: Cell, progress: _CellProgress) -> dict[str, Any]:
    """The cell's one library call (`mis eval` or `mis bench run`), then its unknown-rate check."""
    from mis.eval.commands import check_complete, check_unknown, run_bench, run_eval

    if cell.command == "eval":
        outcome = run_eval(cell.config, progress)
    else:
        outcome = run_bench(cell.config, progress)
        check_complete(outcome)
    check_unknown(outcome, cell.config.fail_on_unknown)
    if not outcome.results:
        raise RunStopped("the call wrote no results")
    return next(iter(outcome.results.values()))


def _interrupted(exc: RunStopped) -> bool:
    """Whether the runner stopped because of Ctrl-C (it turns KeyboardInterrupt into RunStopped)."""
    return "interrupted" in str(exc)


def _headline(result: dict[str, Any]) -> str:
    head = result.get("headline") or {}
    value = head.get("value")
    return f"{head.get('metric')} {value:.2f}" if isinstance(value, int | float) else ""


def _notify(progress: CampaignProgress | None, st: CellStatus) -> None:
    if progress is not None:
        progress.update(st)


__all__ = ["CAMPAIGN_FILE", "PENDING", "CampaignIncomplete", "CampaignOutcome", "CampaignProgress", "Cell",
           "CellStatus", "Plan", "in_shard", "load_plan", "parse_shard", "plan_cells", "run_campaign",
           "status"]
