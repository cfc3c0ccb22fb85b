"""Evaluation at the real data's scale: the authors' sequential protocol vs `mis eval`, side by side.

    PYTHONPATH=src .venv/bin/python perf/eval_scale.py [--n 200 1000] [--latency 0 1] [--connections 64]
        [--image-px 1024] [--repeats 3] [--variants authors mis-eval] [--authors-limit 200] [--keep]
        [--json OUT.json] [--baseline-src OTHER_CHECKOUT/src]

Builds a MIS-layout set (``mis_hard.json`` + ``hard_image/<id>/object{1,2}.png``, photo-like PNGs of
1.4-2.2 MB at 1024 px; see `_scale_data.py`), starts the project's own OpenAI-compatible test server
(`mis.testing.ScriptedOpenAIServer`) in a separate process with a fixed latency per request, checks
that the server sustains ``--connections`` concurrent requests at that latency, then runs the variants
interleaved (A, B, A, B ...), each as a subprocess whose whole process tree is measured:

- ``authors``: their protocol (`_authors_protocol.py`): one model request then one judge request,
  strictly one sample at a time, both images base64-encoded into each request with the `openai` client;
- ``mis-eval``: ``mis eval --split hard --model openai-api/scale/model --judge openai-api/scale/judge``
  with ``--max-connections`` / ``--judge-max-connections`` = ``--connections``;
- ``mis-judge`` (optional): ``mis judge`` on a responses file of the same set;
- ``base-eval`` / ``base-judge``: the same two commands importing mis from ``--baseline-src`` (e.g. a git
  worktree of the previous commit), interleaved with this checkout's, with the ratios printed.

Every run is checked: exit status 0 and metrics equal to what the server's scripted verdicts imply
(a run that did less work is an error, never a number). Per variant it prints wall time, CPU ms per
sample, peak RSS of the client's process tree, bytes per sample in its output folder, bytes per
sample written to storage (rusage block output: every rewrite counts) and the server's CPU; then
the ratios: wall (mis / authors), peak RSS at each N vs the smallest N, and the marginal CPU per
sample between the smallest and largest N (start-up excluded). ``--authors-limit K``
runs the sequential baseline on the first K samples only and scales its wall and CPU by N/K (marked
"extrapolated"): its cost per sample is constant by construction.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _measure import folder_bytes, interleaved, load_average, run_measured
from _scale_data import image_store, make_set, responses_file
from _scale_server import MODEL_RESPONSE, expected_counts

HERE = Path(__file__).resolve().parent
VARIANTS = ("authors", "mis-eval", "mis-judge", "base-eval", "base-judge")
#: The baseline variants run the same command on another checkout's ``src`` (``--baseline-src``).
BASELINE_OF = {"base-eval": "mis-eval", "base-judge": "mis-judge"}
#: Runs a command on a pseudo-terminal (``--tty``), so inspect draws its live display as in a terminal.
PTY_WRAPPER = "import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))"
METRIC_OF = {"attack_success": "asr", "hallucination": "hr", "safe_reasoning": "rsr", "refusal": "rr"}


@dataclass
class Run:
    """One measured run of one variant."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    bytes_written: int
    server_cpu_s: float
    measured_n: int
    disk_write_bytes: int = 0


@dataclass
class Cell:
    """All runs of one variant at one (N, latency)."""

    variant: str
    n: int
    latency_s: float
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        values = sorted(getattr(r, name) * self.scale(name) for r in self.runs)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    def spread(self, name: str) -> tuple[float, float, float]:
        values = [getattr(r, name) * self.scale(name) for r in self.runs]
        return min(values), self.median(name), max(values)

    def scale(self, name: str) -> float:
        """Extrapolation factor N / measured N for totals that grow with the samples run."""
        measured = self.runs[0].measured_n
        return self.n / measured if name in ("wall_s", "cpu_s", "server_cpu_s", "disk_write_bytes") else 1.0

    @property
    def extrapolated(self) -> bool:
        return self.runs[0].measured_n < self.n


class Server:
    """`_scale_server.py` in its own process; ``base_url`` once it is ready."""

    def __init__(self, latency_s: float, env: dict[str, str]) -> None:
        cmd = [sys.executable, str(HERE / "_scale_server.py"), "--latency", str(latency_s)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"the scale server did not start (said {line!r})")
        self.base_url = line.split(" ", 1)[1]

    def cpu_s(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def check_server(server: Server, set_folder: Path, latency_s: float, connections: int,
                 rounds: int = 2) -> dict[str, Any]:
    """Is the server the bottleneck? Two probes, each ``connections`` clients x ``rounds`` requests at once.

    Concurrency: tiny requests must take ``rounds`` x latency (threads sleep in parallel). Capacity:
    requests the size of a judge request (two images, base64) give the server's CPU per request, so
    the request rate a run needs can be set against what one core of the server can parse.
    """
    import base64
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    record = json.loads((set_folder / "mis_hard.json").read_text())[0]
    images = [base64.b64encode((set_folder / record[f"image_path{k}"]).read_bytes()).decode() for k in (1, 2)]
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b}"}}
                                     for b in images]
    content.append({"type": "text", "text": record["question"]})
    big = json.dumps({"model": "judge", "messages": [{"role": "user", "content": content}]}).encode()
    tiny = json.dumps({"model": "model", "messages": [{"role": "user", "content": "ping"}]}).encode()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    def probe(body: bytes) -> tuple[float, float]:
        with httpx.Client(timeout=120, limits=limits) as http:
            def client(_: int) -> None:
                for _ in range(rounds):
                    http.post(f"{server.base_url}/chat/completions", content=body,
                              headers={"Content-Type": "application/json"}).raise_for_status()

            cpu0, start = server.cpu_s(), time.perf_counter()
            with ThreadPoolExecutor(connections) as pool:
                list(pool.map(client, range(connections)))
            return time.perf_counter() - start, server.cpu_s() - cpu0

    requests = connections * rounds
    tiny_wall, _ = probe(tiny)
    big_wall, big_cpu = probe(big)
    return {"latency_s": latency_s, "connections": connections, "requests": requests,
            "concurrency_wall_s": tiny_wall, "ideal_s": rounds * latency_s, "body_mb": len(big) / 2**20,
            "big_wall_s": big_wall, "server_cpu_ms_per_big_request": big_cpu * 1000 / requests}


def variant_command(variant: str, set_folder: Path, out: Path, url: str, args: argparse.Namespace,
                    limit: int | None) -> list[str]:
    mis = str(Path(sys.executable).parent / "mis")
    c = str(args.connections)
    if variant == "authors":
        cmd = [sys.executable, str(HERE / "_authors_protocol.py"), "--data", str(set_folder),
               "--split", "hard", "--model-url", url, "--judge-url", url, "--out", str(out),
               "--mode", args.authors_mode]
        return cmd + (["--limit", str(limit)] if limit else [])
    variant = BASELINE_OF.get(variant, variant)
    if variant == "mis-eval":
        return [mis, "eval", "--data", str(set_folder), "--split", "hard",
                "--model", "openai-api/scale/model", "--model-base-url", url,
                "--judge", "openai-api/scale/judge", "--judge-base-url", url,
                "--max-connections", c, "--judge-max-connections", c, "--no-judge-cache", "--out", str(out)]
    responses = out.parent / f"{out.name}-responses" / "model.jsonl"
    responses_file(responses, set_folder, MODEL_RESPONSE)
    return [mis, "judge", str(responses), "--data", str(set_folder), "--judge", "openai-api/scale/judge",
            "--judge-base-url", url, "--judge-max-connections", c, "--no-judge-cache", "--out", str(out)]


def check_run(variant: str, out: Path, ids: list[int], log: Path) -> None:
    """Fail loudly unless the run judged exactly ``ids`` with the scripted verdicts."""
    want = expected_counts(ids)
    if variant == "authors":
        rows = [json.loads(x) for x in (out / "eval_result" / "model.jsonl").read_text().splitlines()]
        got = {name: 0 for name in want}
        for r in rows:
            if r["label_str"] == "Unsafe":
                got["attack_success"] += 1
            else:
                level = r["label_perception"][-1]
                got[{"1": "safe_reasoning", "2": "refusal", "3": "hallucination"}[level]] += 1
        if got != want:
            raise SystemExit(f"{variant}: verdict counts {got} != expected {want} (log: {log})")
        return
    results = json.loads((out / "results.json").read_text())
    metrics = results["metrics"]
    wrong = {METRIC_OF[k]: (metrics[METRIC_OF[k]], round(100 * v / len(ids), 2)) for k, v in want.items()
             if abs(metrics[METRIC_OF[k]] - 100 * v / len(ids)) > 0.01}
    if results["n"] != len(ids) or wrong or metrics.get("unknown", 0) != 0:
        raise SystemExit(f"{variant}: results.json n={results['n']} (want {len(ids)}), metrics off: {wrong} "
                         f"(log: {log})")


def measure_cell(variant: str, n: int, latency: float, set_folder: Path, server: Server, work: Path,
                 args: argparse.Namespace, env: dict[str, str]) -> Callable[[], float]:
    """A callable for `interleaved`: one checked, measured run; appends to the cell and returns wall."""
    cell = Cell(variant, n, latency)
    limit = min(n, args.authors_limit) if variant == "authors" and args.authors_limit else None
    measured_n = limit or n
    counter = {"k": 0}

    def run() -> float:
        counter["k"] += 1
        tag = f"{variant}-n{n}-lat{latency:g}-r{counter['k']}"
        out, log = work / "runs" / tag, work / "logs" / f"{tag}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = variant_command(variant, set_folder, out, server.base_url, args, limit)
        if args.tty:
            cmd = [sys.executable, "-c", PTY_WRAPPER, *cmd]
        # (every mis command runs with --no-judge-cache: the scripted model answers every run alike, so a
        # judge cache shared through a warm MIS_CACHE_DIR would answer later runs without a request)
        # the image gate's verdicts live in MIS_CACHE_DIR: a fresh folder per run (cold: the first model on
        # this data), or one folder the harness filled before measuring (warm: every later model)
        cache = work / "mis-cache-warm" if args.gate == "warm" else work / "mis-cache" / tag
        cpu0, blocks0 = server.cpu_s(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
        run_env = {**env, "MIS_CACHE_DIR": str(cache)}
        if variant in BASELINE_OF:  # the same command, importing mis from the baseline checkout
            run_env["PYTHONPATH"] = str(args.baseline_src)
        stats = run_measured(cmd, env=run_env, stdout_path=log)
        server_cpu = server.cpu_s() - cpu0
        # blocks the (waited-for) variant tree wrote to storage, 512 bytes each: every rewrite counts
        disk = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - blocks0) * 512
        if stats.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{tag} exited with {stats.returncode}; last output:\n{tail}")
        check_run(BASELINE_OF.get(variant, variant), out, list(range(1, measured_n + 1)), log)
        cell.runs.append(Run(stats.wall_s, stats.cpu_s, stats.peak_rss_mb, folder_bytes(out), server_cpu,
                             measured_n, disk))
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(out.parent / f"{out.name}-responses", ignore_errors=True)
        return stats.wall_s

    run.cell = cell  # type: ignore[attr-defined]
    return run


def warm_gate(set_folder: Path, cache_dir: Path) -> float:
    """Fill the image gate's shared cache for ``set_folder`` as a first run would (not measured); seconds."""
    os.environ["MIS_CACHE_DIR"] = str(cache_dir)
    from mis.data import load
    from mis.eval._samples import ImagePolicy, gate_samples
    from mis.eval.benchmarks import get

    start = time.perf_counter()
    samples = list(load(str(set_folder), splits=["hard"]).samples)
    kept, invalid = gate_samples(get("mis"), str(set_folder), samples, ImagePolicy())
    assert len(kept) == len(samples) and not invalid
    return time.perf_counter() - start


def cell_row(cell: Cell) -> dict[str, Any]:
    n = cell.n
    return {
        "variant": cell.variant, "n": n, "latency_s": cell.latency_s, "repeats": len(cell.runs),
        "measured_n": cell.runs[0].measured_n, "extrapolated": cell.extrapolated,
        "wall_s": cell.spread("wall_s"), "cpu_ms_per_sample": cell.median("cpu_s") * 1000 / n,
        "peak_rss_mb": cell.spread("peak_rss_mb"),
        "bytes_per_sample": cell.median("bytes_written") / cell.runs[0].measured_n,
        "server_cpu_ms_per_sample": cell.median("server_cpu_s") * 1000 / n,
        "disk_write_bytes_per_sample": cell.median("disk_write_bytes") / n,
        "runs": [asdict(r) for r in cell.runs],
    }


def ratios(cells: list[Cell]) -> list[dict[str, Any]]:
    """Wall mis/authors per (N, latency); peak RSS vs the smallest N; marginal CPU ms per sample."""
    out: list[dict[str, Any]] = []
    by = {(c.variant, c.n, c.latency_s): c for c in cells}
    for c in cells:
        base = by.get(("authors", c.n, c.latency_s))
        if c.variant != "authors" and base:
            out.append({"kind": "wall_vs_authors", "variant": c.variant, "n": c.n, "latency_s": c.latency_s,
                        "authors_over_variant": base.median("wall_s") / c.median("wall_s"),
                        "extrapolated": base.extrapolated})
        if c.variant in BASELINE_OF and (BASELINE_OF[c.variant], c.n, c.latency_s) in by:
            new = by[(BASELINE_OF[c.variant], c.n, c.latency_s)]
            out.append({"kind": "vs_baseline", "variant": new.variant, "n": c.n, "latency_s": c.latency_s,
                        "wall": c.median("wall_s") / new.median("wall_s"),
                        "cpu": c.median("cpu_s") / new.median("cpu_s"),
                        "rss": c.median("peak_rss_mb") / new.median("peak_rss_mb")})
        ns = sorted(k[1] for k in by if k[0] == c.variant and k[2] == c.latency_s)
        if c.n != ns[0]:
            small = by[(c.variant, ns[0], c.latency_s)]
            rss = c.median("peak_rss_mb") / small.median("peak_rss_mb")
            out.append({"kind": "rss_vs_smallest_n", "variant": c.variant, "n": c.n, "base_n": ns[0],
                        "latency_s": c.latency_s, "ratio": rss})
            if not (c.extrapolated or small.extrapolated):
                out.append({"kind": "marginal_cpu_ms_per_sample", "variant": c.variant,
                            "latency_s": c.latency_s, "from_n": ns[0], "to_n": c.n,
                            "value": (c.median("cpu_s") - small.median("cpu_s")) * 1000 / (c.n - ns[0])})
    return out


def markdown(rows: list[dict[str, Any]], found: list[dict[str, Any]]) -> str:
    lines = ["| variant | N | latency | wall min / median / max (s) | CPU ms/sample "
             "| peak RSS median (max) MB | run folder/sample | disk writes/sample | server CPU ms/sample |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, mid, hi = r["wall_s"]
        mark = f" (first {r['measured_n']}, x{r['n'] / r['measured_n']:g})" if r["extrapolated"] else ""
        rss = r["peak_rss_mb"]
        lines.append(f"| {r['variant']}{mark} | {r['n']} | {r['latency_s']:g} s "
                     f"| {lo:.1f} / {mid:.1f} / {hi:.1f} | {r['cpu_ms_per_sample']:.1f} "
                     f"| {rss[1]:.0f} ({rss[2]:.0f}) | {r['bytes_per_sample'] / 1024:.1f} KB "
                     f"| {r['disk_write_bytes_per_sample'] / 2**20:.2f} MB "
                     f"| {r['server_cpu_ms_per_sample']:.1f} |")
    for f in found:
        if f["kind"] == "wall_vs_authors":
            note = " (authors extrapolated)" if f["extrapolated"] else ""
            lines.append(f"- {f['variant']} N={f['n']} latency {f['latency_s']:g} s: "
                         f"{f['authors_over_variant']:.2f}x faster than the authors' protocol{note}")
        elif f["kind"] == "vs_baseline":
            lines.append(f"- {f['variant']} N={f['n']} latency {f['latency_s']:g} s, baseline / this "
                         f"checkout: wall {f['wall']:.2f}x, CPU {f['cpu']:.2f}x, peak RSS {f['rss']:.2f}x")
        elif f["kind"] == "rss_vs_smallest_n":
            lines.append(f"- {f['variant']} latency {f['latency_s']:g} s: peak RSS at N={f['n']} / at "
                         f"N={f['base_n']}: {f['ratio']:.2f}")
        else:
            lines.append(f"- {f['variant']} latency {f['latency_s']:g} s: marginal CPU "
                         f"{f['value']:.1f} ms/sample (N={f['from_n']} -> {f['to_n']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200], help="samples (one cell per value)")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0], help="seconds per request")
    parser.add_argument("--connections", type=int, default=64, help="mis's model and judge connections")
    parser.add_argument("--image-px", type=int, default=1024, help="image side (64 for the CPU figure)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats per cell")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["authors", "mis-eval"])
    parser.add_argument("--authors-limit", type=int, default=None,
                        help="run the authors' protocol on the first K samples and scale by N/K")
    parser.add_argument("--authors-mode", choices=("sample", "phases"), default="sample")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("MIS_CACHE", "~/.cache/mis"))
                        .expanduser() / "perf-eval-scale", help="where the image pool is kept")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new temp folder)")
    parser.add_argument("--tty", action="store_true",
                        help="run each variant on a pseudo-terminal (inspect draws its live display)")
    parser.add_argument("--gate", choices=("cold", "warm"), default="cold",
                        help="image-gate cache: cold (each mis run checks every image: the first model on "
                        "a dataset) or warm (checked once before measuring: every later model)")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="another checkout's src/ for the base-eval / base-judge variants (e.g. a git "
                             "worktree of the previous commit)")
    parser.add_argument("--keep", action="store_true", help="keep the sets, run folders and logs")
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement here")
    args = parser.parse_args(argv)
    if set(args.variants) & set(BASELINE_OF) and args.baseline_src is None:
        parser.error("base-eval / base-judge need --baseline-src")

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    work = args.work or Path(tempfile.mkdtemp(prefix="mis-eval-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# eval_scale: {work} | {load_average()} | python {sys.version.split()[0]}", flush=True)
    start = time.perf_counter()
    store = image_store(work / "store", args.cache, args.image_px, max(args.n))
    sets = {n: make_set(work / f"set-{n}", store, n) for n in args.n}
    image_mb = folder_bytes(store / "hard_image") / 2**20 / (2 * max(args.n))
    print(f"# set: {max(args.n)} samples x 2 images of {args.image_px} px, mean {image_mb:.2f} MB each, "
          f"built in {time.perf_counter() - start:.0f} s", flush=True)

    if args.gate == "warm" and set(args.variants) - {"authors"}:
        took = sum(warm_gate(folder, work / "mis-cache-warm") for folder in sets.values())
        print(f"# image gate warmed in {took:.0f} s (not measured)", flush=True)
    print(f"# image gate: {args.gate}", flush=True)
    cells: list[Cell] = []
    checks = []
    try:
        for latency in args.latency:
            server = Server(latency, env)
            try:
                check = check_server(server, sets[min(args.n)], latency, args.connections)
                checks.append(check)
                print(f"# server check, latency {latency:g} s, {check['connections']} clients x "
                      f"{check['requests'] // check['connections']}: tiny requests "
                      f"{check['concurrency_wall_s']:.2f} s (ideal {check['ideal_s']:.2f} s); "
                      f"{check['body_mb']:.1f} MB requests {check['big_wall_s']:.2f} s, server CPU "
                      f"{check['server_cpu_ms_per_big_request']:.1f} ms per request", flush=True)
                for n in args.n:
                    runners = {v: measure_cell(v, n, latency, sets[n], server, work, args, env)
                               for v in args.variants}
                    interleaved(runners, args.repeats)
                    cells += [r.cell for r in runners.values()]  # type: ignore[attr-defined]
                    print(f"# done N={n} latency {latency:g} s | {load_average()}", flush=True)
            finally:
                server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = [cell_row(c) for c in cells]
    found = ratios(cells)
    print(markdown(rows, found))
    print(f"# {load_average()} | total {time.perf_counter() - start:.0f} s")
    report = {"image_px": args.image_px, "connections": args.connections, "image_mb": image_mb,
              "gate": args.gate, "load_after": load_average(), "server_checks": checks, "cells": rows,
              "ratios": found}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
