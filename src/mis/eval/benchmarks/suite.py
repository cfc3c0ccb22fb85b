"""Run a named suite of benchmarks for one model: ``OUT/<benchmark>/results.json`` + ``samples.jsonl``.

``SUITES["paper"]`` is the paper's table besides MIS (MIS.md sec. 7): the safety benchmarks, the
over-refusal checks (MOSSBench, the white-image test) and the five general benchmarks. Benchmarks
whose data folder is not given are skipped and listed in ``OUT/suite.json``. A benchmark whose
results.json exists is not rerun (resume); an interrupted one resumes its inspect log with
``eval_retry``, so finished samples are never generated or judged twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.eval.benchmarks.results import SPECS, compute, sample_rows

log = logging.getLogger(__name__)

SAFETY = ("figstep", "mm_safetybench", "jailbreakv_mini", "siuo", "mssbench_chat")
OVER_REFUSAL = ("mossbench", "white_image")
GENERAL = ("qbench", "mmstar", "mmmu", "muirbench", "mmt_mi")
SUITES: dict[str, tuple[str, ...]] = {
    "paper": SAFETY + OVER_REFUSAL + GENERAL,
    "safety": SAFETY + ("vlguard",),
    "over-refusal": OVER_REFUSAL,
    "general": GENERAL,
    "all": SAFETY + ("vlguard",) + OVER_REFUSAL + GENERAL,
}
#: The data_roots key each benchmark reads (the white-image test reuses MSSBench's safe situations).
DATA_KEY = {name: name for name in SPECS} | {"white_image": "mssbench_chat"}
WHITE_MODES = ("original", "white", "none")


@dataclass
class SuiteConfig:
    """Options of one suite run beyond model/judge/data (every field is recorded in suite.json)."""

    guard: str | None = None
    """Llama Guard judge for FigStep/MM-SafetyBench/JailBreakV; None -> ``judge`` in prompt mode."""
    guard_mode: str | None = None
    """``chat`` (guard's own template) or ``prompt``; default chat when ``guard`` is set, else prompt."""
    judge_base_url: str | None = None
    """OpenAI-compatible base URL of the judge (and of the guard)."""
    model_base_url: str | None = None
    """OpenAI-compatible base URL of the model under test."""
    model_args: dict[str, Any] = field(default_factory=dict)
    """Provider arguments of the model (e.g. ``batch_size`` for hfvlm)."""
    limit: int | None = None
    """Evaluate only the first N samples of each benchmark (smoke runs)."""
    max_tokens: int | None = None
    """Override every task's generation budget."""
    task_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Extra task arguments per benchmark, e.g. ``{"figstep": {"subset": "SafeBench-Tiny"}}``."""
    max_samples: int | None = None
    """Samples in flight at once (inspect's ``max_samples``)."""


def _task(name: str, data: str, judge: str | None, cfg: SuiteConfig, image_mode: str = "original") -> Any:
    from mis.eval.benchmarks import tasks as T

    kwargs: dict[str, Any] = {"data": data, "limit": cfg.limit}
    if cfg.max_tokens is not None:
        kwargs["max_tokens"] = cfg.max_tokens
    if name in ("figstep", "mm_safetybench", "jailbreakv_mini"):
        kwargs |= {
            "guard": cfg.guard or judge,
            "guard_base_url": cfg.judge_base_url,
            "guard_mode": cfg.guard_mode or ("chat" if cfg.guard else "prompt"),
        }
    elif name in ("siuo", "mssbench_chat", "mossbench", "white_image"):
        kwargs |= {"judge": judge, "judge_base_url": cfg.judge_base_url}
    if name == "white_image":
        kwargs["image_mode"] = image_mode
    kwargs |= cfg.task_args.get(name, {})  # explicit per-benchmark arguments win
    factory: Callable[..., Any] = getattr(T, name)
    return factory(**kwargs)


def _evaluate(units: dict[str, Any], model: str, log_dir: Path, cfg: SuiteConfig) -> dict[str, Any]:
    """Run the tasks of ``units`` (dataset name -> Task) in ONE inspect eval (one model load).

    Logs already in ``log_dir`` are reused: finished ones as they are, unfinished ones through
    ``eval_retry`` (which keeps their finished samples), so a killed suite resumes per sample.
    Returns dataset name -> the full EvalLog.
    """
    from inspect_ai import eval as inspect_eval
    from inspect_ai import eval_retry
    from inspect_ai.log import list_eval_logs, read_eval_log

    common: dict[str, Any] = {
        "log_dir": str(log_dir),
        "display": "none",
        "max_samples": cfg.max_samples,
        "max_tasks": max(1, len(units)),
    }
    found: dict[str, Any] = {}
    retry: list[Any] = []
    if log_dir.is_dir():
        unfinished: dict[str, Any] = {}
        for info in sorted(list_eval_logs(str(log_dir)), key=lambda i: i.mtime or 0, reverse=True):
            header = read_eval_log(info, header_only=True)
            key = header.eval.dataset.name
            if key not in units:
                continue
            if header.status == "success":
                found.setdefault(key, info)  # a finished log wins over any unfinished one
            else:
                unfinished.setdefault(key, info)  # the newest unfinished log of a benchmark
        for key, info in unfinished.items():
            if key not in found:
                retry.append(info)
                found[key] = None
    fresh = [task for key, task in units.items() if key not in found]
    logs: list[Any] = []
    if retry:
        log.info("resuming %d unfinished benchmark log(s)", len(retry))
        logs += eval_retry(retry, **common)
    if fresh:
        logs += inspect_eval(
            fresh,
            model=model,
            model_base_url=cfg.model_base_url,
            model_args=cfg.model_args,
            fail_on_error=False,
            **common,
        )
    for result in logs:
        key = result.eval.dataset.name
        if result.status != "success":
            message = result.error.message if result.error else "no error recorded"
            raise RuntimeError(f"{key}: inspect run ended with status {result.status}: {message}")
        found[key] = result.location
    return {key: read_eval_log(found[key]) for key in units}


def _write(folder: Path, result: dict[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "samples.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(folder / "samples.jsonl")
    tmp = folder / "results.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(folder / "results.json")  # written last: its presence marks the benchmark done


def _one(rows: Sequence[Mapping[str, Any]], key: str) -> Any:
    """The value of ``key`` shared by all judged rows (None if none has it; a list if they differ)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    distinct = [v for k, v in enumerate(values) if v not in values[:k]]
    return distinct[0] if len(distinct) == 1 else (distinct or None)


def _result(
    name: str, model: str, judge: str | None, rows: Sequence[Mapping[str, Any]], extra: dict[str, Any]
) -> dict:
    summary = compute(name, rows)
    judges = sorted({str(r["judge"]) for r in rows if r.get("judge")})
    return {
        "task": name,
        "kind": SPECS[name][0],
        "model": model,
        "judge": judges[0] if len(judges) == 1 else (", ".join(judges) or judge or "none"),
        "judge_protocol": _one(rows, "judge_protocol"),
        "judge_prompt_sha256": _one(rows, "judge_prompt_sha256"),
        "judge_config": _one(rows, "judge_config"),
        "n": len({r["uid"] for r in rows}),
        "unknown": summary["unknown"],
        "metrics": summary["metrics"],
        "by_category": summary["by_category"],
        **extra,
    }


def _units(name: str, data: str, judge: str | None, cfg: SuiteConfig) -> dict[str, Any]:
    """Dataset name -> Task for one benchmark (the white-image test is three runs)."""
    from mis.eval.benchmarks._tasks import dataset_name

    modes = WHITE_MODES if name == "white_image" else ("original",)
    return {dataset_name(name, m): _task(name, data, judge, cfg, m) for m in modes}


def _collect(name: str, model: str, judge: str | None, logs: Mapping[str, Any]) -> tuple[dict, list[dict]]:
    """results.json content and samples.jsonl rows of one benchmark from its EvalLog(s)."""
    from mis.eval.benchmarks._tasks import dataset_name

    if name != "white_image":
        elog = logs[dataset_name(name, "original")]
        rows = sample_rows(name, elog.samples or [], model, elog.eval.dataset.sample_ids)
        return _result(name, model, judge, rows, {"log": str(elog.location)}), rows
    rows = []
    per_mode: dict[str, Any] = {}
    for mode in WHITE_MODES:
        elog = logs[dataset_name(name, mode)]
        part = sample_rows(name, elog.samples or [], model, elog.eval.dataset.sample_ids)
        rows += part
        per_mode[mode] = compute(name, part)["metrics"]
    result = _result(name, model, judge, rows, {"by_image_mode": per_mode})
    result["metrics"] = {
        "refusal_rate": per_mode["white"]["refusal_rate"],
        **{f"refusal_rate_{m}": per_mode[m]["refusal_rate"] for m in WHITE_MODES},
        "unknown": result["metrics"]["unknown"],
    }
    result["n"] = len(rows)
    return result, rows


def run_benchmarks(
    names: Sequence[str],
    model: str,
    judge: str | None,
    data_roots: Mapping[str, str | Path],
    out: Path,
    cfg: SuiteConfig | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``names`` into ``out/<name>/`` (one inspect eval for all that are not done yet)."""
    cfg = cfg or SuiteConfig()
    results: dict[str, dict[str, Any]] = {}
    units: dict[str, Any] = {}
    todo = []
    for name in names:
        done = out / name / "results.json"
        if done.is_file():
            log.info("%s: results.json exists, not rerun", name)
            results[name] = dict(json.loads(done.read_text(encoding="utf-8")))
            continue
        todo.append(name)
        units |= _units(name, str(data_roots[DATA_KEY[name]]), judge, cfg)
    if units:
        logs = _evaluate(units, model, out / "logs", cfg)
        for name in todo:
            result, rows = _collect(name, model, judge, logs)
            _write(out / name, result, rows)
            results[name] = result
    return results


def run_suite(
    name: str,
    model: str,
    judge: str | None,
    data_roots: Mapping[str, str | Path],
    out: str | Path,
    config: SuiteConfig | None = None,
    *,
    benchmarks: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run every benchmark of suite ``name`` that has a data folder; write ``OUT/suite.json``.

    Args:
        name: a key of :data:`SUITES` (``paper``, ``safety``, ``over-refusal``, ``general``, ``all``).
        model: inspect model string of the model under test (``hfvlm/PATH``, ``vllm/...``).
        judge: inspect model string of the VLM/LLM judge (SIUO, MSSBench, MOSSBench, white image,
            and the Llama Guard protocol in prompt mode unless ``config.guard`` is set).
        data_roots: benchmark name -> local folder or hub id (keys as in :data:`SUITES`;
            ``white_image`` reads ``mssbench_chat``'s).
        out: output folder; ``OUT/<benchmark>/`` per benchmark.
        config: further options (:class:`SuiteConfig`).
        benchmarks: run only these benchmarks of the suite.

    Returns:
        ``{"suite", "model", "judge", "results": {benchmark: results.json}, "skipped": {benchmark: why}}``.

    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of {sorted(SUITES)}")
    unknown_keys = sorted(set(data_roots) - set(SPECS))
    if unknown_keys:
        raise ValueError(f"data_roots: unknown benchmark(s) {unknown_keys}; known: {sorted(SPECS)}")
    chosen = list(SUITES[name])
    if benchmarks:
        bad = [b for b in benchmarks if b not in chosen]
        if bad:
            raise ValueError(f"benchmark(s) {bad} are not in suite {name!r} ({', '.join(chosen)})")
        chosen = [b for b in chosen if b in benchmarks]
    cfg = config or SuiteConfig()
    out = Path(out)
    skipped: dict[str, str] = {}
    runnable = [b for b in chosen if DATA_KEY[b] in data_roots]
    if not runnable:
        raise ValueError(f"suite {name!r}: no data folder given for any of {', '.join(chosen)}")
    for bench in chosen:
        if bench not in runnable:
            skipped[bench] = f"no data folder given for {DATA_KEY[bench]!r}"
    results = run_benchmarks(runnable, model, judge, data_roots, out, cfg)
    summary = {
        "suite": name,
        "model": model,
        "judge": judge,
        "guard": cfg.guard,
        "results": results,
        "skipped": skipped,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
