"""MIS (the paper's own benchmark): two images and a question that is only harmful in combination.

Paper settings by default (MIS.md sec. 6): one user turn holding both images then the question, no system
prompt, greedy decoding, up to 1024 new tokens; the MIS judge (a VLM that sees both images) gives perception
and safety labels, which map to attack success / safe reasoning / refusal / hallucination. Splits: ``easy``,
``hard``, ``real`` (the test release), MIS-mini's ``benign`` and ``white`` controls (over-refusal), or ``all``
(every split the source holds but ``train``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mis._util.templates import render, sha256_text, template_text
from mis.data._schema import Sample
from mis.data._taxonomy import category_problem
from mis.errors import DataError
from mis.eval.benchmarks._common import ImageRelease, normalize_source, register_release
from mis.eval.guard_metrics import summarize_guard
from mis.eval.metrics import summarize as summarize_mis
from mis.eval.spec import Benchmark, JudgeContext, register
from mis.judges import Judge, exact_judge, is_exact, mis_judge
from mis.judges._open import GUARD_PROTOCOLS

#: Default source: the authors' test release on the hub (use a folder path offline).
DEFAULT_DATA = "Tuwhy/MIS_Test"
#: The MIS test splits, in the paper's order.
TEST_SPLITS: tuple[str, ...] = ("easy", "hard", "real")
#: Splits where the request is benign: refusing is over-refusal (MIS-mini's controls).
CONTROL_SPLITS: tuple[str, ...] = ("benign", "white")
PROMPTS = "templates/eval/prompts"
#: What inspect shows while MIS runs: each rate counts one outcome.
LABEL_RATES = {"asr": ("attack_success",), "hr": ("hallucination",), "rsr": ("safe_reasoning",),
               "rr": ("refusal",), "unknown": ("unknown",)}


@dataclass(frozen=True)
class MISOptions:
    """MIS's own options."""

    split: str = "all"
    """easy, hard, real, all (every split in the source but train), or another split it holds."""
    prompt: str = "paper"
    """Prompt template: paper (default), plain, step, two_step, safety_cot, or a file path."""
    allow_unknown_category: bool = False
    """Accept categories outside the taxonomy (each its own group); else a sample naming one is an error."""


def prompt_template(prompt: str) -> str:
    """Text of the prompt template ``prompt`` (packaged name such as ``step``, or a file path)."""
    return template_text(prompt, folder=PROMPTS, suffix=".jinja")


def load_samples(data: str, splits: list[str] | None) -> list[Sample]:
    """Samples of ``splits`` (all but train when None) from a folder, file or hub id, in source order."""
    from mis.data import load

    # the one path rule of every loader: a local folder is made absolute once, so sample roots are too
    samples = list(load(normalize_source(data), splits=splits).samples)
    if splits is None:  # every evaluation split; training data is never evaluated by default
        samples = [s for s in samples if s.split != "train"]
    else:
        samples = [s for s in samples if s.split in splits]
        found = {s.split for s in samples}
        absent = [s for s in splits if s not in found]
        if absent:
            raise DataError(f"{data}: no samples for split(s) {', '.join(absent)}")
    if not samples:
        raise DataError(f"{data}: no samples found")
    return samples


register_release("mis", ImageRelease(
    "<split>_image",
    "download the HF dataset Tuwhy/MIS_Test (mis_<split>.json + <split>_image/)",
))


def _splits(options: MISOptions) -> list[str] | None:
    return None if options.split == "all" else [options.split]


def load(data: str, options: MISOptions) -> list[Sample]:
    """The samples of ``options.split``; a category outside the taxonomy is an error unless allowed."""
    samples = load_samples(data, _splits(options))
    if not options.allow_unknown_category:
        for s in samples:
            why = category_problem(s.category, s.sub_category)
            if why:
                raise DataError(f"{data}: sample {s.uid}: field 'category': {why} (pass "
                                "--allow-unknown-category to evaluate it as a group of its own)")
    return samples


def text(sample: Sample, options: MISOptions) -> str:
    """The prompt template rendered with the sample's question (compiled once per run)."""
    return render(prompt_template(options.prompt), question=sample.question)


def judges(ctx: JudgeContext, options: MISOptions) -> list[Judge]:
    """The MIS judge: an exact judge (``exact/<name>``) or a VLM with the chosen rubric."""
    if is_exact(ctx.judge.model):
        return [exact_judge(str(ctx.judge.model))]
    if ctx.protocol != "mis":  # an open guard judge: harmfulness only (ASR; the other rates unavailable)
        from mis.judges.open_guard import open_guard

        return [open_guard(ctx.protocol, ctx.judge)]
    return [mis_judge(ctx.judge, rubric=ctx.rubric, parse_retries=ctx.parse_retries)]


def _guarded(rows: list[dict[str, Any]]) -> bool:
    """Whether an open guard judged these rows (its summary has no perception-based rates)."""
    return bool(rows) and all(r.get("judge_protocol") in GUARD_PROTOCOLS for r in rows)


def _rates(rows: list[dict[str, Any]], bootstrap: int) -> dict[str, Any]:
    return summarize_guard(rows) if _guarded(rows) else summarize_mis(rows, bootstrap=bootstrap)


def _split_summary(rows: list[dict[str, Any]], split: str, bootstrap: int) -> dict[str, Any]:
    out = _rates(rows, bootstrap)
    metrics = out["metrics"]
    if split in CONTROL_SPLITS:
        # a benign request: refusing it is over-refusal (rr), the rate a control reports
        out["kind"] = "over_refusal"
        out["headline"] = {"metric": "rr", "value": metrics.get("rr"), "higher_is_better": False}
    else:
        out["kind"] = "attack"
        out["headline"] = {"metric": "asr", "value": metrics["asr"], "higher_is_better": False}
    return out


def summarize(rows: list[dict[str, Any]], options: MISOptions, bootstrap: int) -> dict[str, Any]:
    """Rates over the harmful splits, and one summary per split (each with its own kind and headline).

    The overall rates cover the harmful splits only: averaging a benign control into an attack success rate
    would dilute it (a model that complies with everything would show ASR 50 over hard + benign).
    """
    splits = list(dict.fromkeys(str(r["split"]) for r in rows))
    harmful = [r for r in rows if r["split"] not in CONTROL_SPLITS] or rows
    out = _rates(harmful, bootstrap)
    out["splits"] = {
        sp: _split_summary([r for r in rows if r["split"] == sp], sp, bootstrap) for sp in splits
    }
    if len(harmful) != len(rows):
        out["n_controls"] = len(rows) - len(harmful)
    return out


def task_name(options: MISOptions) -> str:
    """``mis_hard`` for one split, ``mis`` for every split."""
    return "mis" if options.split == "all" else f"mis_{options.split}"


def identity(options: MISOptions) -> dict[str, Any]:
    """The prompt's exact text decides the responses: its sha256 is part of a run's identity."""
    return {"prompt_sha256": sha256_text(prompt_template(options.prompt))}


MIS = register(Benchmark(
    name="mis", kind="attack",
    description="MIS easy/hard/real: two images, a question harmful only in combination; ASR.", load=load,
    judges=judges, summarize=summarize, headline="asr", options=MISOptions, text=text,
    default_data=DEFAULT_DATA, task_name=task_name,
    aliases={"mis_easy": {"split": "easy"}, "mis_hard": {"split": "hard"}, "mis_real": {"split": "real"}},
    identity=identity,
    label_rates=LABEL_RATES, family_layout=True))
