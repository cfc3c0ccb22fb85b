"""`mis demo`: the paper's whole loop on MIS-mini, offline, on a CPU, through the real code paths.

build (``mis build`` with the world's backends) -> tiny Idefics3 (``make_tiny_model``) -> general stage
(``mis.train`` on captions + helpful answers: stands in for pre-training) -> MIRage (``mis.train`` on
the safety-CoT train split + general data) and, separately, the refusal-only baseline (``mis.train.
baselines`` refusal labels + the same general data) -> ``mis.eval`` (``hfvlm/`` + ``exact/mis-mini``)
of the base, MIRage and refusal-only models on easy, hard, benign and white -> ``mis report``.
Every stage writes under ``OUT/`` and is reused on a rerun when its output is complete and its key
(everything that defines its result) is unchanged, so a rerun resumes and ``--seed 1`` redoes what the
seed changes (:mod:`mis.mini._stages`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mis.mini._dataset import MiniConfig
from mis.mini._stages import DemoEvent, DemoHook, StageCache, ThreadGovernor
from mis.mini._world import load_world
from mis.train import TrainProgress

__all__ = ["DemoConfig", "run_demo", "demo_table", "MODELS", "EVAL_SPLITS"]

logger = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("base", "mirage", "refusal")
EVAL_SPLITS: tuple[str, ...] = ("easy", "hard", "benign", "white")


@dataclass
class DemoConfig:
    """Sizes and budgets of one demo run (defaults: the measured `make demo` configuration)."""

    out: Path
    """Output folder (data/, models/, runs/, report/, demo_results.json)."""
    seed: int = 0
    """Seeds the world (held-out pairs, renders), the model init and training order."""
    n_train: int = 600
    """Harmful training samples made by `mis build` (safety-CoT labels)."""
    n_general: int = 1500
    """General samples (captions + helpful answers to harmless training pairs)."""
    n_eval: int = 100
    """Samples per evaluation split (easy, hard, benign, white)."""
    general_steps: int = 700
    """Optimizer steps of the general stage (batch ``batch_size``)."""
    train_steps: int = 400
    """Optimizer steps of MIRage and of the refusal-only baseline, each."""
    general_ratio: float = 0.5
    """Share of general samples mixed into MIRage / refusal-only training."""
    batch_size: int = 32
    """Training batch size."""
    lr_general: float = 3e-3
    """Peak learning rate of the general stage (from scratch)."""
    lr: float = 2e-3
    """Peak learning rate of MIRage / refusal-only fine-tuning."""
    eval_batch_size: int = 100
    """hfvlm requests per batched forward pass."""
    max_tokens: int = 64
    """New-token budget per answer (MIS-mini answers are ~50 tokens)."""
    threads: int | None = None
    """torch CPU threads (None: chosen before each stage from the cores other work leaves idle)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Filled in by :func:`run_demo`: seconds per stage, as measured when it ran (reused stages too)."""

    def mini(self) -> MiniConfig:
        """The MIS-mini sizes of this demo."""
        return MiniConfig(seed=self.seed, n_train=self.n_train, n_eval=self.n_eval, n_general=self.n_general)


def tiny_size() -> Any:
    """The calibrated tiny Idefics3: 64 px, patch 8, pixel-shuffle 4 (4 tokens/image), 32x2 / 64x2."""
    from mis.models.tiny import TinySize

    return TinySize(text_hidden=64, text_layers=2, text_heads=2, text_intermediate=128, vision_hidden=32,
                    vision_layers=2, vision_heads=2, vision_intermediate=64, patch_size=8, image_size=64,
                    merge=4, vocab_size=1024, max_positions=512)


def _train_config(cfg: DemoConfig, model: Path, data: Path, out: Path, steps: int, lr: float,
                  general: Path | None, splits: list[str] | None, *, freeze_vision: bool = True) -> Any:
    """The resolved TrainConfig of one fine-tune (the tiny-cpu recipe + the demo's settings)."""
    from mis.train import resolve_config

    return resolve_config(
        "tiny-cpu", model=str(model), data=str(data), out=str(out), splits=splits, max_steps=steps,
        batch_size=cfg.batch_size, lr=lr, lr_scheduler="constant_with_warmup", warmup_ratio=0.05,
        max_length=256,
        seed=cfg.seed, save_steps=10_000, logging_steps=max(1, steps // 20), validate=False,
        freeze_vision=freeze_vision,
        general_data=str(general) if general else None, general_ratio=cfg.general_ratio if general else None,
    )


def _train_key(config: Any) -> dict[str, Any]:
    """Every resolved training field except paths (their stages' hashes stand in for them)."""
    paths = {"model", "data", "general_data", "out", "logging_steps", "save_steps", "validate"}
    return {k: v for k, v in config.to_dict().items() if k not in paths}


def _train(cache: StageCache, stage: str, config: Any, governor: ThreadGovernor) -> None:
    from mis.train import train

    def on_progress(event: TrainProgress) -> None:
        governor.check()  # another job may have started (or ended) since the stage began
        cache.emit(DemoEvent(stage, "train", "", train=event))

    train(config, on_progress=on_progress)


def _refusal_template(out: Path) -> Path:
    path = out / "refusal.txt"
    path.write_text(load_world().labels["refusal"] + "\n", encoding="utf-8")
    return path


def _evaluate(cfg: DemoConfig, model: Path, data: Path, out: Path) -> None:
    from mis.eval import EvalConfig, run_eval

    run_eval(EvalConfig(data=str(data), model=f"hfvlm/{model}", judge="exact/mis-mini", out=out, split="all",
                        batch_size=cfg.eval_batch_size, max_tokens=cfg.max_tokens, fail_on_unknown=0.0))


def _governor(cfg: DemoConfig, used: dict[str, list[int]], stage: str) -> ThreadGovernor:
    """Choose torch's threads for the stage about to run (from the load now, unless --threads)."""
    governor = ThreadGovernor(cfg.threads)
    governor.start()
    used[stage] = governor.used  # the same list: later changes during the stage show up too
    return governor


def run_demo(cfg: DemoConfig, on_event: DemoHook | None = None) -> dict[str, Any]:
    """Run (or resume) the demo; return the content of ``OUT/demo_results.json``.

    ``on_event`` hears each stage start, finish (with its wall time) or reuse (with the time recorded
    when it ran), and every training step. Stages are reused only when their key is unchanged (see
    :mod:`mis.mini._stages`), so another ``--seed`` or ``--train-steps`` reruns exactly what it changes.
    transformers' own bars and log lines stay hidden unless the `mis` logger is at DEBUG (`mis -v`).
    """
    from mis.train import quiet_third_party

    with quiet_third_party():
        return _run_demo(cfg, on_event)


def _run_demo(cfg: DemoConfig, on_event: DemoHook | None) -> dict[str, Any]:
    import torch

    from mis.mini._build import build_mini, world_sha
    from mis.models.tiny import make_tiny_model

    os.environ.setdefault("INSPECT_DISPLAY", "none")  # our table is the output; inspect's log stays on disk
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    data, models, runs = out / "data", out / "models", out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    cache = StageCache(out, on_event)
    threads: dict[str, list[int]] = {}
    t_all = time.perf_counter()
    mini = cfg.mini()
    mis_mini, general = data / "mis_mini", data / "general"

    build = cache.run(
        "build", f"mis build of MIS-mini: {mini.n_train} train, {mini.n_eval} per test split, "
        f"{mini.n_general} general", {"world": world_sha(), **asdict(mini)}, [data],
        mis_mini / "mis_white.json", lambda: build_mini(mini, data, durable=False))
    size = tiny_size()
    init = cache.run(
        "tiny_model", "tiny Idefics3 + tokenizer trained on the world's sentences",
        {"world": world_sha(), "seed": cfg.seed, "size": asdict(size)}, [models / "init"],
        models / "init" / "tiny_model.json",
        lambda: make_tiny_model(models / "init", "idefics3", seed=cfg.seed, size=size,
                                corpus=load_world().corpus() * 3))

    def refusal_data() -> None:
        from mis.train.baselines import make_baseline

        make_baseline(mis_mini, "refusal", data / "refusal", splits=["train"],
                      template=_refusal_template(data))

    refusal = cache.run("refusal_data", "refusal-only labels for the train split",
                        {"build": build, "refusal": load_world().labels["refusal"]}, [data / "refusal"],
                        data / "refusal" / "mis_train.json", refusal_data)

    def fine_tune(name: str, what: str, upstream: dict[str, str], *args: Any, **kw: Any) -> str:
        config = _train_config(cfg, *args, **kw)

        def run() -> None:
            _train(cache, name, config, _governor(cfg, threads, name))

        out_dir = Path(str(config.out))
        key = {**upstream, **_train_key(config)}
        return cache.run(name, what, key, [out_dir], out_dir / "README.md", run)

    base = fine_tune("train_general", f"general stage: {cfg.general_steps} steps x {cfg.batch_size} "
                     "(captions + helpful answers, from scratch)", {"init": init, "data": build},
                     models / "init", general, models / "base", cfg.general_steps, cfg.lr_general, None, None,
                     freeze_vision=False)  # from scratch: the vision tower must learn too
    tuned = {"base": base}
    tuned["mirage"] = fine_tune(
        "train_mirage", f"MIRage: {cfg.train_steps} steps on safety-CoT labels + general data",
        {"base": base, "data": build},
        models / "base", mis_mini, models / "mirage", cfg.train_steps, cfg.lr, general, ["train"])
    tuned["refusal"] = fine_tune(
        "train_refusal", f"refusal-only: {cfg.train_steps} steps on refusals + general data",
        {"base": base, "data": refusal, "general": build},
        models / "base", data / "refusal", models / "refusal", cfg.train_steps, cfg.lr, general, ["train"])
    evals = {}
    for name in MODELS:
        def evaluate(name: str = name) -> None:
            _governor(cfg, threads, f"eval_{name}")
            _evaluate(cfg, models / name, mis_mini, runs / name)

        evals[name] = cache.run(
            f"eval_{name}", f"mis eval of {name}: {4 * cfg.n_eval} answers, exact/mis-mini judge",
            {"model": tuned[name], "data": build, "max_tokens": cfg.max_tokens,
             "batch_size": cfg.eval_batch_size}, [runs / name], runs / name / "results.json", evaluate)

    def report() -> None:
        from mis.report import build_report

        build_report([runs / m for m in MODELS], out / "report", title="MIS-mini demo")

    cache.run("report", "mis report: leaderboard, charts, HTML", evals, [out / "report"],
              out / "report" / "report.html", report)
    cfg.timings = dict(cache.seconds)
    cfg.timings["total"] = round(time.perf_counter() - t_all, 1)
    results = collect(cfg, threads)
    results["cached"] = list(cache.cached)
    results["stage_keys"] = dict(cache.hashes)
    (out / "demo_results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def _perception_rates(samples: Path) -> dict[str, float]:
    """Share (%) of responses per split whose perception is L1 (both objects named correctly)."""
    per: dict[str, list[bool]] = {}
    with samples.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            per.setdefault(row["split"], []).append(row.get("perception") == "L1")
    return {s: round(100 * sum(v) / len(v), 2) for s, v in per.items() if v}


def collect(cfg: DemoConfig, threads: dict[str, list[int]]) -> dict[str, Any]:
    """Per model and split: ASR, HR, RSR, RR, unknown, and both-objects-named rate (exactly as measured)."""
    runs = Path(cfg.out) / "runs"
    table: dict[str, dict[str, Any]] = {}
    for name in MODELS:
        results = json.loads((runs / name / "results.json").read_text(encoding="utf-8"))
        named = _perception_rates(runs / name / "samples.jsonl")
        splits = results.get("splits") or {}
        table[name] = {
            split: {**splits[split]["metrics"], "n": splits[split]["n"], "named_both": named.get(split, 0.0)}
            for split in EVAL_SPLITS if split in splits
        }
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items() if k != "timings"}
    return {"config": config, "threads": threads, "timings_s": dict(cfg.timings), "models": table,
            "runs": {m: str(runs / m) for m in MODELS},
            "report": str(Path(cfg.out) / "report" / "report.html")}


def demo_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The paper's Table 4 rates (ASR, HR, RSR, RR) per model and split, one row each.

    Plus the share of answers naming both objects; RR on ``benign`` and ``white`` is over-refusal.
    """
    columns = ["model", "split", "ASR", "HR", "RSR", "RR", "named"]
    rows = []
    for name, per in results["models"].items():
        for split in EVAL_SPLITS:
            if split in per:
                m = per[split]
                rows.append([name, split, *(f"{m[k]:.2f}" for k in ("asr", "hr", "rsr", "rr", "named_both"))])
    return columns, rows


def packaged_text(name: str) -> str:
    """A text file shipped with mis.mini."""
    return resources.files("mis.mini").joinpath(name).read_text(encoding="utf-8")
