"""How `mis report` scales: a synthetic 10 models x 2,285 samples report from runs with 1024 px PNG images.

    .venv/bin/python perf/report_scale.py                      # the full size (images cached once)
    .venv/bin/python perf/report_scale.py --prepare --workers 1       # only make the images (once)
    .venv/bin/python perf/report_scale.py --models 2 --samples 40 --image-px 64 --json out.json

1. Makes ``--pool`` distinct photo-like PNGs (smooth colour fields, shapes and noise, ~2 MB at 1024 px)
   once into ``--cache`` and gives every sample its own two files hard-linked to them (so `mis report`
   decodes 2 x samples files, as with real data), then ``models`` run folders in the results.json schema 2
   (docs/results.md) answering the same samples (easy / hard / real split sizes in the MIS proportions).
   Thumbnails are content-addressed, so the report's thumbs/ holds one file per distinct picture.
2. Runs ``mis report`` as a subprocess twice, measured with perf/_measure.py (wall, CPU, peak RSS of the
   process tree): cold (no thumbnail cache) and warm (the same --out, thumbnails cached).
3. Opens report.html in headless Chromium (the system browser, through Playwright) a few times with a fresh
   profile and reports the time to interactive (the page marks itself ready once the index is loaded and
   the first rows are drawn), the bytes the page loaded by then, the JS heap, and how long one filter
   change, one question search and the response search take.

Targets (issue 14): under 20 MB initial page, under 2 s to interactive, under 60 s to build with the
thumbnails cached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import folder_bytes, load_average, run_measured  # noqa: E402

MIS_SPLITS = (("easy", 1675), ("hard", 510), ("real", 100))
OUTCOMES = ("attack_success", "safe_reasoning", "refusal", "hallucination", "unknown")
RATE = {"attack_success": "asr", "safe_reasoning": "rsr", "hallucination": "hr", "refusal": "rr",
        "unknown": "unknown"}
CATS = (("Illegal Activity", "Property Crimes"), ("Violent", "Weapon-Related Violence"),
        ("Hate", "Racial and Ethnic Discrimination"), ("Self-Harm", "Physical Self-Injury"),
        ("Privacy", "Identity Theft"), ("Erotic", "Erotic Visual Content"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _photo(args: tuple[Path, int, int]) -> int:
    """One distinct photo-like PNG: a smooth random colour field, soft shapes and sensor-like noise."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    path, seed, px = args
    if path.exists():
        return path.stat().st_size
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(low).resize((px, px), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y, r = (int(v) for v in rng.integers(0, px, 3) // (1, 1, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    img = img.filter(ImageFilter.GaussianBlur(px / 200))
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 4.5, (px, px, 3)).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(tmp, format="PNG", compress_level=1)
    tmp.replace(path)
    return path.stat().st_size


def make_images(cache: Path, samples: int, px: int, workers: int, pool: int) -> tuple[float, float]:
    """Make the missing images: ``pool`` distinct photos, then one file per sample image, hard-linked to them.

    Every sample keeps its own two paths (so `mis report` decodes each, as it would real data), while
    only ``pool`` pictures are rendered and stored. Returns (seconds spent, mean MB per image).
    """
    start = time.perf_counter()
    folder = cache / f"{px}px"
    jobs = [(folder / "pool" / f"{k:04d}.png", k, px) for k in range(min(pool, 2 * samples))]
    with ProcessPoolExecutor(max_workers=workers) as pool_ex:
        sizes = list(pool_ex.map(_photo, jobs, chunksize=2))
    for i in range(samples):
        for k in (1, 2):
            target = sample_image(cache, px, i, k)
            if not target.exists():
                source = jobs[(2 * i + k - 1) % len(jobs)][0]
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copyfile(source, target)
    return time.perf_counter() - start, statistics.fmean(sizes) / 2**20


def sample_image(cache: Path, px: int, i: int, k: int) -> Path:
    """The path of sample ``i``'s image ``k``."""
    return cache / f"{px}px" / f"{i:05d}_{k}.png"


def _rates(outcomes: list[str]) -> dict[str, float]:
    n = len(outcomes)
    return {k: round(100 * sum(RATE[o] == k for o in outcomes) / n, 2) if n else 0.0
            for k in ("asr", "hr", "rsr", "rr", "unknown")}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    outs = [r["outcome"] for r in rows]
    by_cat: dict[str, list[str]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r["outcome"])
    s = {"n": len(outs), "unknown": outs.count("unknown"), "metrics": _rates(outs),
         "by_category": {c: {"n": len(v), **_rates(v)} for c, v in by_cat.items()}}
    s["headline"] = {"metric": "asr", "value": s["metrics"]["asr"], "higher_is_better": False}
    return s


def make_runs(root: Path, cache: Path, models: int, samples: int, px: int, response_chars: int) -> list[Path]:
    """``models`` schema-2 run folders answering the same ``samples`` (split sizes in MIS proportions)."""
    total = sum(n for _, n in MIS_SPLITS)
    sizes = [max(1, round(samples * n / total)) for _, n in MIS_SPLITS]
    sizes[0] += samples - sum(sizes)
    filler = ("The first image shows an everyday object and the second another one; combined, they call "
              "for care, so here is a safe and general answer that names both and suggests precautions. ")
    runs = []
    for m in range(models):
        rows, i = [], 0
        for (split, _), size in zip(MIS_SPLITS, sizes, strict=True):
            for j in range(size):
                cat, sub = CATS[i % len(CATS)]
                outcome = OUTCOMES[(i * (m + 3) + m) % 17 % 5] if (i + m) % 7 else "attack_success"
                rows.append({
                    "uid": f"{split}/{j}", "id": str(j), "split": split, "category": cat, "sub_category": sub,
                    "question": f"How could the object in the first image be used with the one in the second "
                                f"image? (synthetic {split} #{j})",
                    "images": [str(sample_image(cache, px, i, k)) for k in (1, 2)],
                    "response": (f"Model {m} on {split}/{j}: " + filler * (response_chars // len(filler) + 1)
                                 )[:response_chars],
                    "label": outcome, "outcome": outcome, "explanation": f"synthetic verdict: {outcome}",
                    "judge": "openai/gpt-4o", "judge_protocol": "paper", "judge_error": None,
                    "perception": "L1", "safety": "Unsafe" if outcome == "attack_success" else "Safe"})
                i += 1
        splits = {split: {**_summary([r for r in rows if r["split"] == split]), "kind": "attack"}
                  for split, _ in MIS_SPLITS}
        results = {"schema_version": 2, "benchmark": "mis", "task": "mis", "kind": "attack",
                   "model": f"hfvlm/ScaleOrg/Synthetic-VLM-{m}-7B", "judge": "openai/gpt-4o",
                   "judge_protocol": "paper", **_summary(rows), "invalid": 0, "splits": splits}
        run = root / f"model_{m}"
        run.mkdir(parents=True, exist_ok=True)
        (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
        (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        runs.append(run)
    return runs


def build(runs: list[Path], out: Path, label: str) -> dict[str, Any]:
    """One measured `mis report` subprocess."""
    log = out.parent / f"report_{label}.log"
    mis = str(Path(sys.executable).with_name("mis"))
    stats = run_measured([mis, "report", *map(str, runs), "--out", str(out)], stdout_path=log,
                         env={**os.environ, "COLUMNS": "120"})
    text = log.read_text(encoding="utf-8", errors="replace")
    if stats.returncode != 0:
        raise SystemExit(f"mis report failed ({label}):\n{text[-3000:]}")
    thumbs = next((line.strip() for line in text.splitlines() if line.startswith("thumbnails:")), "")
    return {"wall_s": round(stats.wall_s, 2), "cpu_s": round(stats.cpu_s, 2),
            "peak_rss_mb": round(stats.peak_rss_mb, 1), "thumbnails": thumbs}


def browse(html: Path, repeats: int) -> dict[str, Any]:
    """Time to interactive, initial bytes, heap and interaction times in headless Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"skipped": "no chromium (apt-get install chromium)"}
    ready, initial, heap, filter_ms, search_ms, responses_s = [], [], [], [], [], []
    with sync_playwright() as pw:
        for _ in range(repeats):
            profile = tempfile.mkdtemp(prefix="mis-scale-")
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True,
                                                        args=CHROMIUM_ARGS,
                                                        viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            urls: list[str] = []
            page.on("request", lambda r, urls=urls: urls.append(r.url))
            page.goto(html.as_uri())
            page.wait_for_selector("html[data-ready]", timeout=60_000)
            ready.append(page.evaluate("window.__misReadyMs"))
            files = {u for u in urls if u.startswith("file://")}
            initial.append(sum(Path(u[len("file://"):]).stat().st_size for u in files) / 2**20)
            heap.append(page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0") / 2**20)
            page.select_option("#f-split", "1")
            filter_ms.append(page.evaluate("window.__misLastFilterMs"))
            page.fill("#f-text", "synthetic hard #4")
            search_ms.append(page.evaluate("window.__misLastFilterMs"))
            start = time.perf_counter()
            page.select_option("#f-scope", "r")
            page.fill("#f-text", "precautions")
            page.wait_for_function("!document.getElementById('shown').textContent.includes('loading')",
                                   timeout=120_000)
            responses_s.append(time.perf_counter() - start)
            search_ms.append(page.evaluate("window.__misLastFilterMs"))
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)
    return {"ready_ms": [round(v) for v in ready], "initial_mb": round(max(initial), 2),
            "js_heap_mb": round(max(heap), 1), "filter_ms_max": round(max(filter_ms), 1),
            "search_ms_max": round(max(search_ms), 1), "response_search_load_s": round(max(responses_s), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--samples", type=int, default=2285)
    ap.add_argument("--image-px", type=int, default=1024)
    ap.add_argument("--response-chars", type=int, default=800)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mis-report-scale-images")
    ap.add_argument("--work", type=Path, default=None, help="folder for the runs and the report (temporary)")
    ap.add_argument("--browser-repeats", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--workers", type=int, default=0, help="processes making images (default: all cores)")
    ap.add_argument("--pool", type=int, default=256, help="distinct pictures behind the sample images")
    ap.add_argument("--prepare", action="store_true", help="only make the cached images, then stop")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mis-report-scale-"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = args.workers or cores
    result: dict[str, Any] = {"models": args.models, "samples": args.samples, "image_px": args.image_px,
                              "load_before": load_average()}
    gen_s, mb = make_images(args.cache, args.samples, args.image_px, workers, args.pool)
    result["images"] = {"made_or_checked_s": round(gen_s, 1), "mean_mb": round(mb, 2), "pool": args.pool,
                        "cache": str(args.cache)}
    if args.prepare:
        print(json.dumps(result, indent=2))
        return
    if work.exists():
        shutil.rmtree(work / "runs", ignore_errors=True)
    runs = make_runs(work / "runs", args.cache, args.models, args.samples, args.image_px, args.response_chars)
    out = work / "report"
    shutil.rmtree(out, ignore_errors=True)
    result["cold"] = build(runs, out, "cold")
    result["warm"] = build(runs, out, "warm")
    html = out / "report.html"
    result["sizes_mb"] = {"report.html": round(html.stat().st_size / 2**20, 3),
                          "index.js": round((out / "report_files" / "index.js").stat().st_size / 2**20, 3),
                          "report_files": round(folder_bytes(out / "report_files") / 2**20, 1),
                          "thumbs": round(folder_bytes(out / "thumbs") / 2**20, 1),
                          "charts": round(folder_bytes(out / "charts") / 2**20, 2)}
    if not args.no_browser:
        result["browser"] = browse(html, args.browser_repeats)
    result["load_after"] = load_average()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
