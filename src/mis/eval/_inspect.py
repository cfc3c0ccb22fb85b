"""``inspect eval mis/<name>``: one inspect ``@task`` generated per registered benchmark spec and alias.

Each task takes the spec's own options as task arguments (``-T subset=SafeBench-Tiny``) plus the options every
benchmark shares: ``data``, ``judge``/``judge_base_url``, ``guard``/``guard_base_url``/``guard_mode``,
``rubric``,
``limit``, ``max_tokens``, ``image_mode`` and ``missing``. The task scores with the spec's judges; resume and
run folders are `mis eval` / `mis bench run`'s job (the one runner), not inspect's.
"""

from __future__ import annotations

import dataclasses
import inspect as pyinspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import generate

from mis.errors import UsageError
from mis.eval._samples import ImagePolicy, convert, select
from mis.eval.benchmarks import registered
from mis.eval.runner import judged
from mis.eval.spec import Benchmark, JudgeContext
from mis.judges import JudgeSettings

#: Task arguments every generated task accepts, with their defaults and types.
COMMON: tuple[tuple[str, Any, Any], ...] = (
    ("judge", None, str | None),
    ("judge_base_url", None, str | None),
    ("guard", None, str | None),
    ("guard_base_url", None, str | None),
    ("guard_mode", None, str | None),
    ("rubric", "paper", str),
    ("judge_protocol", "mis", str),
    ("limit", None, int | None),
    ("max_tokens", None, int | None),
    ("image_mode", "original", str),
    ("missing", "error", str),
)


def build_task(spec: Benchmark, data: str | None, preset: Mapping[str, Any], **kwargs: Any) -> Task:
    """The inspect Task of ``spec`` with ``preset`` options fixed and ``kwargs`` as given by inspect."""
    if data is None:
        raise UsageError(
            f"{spec.name}: pass the data folder, e.g. `inspect eval mis/{spec.name} -T data=FOLDER`"
        )
    common = {name: kwargs.pop(name, default) for name, default, _ in COMMON}
    options = spec.make_options({**kwargs, **preset})
    samples, _, _ = select(spec, data, options, limit=common["limit"], image_mode=common["image_mode"],
                           missing=common["missing"], policy=ImagePolicy())  # the gate stops a bad image
    guard = JudgeSettings(
        model=common["guard"], base_url=common["guard_base_url"] or common["judge_base_url"]
    )
    ctx = JudgeContext(
        judge=JudgeSettings(model=common["judge"], base_url=common["judge_base_url"]),
        guard=guard if common["guard"] else None,
        guard_mode=common["guard_mode"],
        rubric=common["rubric"],
        protocol=common["judge_protocol"],
    )
    name = spec.task_for(options)
    return Task(
        dataset=MemoryDataset(convert(spec, samples, options), name=name, location=str(data)),
        solver=generate(),
        scorer=judged(spec.judges(ctx, options), spec, None, ""),
        config=GenerateConfig(temperature=0.0, max_tokens=common["max_tokens"] or spec.max_tokens),
        name=name,
        metadata={"benchmark": spec.name, "data": str(data)},
    )


def _task_function(spec: Benchmark, name: str, preset: Mapping[str, Any]) -> Callable[..., Task]:
    hints = typing.get_type_hints(spec.options)
    params = [
        pyinspect.Parameter(
            "data", pyinspect.Parameter.KEYWORD_ONLY, default=spec.default_data, annotation=str | None
        )
    ]
    params += [
        pyinspect.Parameter(n, pyinspect.Parameter.KEYWORD_ONLY, default=d, annotation=t)
        for n, d, t in COMMON
    ]
    shared = {n for n, _, _ in COMMON}
    for f in dataclasses.fields(spec.options):
        if f.name not in preset and f.name not in shared:
            params.append(
                pyinspect.Parameter(
                    f.name, pyinspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
                )
            )

    def make(**kwargs: Any) -> Task:
        data = kwargs.pop("data", spec.default_data)
        return build_task(spec, data, preset, **kwargs)

    make.__name__ = name
    make.__qualname__ = name
    make.__doc__ = spec.description
    make.__module__ = __name__
    make.__signature__ = pyinspect.Signature(params, return_annotation=Task)  # type: ignore[attr-defined]
    return make


def register_tasks() -> dict[str, Callable[..., Task]]:
    """Register one inspect task per spec and alias (``mis/figstep``, ``mis/mis_hard`` ...)."""
    made: dict[str, Callable[..., Task]] = {}
    for spec in registered().values():
        for name, preset in [(spec.name, {}), *spec.aliases.items()]:
            made[name] = task(name=name)(_task_function(spec, name, preset))
    return made
