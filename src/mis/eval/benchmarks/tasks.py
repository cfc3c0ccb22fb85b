"""The benchmarks as registered inspect tasks (``inspect eval mis/figstep -T data=PATH ...``).

Task names are stable: they key results folders (``OUT/<name>/``) and the report's columns.
``judge`` is the VLM/LLM judge of SIUO/MSSBench/MOSSBench and of the white-image refusal check;
``guard`` is the Llama Guard model of FigStep/MM-SafetyBench/JailBreakV (None -> the ``grader`` role).
``image_mode`` (original | white | none) applies the white-image transform to any task.
"""

from __future__ import annotations

from inspect_ai import Task, task

from mis.eval.benchmarks import figstep as _figstep
from mis.eval.benchmarks import general as _general
from mis.eval.benchmarks import jailbreakv as _jailbreakv
from mis.eval.benchmarks import mmsafety as _mmsafety
from mis.eval.benchmarks import mossbench as _mossbench
from mis.eval.benchmarks import mssbench as _mssbench
from mis.eval.benchmarks import siuo as _siuo
from mis.eval.benchmarks import vlguard as _vlguard
from mis.eval.benchmarks._tasks import benchmark_task


@task
def figstep(
    data: str,
    guard: str | None = None,
    guard_base_url: str | None = None,
    guard_mode: str = "chat",
    subset: str = "SafeBench",
    regenerate: str = "missing",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """FigStep / SafeBench (500): typographic image + benign prompt; Llama Guard 3 ASR."""
    return _figstep.figstep_task(
        data,
        subset=subset,
        judge=guard,
        judge_base_url=guard_base_url,
        judge_mode=guard_mode,
        regenerate=regenerate,
        image_mode=image_mode,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def mm_safetybench(
    data: str,
    guard: str | None = None,
    guard_base_url: str | None = None,
    guard_mode: str = "chat",
    image_type: str = "SD_TYPO",
    tiny: bool = False,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """MM-SafetyBench SD+TYPO (1,680); Llama Guard 3 ASR."""
    return _mmsafety.mmsafety_task(
        data,
        image_type=image_type,
        tiny=tiny,
        judge=guard,
        judge_base_url=guard_base_url,
        judge_mode=guard_mode,
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def jailbreakv_mini(
    data: str,
    guard: str | None = None,
    guard_base_url: str | None = None,
    guard_mode: str = "chat",
    policy: str = "llama-guard-3",
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """JailBreakV-28K mini (280); Llama Guard ASR."""
    return _jailbreakv.jailbreakv_task(
        data,
        judge=guard,
        judge_base_url=guard_base_url,
        judge_mode=guard_mode,
        policy=policy,
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def siuo(
    data: str,
    judge: str | None = None,
    judge_base_url: str | None = None,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """SIUO (167); safe rate by SIUO's judge protocol."""
    return _siuo.siuo_task(
        data,
        judge=judge,
        judge_base_url=judge_base_url,
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def mssbench_chat(
    data: str,
    judge: str | None = None,
    judge_base_url: str | None = None,
    situations: str = "safe,unsafe",
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """MSSBench chat; safe- and unsafe-situation accuracy by the MSSBench rubric."""
    return _mssbench.mssbench_task(
        data,
        situations=situations,
        judge=judge,
        judge_base_url=judge_base_url,
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def mossbench(
    data: str,
    judge: str | None = None,
    judge_base_url: str | None = None,
    contrast: bool = False,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """MOSSBench (300 benign queries); refusal rate by the MOSSBench judge (lower is better)."""
    return _mossbench.mossbench_task(
        data,
        contrast=contrast,
        judge=judge,
        judge_base_url=judge_base_url,
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )


@task
def vlguard(
    data: str,
    subsets: str = "unsafes,safe_unsafes",
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 256,
) -> Task:
    """VLGuard test; ASR by the authors' refusal string match."""
    return _vlguard.vlguard_task(
        data, subsets=subsets, image_mode=image_mode, missing=missing, limit=limit, max_tokens=max_tokens
    )


@task
def white_image(
    data: str,
    source: str = "mssbench",
    image_mode: str = "white",
    judge: str | None = None,
    judge_base_url: str | None = None,
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Task:
    """White-image test: safe instructions with their image / a white image / no image; refusal rate.

    ``source``: ``mssbench`` (safe situations, the paper's setting), ``vlguard`` (safe_safes) or
    ``mossbench``. Refusals are judged with the MOSSBench refusal protocol, cross-checked by string match.
    """
    from mis.eval.benchmarks.scorers import mossbench_judge, refusal_match

    if source == "mssbench":
        samples = _mssbench.load_mssbench(data, situations=("safe",))
        text_of = lambda s: _mssbench.chat_prompt(s.question)  # noqa: E731
    elif source == "vlguard":
        samples, text_of = _vlguard.load_vlguard(data, subsets=("safe_safes",)), None
    elif source == "mossbench":
        samples, text_of = _mossbench.load_mossbench(data), None
    else:
        raise ValueError(f"source={source!r}: expected mssbench, vlguard or mossbench")
    return benchmark_task(
        "white_image",
        samples,
        [mossbench_judge(judge, judge_base_url), refusal_match()],
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
        text_of=text_of,
        metadata={"source": source},
    )


def _general_task(
    name: str, data: str, split: str | None, image_mode: str, limit: int | None, max_tokens: int
) -> Task:
    return _general.general_task(
        name, data, split=split, image_mode=image_mode, limit=limit, max_tokens=max_tokens
    )


@task
def qbench(
    data: str,
    split: str = "test",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 64,
) -> Task:
    """Q-Bench LLVisionQA (multiple choice, 1 image); accuracy."""
    return _general_task("qbench", data, split, image_mode, limit, max_tokens)


@task
def mmstar(
    data: str,
    split: str = "val",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 64,
) -> Task:
    """MMStar (1,500, multiple choice, 1 image); accuracy."""
    return _general_task("mmstar", data, split, image_mode, limit, max_tokens)


@task
def mmmu(
    data: str,
    split: str = "validation",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 64,
) -> Task:
    """MMMU validation (900; multiple choice + open, 1-7 images); accuracy."""
    return _general_task("mmmu", data, split, image_mode, limit, max_tokens)


@task
def muirbench(
    data: str,
    split: str = "test",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 64,
) -> Task:
    """MuirBench (2,600, multiple choice, 2+ images); accuracy."""
    return _general_task("muirbench", data, split, image_mode, limit, max_tokens)


@task
def mmt_mi(
    data: str,
    split: str = "val",
    image_mode: str = "original",
    limit: int | None = None,
    max_tokens: int = 64,
) -> Task:
    """MMT-Bench multi-image (val 3,127, multiple choice); accuracy."""
    return _general_task("mmt_mi", data, split, image_mode, limit, max_tokens)
