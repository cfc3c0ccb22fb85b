"""The MIS authors' published results (packaged data, ``published.yaml``) and matching runs to them.

A published row is never mixed into a run's numbers: it is its own row, marked published everywhere,
placed beside the run of the same model (matched by the explicit alias list in the data file) or shown
on request (``--published NAME``, ``--published all``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mis.report._load import MIS_RATES, Headline, ReportOptionError, RunResult

PUBLISHED_RUN_DIR = Path("<published>")
_PROVIDER = re.compile(r"^(hfvlm|vllm|openai-api|openai|anthropic|google|together|hf|sglang)/")


@dataclass(frozen=True)
class Published:
    """One published model: its name, the source of its numbers and the per-split rates."""

    name: str
    source: str  # "paper" | "page"
    aliases: tuple[str, ...]
    splits: dict[str, dict[str, float]]
    n: dict[str, int]

    @property
    def citation(self) -> str:
        """Where the numbers come from, in a few words."""
        return {"paper": "published: paper (arXiv 2501.18533)",
                "page": "published: authors' project page (GitHub DripNowhy/MIS)"}.get(self.source,
                                                                                    "published")

    def sum_problems(self) -> dict[str, float]:
        """Splits whose four rates do not sum to 100 within rounding, with the sum as published."""
        out = {}
        for split, rates in self.splits.items():
            total = round(sum(rates[k] for k in MIS_RATES), 2)
            whole = all(float(rates[k]).is_integer() for k in MIS_RATES)
            if abs(total - 100.0) > (0.0 if whole else 0.021):
                out[split] = total
        return out

    def results(self, label: str) -> list[RunResult]:
        """The published numbers as results of a model called ``label`` (one per split)."""
        return [
            RunResult(run_dir=PUBLISHED_RUN_DIR, benchmark="mis", task=f"mis_{split}", model=label,
                      judge="GPT-4o (paper)", judge_protocol="paper", split=split, kind="attack",
                      headline=Headline("asr", rates["asr"], False), n=self.n.get(split), n_unknown=None,
                      metrics={**rates}, schema_version=2, published=self.citation)
            for split, rates in self.splits.items()
        ]


@cache
def published_models() -> tuple[Published, ...]:
    """The packaged published results, validated."""
    import yaml

    text = resources.files("mis.report").joinpath("published.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    n = {str(k): int(v) for k, v in data["n"].items()}
    out = []
    for entry in data["models"]:
        splits = {s: {k: float(entry[s][k]) for k in MIS_RATES} for s in ("easy", "hard", "real")
                  if s in entry}
        out.append(Published(name=str(entry["name"]), source=str(entry["source"]),
                             aliases=tuple(str(a) for a in entry.get("aliases", ())), splits=splits, n=n))
    return tuple(out)


def _tail(model: str) -> str:
    """The comparable part of a model string: its last path part, lower-cased, without '-hf'."""
    last = _PROVIDER.sub("", model.strip().rstrip("/")).split("/")[-1].lower()
    return last[:-3] if last.endswith("-hf") else last


def match(model: str) -> Published | None:
    """The published model whose aliases match ``model`` (see published.yaml), or None."""
    tail = _tail(model)
    for p in published_models():
        if any(_tail(a) == tail for a in p.aliases):
            return p
    return None


def by_name(name: str) -> Published:
    """A published model by its name (case-insensitive); the error lists the names."""
    for p in published_models():
        if p.name.lower() == name.strip().lower():
            return p
    names = ", ".join(p.name for p in published_models())
    raise ReportOptionError(f"--published: no published model {name!r}; published models: {names}")


Request = tuple[Published, str | None]


def parse_requests(requests: list[str] | tuple[str, ...] | str | None) -> tuple[bool, list[Request]]:
    """``--published`` values -> (match automatically?, explicit (model, run model or None) pairs).

    ``auto`` (the default) matches runs by alias; ``none`` shows nothing published; ``all`` shows every
    published model; ``NAME`` shows one; ``NAME=MODEL`` places it beside the run of model MODEL.
    """
    if requests is None:
        requests = ["auto"]
    if isinstance(requests, str):
        requests = [requests]
    auto = False
    explicit: list[Request] = []
    for req in requests:
        low = req.strip().lower()
        if low == "auto":
            auto = True
        elif low == "none":
            continue
        elif low == "all":
            explicit.extend((p, None) for p in published_models())
        elif "=" in req:
            name, run_model = req.split("=", 1)
            explicit.append((by_name(name), run_model.strip()))
        else:
            explicit.append((by_name(req), None))
    if any(r.strip().lower() == "none" for r in requests) and (auto or explicit):
        raise ReportOptionError("--published: 'none' cannot be combined with other values")
    return auto, explicit


@dataclass(frozen=True)
class BenchmarkPublished:
    """One model's published numbers on one post-paper benchmark (``published_benchmarks.yaml``)."""

    benchmark: str
    name: str
    aliases: tuple[str, ...]
    metrics: dict[str, float]
    headline: str
    higher_is_better: bool
    source: str

    def results(self, label: str) -> list[RunResult]:
        """The published numbers as one result of a model called ``label``."""
        return [RunResult(run_dir=PUBLISHED_RUN_DIR, benchmark=self.benchmark, task=self.benchmark,
                          model=label,
                          judge="published", judge_protocol=self.benchmark, split="", kind="attack",
                          headline=Headline(self.headline, self.metrics[self.headline],
                                            self.higher_is_better),
                          n=None, n_unknown=None, metrics=dict(self.metrics), schema_version=2,
                          published=f"published: {self.source}")]

    def matches(self, model: str) -> bool:
        """Whether a run's model string is one of this entry's aliases."""
        return any(_tail(a) == _tail(model) for a in self.aliases)


@cache
def published_benchmarks() -> tuple[BenchmarkPublished, ...]:
    """The packaged published numbers of the post-paper benchmarks, validated."""
    import yaml

    text = resources.files("mis.report").joinpath("published_benchmarks.yaml").read_text(encoding="utf-8")
    out = []
    for bench in yaml.safe_load(text)["benchmarks"]:
        for entry in bench["models"]:
            metrics = {str(k): float(v) for k, v in entry["metrics"].items()}
            if bench["headline"] not in metrics:
                raise ValueError(f"published_benchmarks.yaml: {entry['name']}: no {bench['headline']}")
            out.append(BenchmarkPublished(
                benchmark=str(bench["benchmark"]), name=str(entry["name"]),
                aliases=tuple(str(a) for a in entry.get("aliases", ())), metrics=metrics,
                headline=str(bench["headline"]), higher_is_better=bool(bench["higher_is_better"]),
                source=str(bench["source"])))
    return tuple(out)
