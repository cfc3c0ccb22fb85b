"""Suites: named lists of benchmark specs, where each one's data is, and whether that data is ready.

``paper`` is the paper's table besides MIS (MIS.md sec. 7): the safety benchmarks, the over-refusal checks
(MOSSBench, the white-image test) and the five general benchmarks. A suite runs as one list of units in one
``inspect eval`` call (:mod:`mis.eval.runner`), each benchmark into ``OUT/<name>/``.

Before anything runs, :func:`check` loads every member's samples and counts the images that are not there,
so that one benchmark whose images were never downloaded costs a line in a table, not the whole suite:
the ready benchmarks run, the others are named with the folder their README puts the images in and the
command-line option that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mis.errors import DataError, UsageError
from mis.eval.benchmarks import registered
from mis.eval.benchmarks._common import find_missing, image_release
from mis.eval.spec import Benchmark

SAFETY = ("figstep", "mm_safetybench", "jailbreakv_mini", "siuo", "mssbench_chat")
OVER_REFUSAL = ("mossbench", "white_image")
GENERAL = ("qbench", "mmstar", "mmmu", "muirbench", "mmt_mi")
#: The cross-modal and multi-image safety sets published after the paper, each with its own judge.
POST_PAPER = ("holisafe", "vlsbench", "mir_safetybench")
SUITES: dict[str, tuple[str, ...]] = {
    "paper": SAFETY + OVER_REFUSAL + GENERAL,
    "safety": (*SAFETY, "vlguard"),
    "over-refusal": OVER_REFUSAL,
    "general": GENERAL,
    "post-paper": POST_PAPER,
    "all": (*SAFETY, "vlguard", *OVER_REFUSAL, *GENERAL),
}


@dataclass(frozen=True)
class Member:
    """One benchmark of a suite run and the data it reads (None: not given)."""

    spec: Benchmark
    data: str | None
    data_option: str | None = None
    """How a user gives it data on the command line (default ``--data <key>=FOLDER``)."""

    def give_data(self) -> str:
        """The command-line form that gives this benchmark its data."""
        return self.data_option or f"--data {self.spec.key}=FOLDER"


def members(
    suite: str, only: list[str] | None, data: Mapping[str, str], *, flag: str = "--data"
) -> list[Member]:
    """The suite's benchmarks (or ``only`` those), each with its data source from ``data``.

    ``data`` is keyed by benchmark name or by a spec's data key (the white-image test reads MSSBench's), so a
    benchmark can also be given its own folder. ``flag`` is the option that gives it (`mis eval`:
    ``--bench-data``), for the hints.
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
        given = data.get(name) or data.get(spec.key) or spec.default_data
        out.append(Member(spec, given, f"{flag} {spec.key}=FOLDER"))
    return out


class SuiteIncomplete(DataError):
    """Some benchmarks of a suite were not run: their data is missing or unreadable (exit code 3).

    The ready ones ran (unless ``--strict``); the message names each one that did not, and the fix.
    """


READY = "ready"
MISSING_IMAGES = "missing images"
NOT_DOWNLOADED = "not downloaded"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Status:
    """Whether one benchmark's data is there, checked before anything runs (recorded in OUT/suite.json)."""

    benchmark: str
    state: str
    """``ready``, ``missing images``, ``not downloaded`` (no data given) or ``unreadable``."""
    data: str | None = None
    """The data source as given."""
    n: int = 0
    """Samples that will run."""
    images: int = 0
    """Distinct image files referenced."""
    missing: int = 0
    """Of those, how many are not there."""
    skipped: int = 0
    """Samples left out with ``missing=skip``."""
    folder: str | None = None
    """Where the missing images belong (absolute: where mis looked)."""
    readme: str | None = None
    """What the benchmark's README says about that folder."""
    hint: str | None = None
    """The command-line form of the fix."""
    error: str | None = None
    """Why the data could not be read (the loader's message)."""

    @property
    def ready(self) -> bool:
        """Whether the benchmark can run."""
        return self.state == READY

    def detail(self) -> str:
        """What the table shows beside the state: the size, or where the images belong and the fix."""
        if self.state == READY:
            skipped = f", {self.skipped} skipped (missing images)" if self.skipped else ""
            return f"{self.n} samples{skipped}"
        if self.state == NOT_DOWNLOADED:
            return f"pass {self.hint}"
        if self.state == MISSING_IMAGES:
            readme = f" ({self.readme})" if self.readme else ""
            fix = f"; or run without those samples: {self.hint}" if self.hint else ""
            return f"{self.missing} of {self.images} missing: put them in {self.folder}{readme}{fix}"
        first = self.error.splitlines()[0] if self.error else ""
        return f"{first}; pass {self.hint} (the folder holding the release)"

    def summary(self) -> str:
        """One line: the state, then :meth:`detail`."""
        if self.state == NOT_DOWNLOADED:
            return f"no data given: {self.detail()}"
        return f"{self.state}: {self.detail()}"

    def to_json(self) -> dict[str, Any]:
        """The status as recorded in OUT/suite.json."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def check(
    members: Sequence[Member], task_args: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Status]:
    """Each member's data status: its samples are loaded and its images counted; nothing is run.

    A bad option (``--task-arg``) is a :class:`UsageError` raised before any data is read; data that cannot be
    read is a status (``unreadable``), so that the other benchmarks can still run.
    """
    from mis.eval._samples import split_common

    task_args = task_args or {}
    prepared = []
    for m in members:
        common, own = split_common(dict(task_args.get(m.spec.name, {})))
        prepared.append((m, common, m.spec.make_options(own)))
    return [_status(m, common, options) for m, common, options in prepared]


def _status(member: Member, common: Mapping[str, Any], options: Any) -> Status:
    spec, name = member.spec, member.spec.name
    if member.data is None:
        return Status(name, NOT_DOWNLOADED, hint=member.give_data())
    try:
        samples = spec.load(member.data, options)
    except DataError as exc:
        return Status(name, UNREADABLE, member.data, error=str(exc), hint=member.give_data())
    except UsageError:
        raise
    except ValueError as exc:  # a loader refusing an option value (subset=..., image_type=...)
        raise UsageError(f"--task-arg {name}: {exc}") from None
    if not samples:
        return Status(name, UNREADABLE, member.data, error="no samples found", hint=member.give_data())
    if not spec.image_check or common.get("image_mode", "original") != "original":
        return Status(name, READY, member.data, n=len(samples))
    report = find_missing(samples)
    images, missing = report.total, len(report.files)
    if not report.files:
        return Status(name, READY, member.data, n=len(samples), images=images)
    left = len(samples) - len(report.uids)
    if common.get("missing") == "skip" and left:
        return Status(name, READY, member.data, n=left, images=images, missing=missing,
                      skipped=len(report.uids))
    release = image_release(name, options)
    skip = None if common.get("missing") == "skip" else f"--task-arg {name}.missing=skip"
    return Status(name, MISSING_IMAGES, member.data, images=images, missing=missing,
                  folder=str(report.folder), readme=release.describe() if release else None, hint=skip)
