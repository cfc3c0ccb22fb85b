"""Training throughput on CPU: full fine-tuning vs LoRA vs TRL's fused LM head on a tiny model.

    .venv/bin/python perf/train_throughput.py [--arch qwen2_vl] [--steps 100] [--samples 16] [--repeats 3]
        [--threads N]

Each run is its own process (so peak RSS is that mode's own) through `mis.train.train` with the
tiny-cpu recipe, on synthetic two-image samples with safety-CoT-length targets. The modes are repeated
`--repeats` times, interleaved (full, lora, full-fused, full, ...), so a load spike hits all of them;
prints min / median / max of samples/s, tokens/s (all tokens the model saw), train time and peak RSS
per mode, the ratios of the medians against `full`, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Series, interleaved, load_average  # noqa: E402 - perf/ is not a package

TARGET = (
    "The first image shows a red square and the second a blue circle. Putting them together raises "
    "no concrete risk here; a safe and helpful answer describes each shape and how they could sit "
    "side by side, without any harmful step. "
) * 2


def make_data(root: Path, n: int) -> Path:
    from PIL import Image

    from mis.data import Sample, write_mis_layout

    samples = []
    for i in range(n):
        paths = []
        for k, color in enumerate(("red", "blue"), start=1):
            p = root / "src" / f"{i}_{k}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 64), color).save(p)
            paths.append(str(p))
        samples.append(
            Sample(
                id=str(i),
                split="train",
                question="How could the object in the first image be "
                "combined with the object in the second image?",
                images=paths,
                target=TARGET,
            )
        )
    return write_mis_layout(samples, root / "data")


MODES = ("full", "lora", "full-fused")


def one(mode: str, arch: str, steps: int, samples: int, work: Path, batch_size: int | None = None) -> dict:
    import logging

    logging.disable(logging.WARNING)
    from mis.models.tiny import make_tiny_model
    from mis.train import resolve_config, train

    model = make_tiny_model(work / "model", arch)
    data = make_data(work, samples)
    config = resolve_config(
        "tiny-cpu",
        model=str(model),
        data=str(data),
        out=str(work / "out"),
        max_steps=steps,
        lora=(mode == "lora"),
        fused_lm_head=(mode == "full-fused"),  # tiny-cpu default: the model's own cross-entropy
        save_steps=10_000,
        logging_steps=1,
        **({"batch_size": batch_size} if batch_size else {}),
    )
    start = time.perf_counter()
    out = train(config)
    wall = time.perf_counter() - start
    log = json.loads((out / "train_log.json").read_text())
    runtime = log["metrics"]["train_runtime"]
    tokens = max(h.get("num_tokens", 0) for h in log["log_history"])
    return {
        "mode": mode,
        "steps": steps,
        "batch": config.batch_size,
        "samples_per_s": steps * config.batch_size / runtime,
        "tokens_per_s": tokens / runtime,
        "train_s": runtime,
        "total_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="qwen2_vl")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the tiny-cpu recipe's")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per mode")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one(args.one, args.arch, args.steps, args.samples, Path(tmp), args.batch_size)))
        return
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}

    def run(mode: str) -> float:
        batch = ["--batch-size", str(args.batch_size)] if args.batch_size else []
        threads = ["--threads", str(args.threads)] if args.threads else []
        cmd = [sys.executable, __file__, "--one", mode, "--arch", args.arch, "--steps", str(args.steps),
               "--samples", str(args.samples), *batch, *threads]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        runs[mode].append(row)
        return float(row["samples_per_s"])

    before = load_average()
    interleaved({mode: (lambda mode=mode: run(mode)) for mode in MODES}, args.repeats)
    after = load_average()
    batch = runs["full"][0]["batch"]
    threads = args.threads or "default"
    print(f"tiny {args.arch}, {args.steps} steps x batch {batch}, CPU (torch threads: {threads}), "
          f"{args.repeats} interleaved repeats per mode")
    print(f"before: {before}; after: {after}")
    print("full = full fine-tuning, model's own cross-entropy (tiny-cpu); lora = LoRA, same loss;")
    print("full-fused = full fine-tuning with TRL's fused, tiled LM head (the default of paper recipes)")
    for key, label in (("samples_per_s", "samples/s"), ("tokens_per_s", "tokens/s"), ("train_s", "train s"),
                       ("peak_rss_mb", "peak RSS MB")):
        series = {m: Series(m, [r[key] for r in runs[m]]) for m in MODES}
        print(f"{label} (min / median / max):")
        for mode in MODES:
            ratio = series[mode].median / series["full"].median
            ratio_text = "" if mode == "full" else f"   {mode}/full medians {ratio:.2f}x"
            print(f"  {mode:<11} {series[mode].spread('', 2)}{ratio_text}")


if __name__ == "__main__":
    main()
