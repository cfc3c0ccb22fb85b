"""Suites: named lists of benchmark specs, and where each one's data is.

``paper`` is the paper's table besides MIS (MIS.md sec. 7): the safety benchmarks, the over-refusal checks
(MOSSBench, the white-image test) and the five general benchmarks. A suite runs as one list of units in one
``inspect eval`` call (:mod:`mis.eval.runner`), each benchmark into ``OUT/<name>/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mis.errors import UsageError
from mis.eval.benchmarks import registered
from mis.eval.spec import Benchmark

SAFETY = ("figstep", "mm_safetybench", "jailbreakv_mini", "siuo", "mssbench_chat")
OVER_REFUSAL = ("mossbench", "white_image")
GENERAL = ("qbench", "mmstar", "mmmu", "muirbench", "mmt_mi")
SUITES: dict[str, tuple[str, ...]] = {
    "paper": SAFETY + OVER_REFUSAL + GENERAL,
    "safety": (*SAFETY, "vlguard"),
    "over-refusal": OVER_REFUSAL,
    "general": GENERAL,
    "all": (*SAFETY, "vlguard", *OVER_REFUSAL, *GENERAL),
}


@dataclass(frozen=True)
class Member:
    """One benchmark of a suite run and the data it reads (None: not given)."""

    spec: Benchmark
    data: str | None


def members(suite: str, only: list[str] | None, data: Mapping[str, str]) -> list[Member]:
    """The suite's benchmarks (or ``only`` those), each with its data source from ``data``.

    ``data`` is keyed by benchmark name or by a spec's data key (the white-image test reads MSSBench's), so a
    benchmark can also be given its own folder.
    """
    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    specs = registered()
    known = set(specs) | {s.key for s in specs.values()}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(
            f"--data: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    chosen = list(SUITES[suite])
    if only:  # any registered benchmark, in or out of the suite (a benchmark of your own, say)
        bad = [b for b in only if b not in specs]
        if bad:
            raise UsageError(f"unknown benchmark(s) {', '.join(bad)}; registered: {', '.join(sorted(specs))}")
        chosen = list(dict.fromkeys(only))
    out = []
    for name in chosen:
        spec = specs[name]
        out.append(Member(spec, data.get(name) or data.get(spec.key) or spec.default_data))
    return out
