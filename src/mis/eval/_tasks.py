"""MIS as inspect tasks: `mis_easy`, `mis_hard`, `mis_real` and `mis` (every split in the source).

Paper settings by default (MIS.md sec. 6): one user turn holding both images then the question, no
system prompt, greedy decoding, up to 1024 new tokens. Images are structured content blocks in their
original order, so no provider can move them around the text (STYLE habit 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ChatMessageUser, Content, ContentImage, ContentText, GenerateConfig
from inspect_ai.solver import generate

from mis.eval._templates import PROMPTS_DIR, render, template_text

if TYPE_CHECKING:
    from mis.data import Sample

#: Default source: the authors' test release on the hub (use a folder path offline).
DEFAULT_DATA = "Tuwhy/MIS_Test"
#: The MIS test splits, in the paper's order.
TEST_SPLITS: tuple[str, ...] = ("easy", "hard", "real")
#: Paper decoding: greedy, up to 1024 new tokens.
PAPER_MAX_TOKENS = 1024


def prompt_template(prompt: str) -> str:
    """Text of the prompt template ``prompt`` (packaged name such as ``step``, or a file path)."""
    return template_text(prompt, folder=PROMPTS_DIR, suffix=".jinja")


def sample_metadata(sample: Sample) -> dict[str, Any]:
    """What every scorer and results writer needs to know about a sample, JSON-serialisable."""
    return {
        "uid": sample.uid,
        "id": sample.id,
        "split": sample.split,
        "category": sample.category,
        "sub_category": sample.sub_category,
        "question": sample.question,
        "images": [str(p.resolve()) for p in sample.image_paths()],
        "source": dict(sample.metadata),
    }


def to_inspect_sample(sample: Sample, template: str) -> InspectSample:
    """One MIS sample as an inspect sample: images first (in order), then the rendered question."""
    meta = sample_metadata(sample)
    missing = [p for p in meta["images"] if not _exists(p)]
    if missing:
        raise ValueError(f"sample {sample.uid}: field images: file not found: {missing[0]}")
    content: list[Content] = [ContentImage(image=p) for p in meta["images"]]
    content.append(ContentText(text=render(template, question=sample.question)))
    return InspectSample(input=[ChatMessageUser(content=content)], target="", id=sample.uid, metadata=meta)


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def load_samples(data: str, splits: Sequence[str] | None) -> list[Sample]:
    """Samples of ``splits`` (all but train when None) from a folder, file or hub id, in source order."""
    from mis.data import load  # the data helper's loader (folder, MIS train file or hub id)

    dataset = load(data, splits=list(splits) if splits is not None else None)
    samples = list(dataset.samples)
    if splits is None:  # every evaluation split; training data is never evaluated by default
        samples = [s for s in samples if s.split != "train"]
    else:
        samples = [s for s in samples if s.split in splits]
        found = {s.split for s in samples}
        absent = [s for s in splits if s not in found]
        if absent:
            raise ValueError(f"{data}: no samples for split(s) {', '.join(absent)}")
    if not samples:
        raise ValueError(f"{data}: no samples found")
    return samples


def build_dataset(
    data: str, splits: Sequence[str] | None, prompt: str = "paper", limit: int | None = None
) -> MemoryDataset:
    """An inspect dataset of MIS samples with stable ids ``split/id``."""
    template = prompt_template(prompt)
    samples = load_samples(data, splits)
    if limit is not None:
        samples = samples[:limit]
    name = "mis_" + ("_".join(splits) if splits else "all")
    return MemoryDataset([to_inspect_sample(s, template) for s in samples], name=name, location=str(data))


def mis_task(
    data: str,
    splits: Sequence[str] | None,
    *,
    prompt: str = "paper",
    judge: str | None = None,
    judge_base_url: str | None = None,
    limit: int | None = None,
    max_tokens: int = PAPER_MAX_TOKENS,
    temperature: float = 0.0,
) -> Task:
    """The MIS task over ``splits`` of ``data``, scored by the MIS judge."""
    from mis.eval._judge import mis_judge

    return Task(
        dataset=build_dataset(data, splits, prompt, limit),
        solver=generate(),
        scorer=mis_judge(judge=judge, base_url=judge_base_url),
        config=GenerateConfig(temperature=temperature, max_tokens=max_tokens),
        metadata={"prompt": prompt, "data": str(data), "splits": list(splits or [])},
    )


@task
def mis_easy(
    data: str = DEFAULT_DATA,
    prompt: str = "paper",
    judge: str | None = None,
    judge_base_url: str | None = None,
    limit: int | None = None,
    max_tokens: int = PAPER_MAX_TOKENS,
) -> Task:
    """MIS easy split (1,675): neutral text, images with explicitly harmful elements."""
    return mis_task(data, ["easy"], prompt=prompt, judge=judge, judge_base_url=judge_base_url,
                    limit=limit, max_tokens=max_tokens)


@task
def mis_hard(
    data: str = DEFAULT_DATA,
    prompt: str = "paper",
    judge: str | None = None,
    judge_base_url: str | None = None,
    limit: int | None = None,
    max_tokens: int = PAPER_MAX_TOKENS,
) -> Task:
    """MIS hard split (510): neutral text, harmless images; harm only from the combination."""
    return mis_task(data, ["hard"], prompt=prompt, judge=judge, judge_base_url=judge_base_url,
                    limit=limit, max_tokens=max_tokens)


@task
def mis_real(
    data: str = DEFAULT_DATA,
    prompt: str = "paper",
    judge: str | None = None,
    judge_base_url: str | None = None,
    limit: int | None = None,
    max_tokens: int = PAPER_MAX_TOKENS,
) -> Task:
    """MIS real split (100): neutral text with real photographs."""
    return mis_task(data, ["real"], prompt=prompt, judge=judge, judge_base_url=judge_base_url,
                    limit=limit, max_tokens=max_tokens)


@task
def mis(
    data: str = DEFAULT_DATA,
    prompt: str = "paper",
    judge: str | None = None,
    judge_base_url: str | None = None,
    limit: int | None = None,
    max_tokens: int = PAPER_MAX_TOKENS,
) -> Task:
    """Every split the source holds (easy, hard and real for the test release)."""
    return mis_task(data, None, prompt=prompt, judge=judge, judge_base_url=judge_base_url,
                    limit=limit, max_tokens=max_tokens)
