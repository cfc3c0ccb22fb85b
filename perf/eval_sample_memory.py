"""What a `mis eval` run holds per dataset sample before its first request, this checkout vs a baseline.

    .venv/bin/python perf/eval_sample_memory.py [--n 3000] [--baseline-src OTHER_CHECKOUT/src] [--json OUT]

Builds a MIS-layout set of N samples with 64 px images (`_scale_data.py`), then, in a fresh process per
tree, runs what the runner does before inspect starts (the selection with the image gate's cheap checks,
the conversion to inspect samples, the file-marker copies, the full decode with every verdict awaited)
under tracemalloc and reports the Python heap each step adds, per sample, after a ``gc.collect()``
(deterministic: no timing, no server). Prints both trees side by side and the ratio. inspect's own
per-sample costs (the sample tasks its scheduler starts, the summaries it keeps) come later and are not in
it; `eval_scale.py` measures the whole run's RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _scale_data import image_store, make_set

HERE = Path(__file__).resolve().parent
STEPS = ("samples", "markers", "deep_checks")

#: Runs in the measured tree's own process (``PYTHONPATH`` selects the tree); prints one JSON line.
PROBE = r'''
import asyncio, gc, json, sys, tracemalloc
from mis.eval import runner
from mis.eval._samples import ImagePolicy, convert, select_deferred
from mis.eval.benchmarks import get
from mis.eval.benchmarks.mis import MISOptions

data, n = sys.argv[1], int(sys.argv[2])
spec, options = get("mis"), MISOptions(split="hard")
tracemalloc.start()

def heap():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]

m0 = heap()
picked, _, _, deep = select_deferred(spec, data, options, policy=ImagePolicy())
samples = convert(spec, picked, options, None)
del picked
m1 = heap()
todo = list(samples)
if hasattr(runner, "_adopt_markers"):  # the copies replace the samples in the run's lists
    class Held:
        pass
    held = Held()
    held.todo, held.samples = todo, samples
    runner._adopt_markers(held)
    samples, todo = held.samples, held.todo
else:  # older trees: the task's dataset held copies beside the run's lists
    dataset = [runner._with_markers(s) for s in todo]
m2 = heap()
deep.start([str(s.id) for s in todo])

async def verdicts():  # every sample's full check, awaited as the solvers do
    return await asyncio.gather(*(deep.wait(str(s.id)) for s in todo))

asyncio.run(verdicts())
m3 = heap()
deep.close()
print(json.dumps({"samples": (m1 - m0) / n, "markers": (m2 - m1) / n, "deep_checks": (m3 - m2) / n}))
'''


def measure(src: Path, data: Path, n: int, cache: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "MIS_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(data), str(n)], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"the probe failed on {src}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mis" / "perf-eval-scale")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    trees = {"this checkout": HERE.parent / "src"}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    with tempfile.TemporaryDirectory(prefix="mis-sample-memory-") as work:
        root = Path(work)
        store = image_store(root / "store", args.cache, 64, args.n)
        data = make_set(root / f"set-{args.n}", store, args.n)
        got = {name: measure(src, data, args.n, root / f"gate-cache-{k}")  # a cold gate each
               for k, (name, src) in enumerate(trees.items())}
    names = list(got)
    print(f"# bytes held per sample before the first request, N = {args.n} (tracemalloc, after gc)")
    print("| step | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for step in STEPS:
        print(f"| {step} | " + " | ".join(f"{got[name][step]:,.0f} B" for name in names) + " |")
    totals = {name: sum(got[name].values()) for name in names}
    print("| **total** | " + " | ".join(f"**{totals[name]:,.0f} B**" for name in names) + " |")
    if "baseline" in totals:
        print(f"- baseline / this checkout: {totals['baseline'] / totals['this checkout']:.2f}x")
    if args.json is not None:
        args.json.write_text(json.dumps({"n": args.n, "bytes_per_sample": got}, indent=2))


if __name__ == "__main__":
    main()
