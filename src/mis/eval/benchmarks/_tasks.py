"""Build an inspect Task from benchmark samples: images as content blocks, then the text.

Shared by every benchmark module so that all tasks have the same shape: greedy decoding, stable
sample ids (``split/id``), the source fields in the sample metadata (what the judges read), the
missing-image policy applied up front, and the white-image transform available everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mis.data._schema import Sample
from mis.eval.benchmarks._common import check_images
from mis.eval.benchmarks.transforms import apply_image_mode

#: Safety benchmarks: long answers, as for MIS (greedy, up to 1024 new tokens).
SAFETY_MAX_TOKENS = 1024
#: Interleaving placeholder in benchmark text (MuirBench questions and options).
IMAGE_PLACEHOLDER = "<image>"
#: Multiple choice: the prompt asks for the letter only.
MCQ_MAX_TOKENS = 64


def sample_metadata(s: Sample, text: str) -> dict[str, Any]:
    """JSON-safe metadata every scorer and the results writer reads (source fields first, core fields win)."""
    return {
        **s.metadata,
        "uid": s.uid,
        "id": s.id,
        "split": s.split,
        "category": s.category,
        "sub_category": s.sub_category,
        "question": s.question,
        "prompt_text": text,
        "images": [str(p.resolve()) for p in s.image_paths()],
    }


def to_inspect_sample(s: Sample, text: str | None = None, target: str = "") -> Any:
    """One benchmark sample as an inspect sample: images first (in order), then ``text``.

    When ``text`` holds exactly one ``<image>`` placeholder per image, the images are interleaved
    at the placeholders instead (MuirBench's convention).
    """
    from inspect_ai.dataset import Sample as InspectSample
    from inspect_ai.model import ChatMessageUser, Content, ContentImage, ContentText

    text = s.question if text is None else text
    meta = sample_metadata(s, text)
    content: list[Content] = []
    pieces = text.split(IMAGE_PLACEHOLDER)
    if len(pieces) - 1 == len(meta["images"]) and meta["images"]:
        # interleaved (MuirBench): each "<image>" placeholder is where its image goes
        for k, piece in enumerate(pieces):
            if piece.strip():
                content.append(ContentText(text=piece.strip()))
            if k < len(meta["images"]):
                content.append(ContentImage(image=meta["images"][k]))
    else:
        # images first, in order; a stray literal "<image>" would be read as an image token by
        # processors (and break a whole batch), so it becomes plain text
        content = [ContentImage(image=p) for p in meta["images"]]
        content.append(ContentText(text=text.replace(IMAGE_PLACEHOLDER, "[image]")))
    return InspectSample(input=[ChatMessageUser(content=content)], target=target, id=s.uid, metadata=meta)


def dataset_name(benchmark: str, image_mode: str) -> str:
    """The inspect dataset name of a benchmark run: how a log is mapped back to its benchmark."""
    return benchmark if image_mode == "original" else f"{benchmark}@{image_mode}"


def benchmark_task(
    name: str,
    samples: Sequence[Sample],
    scorers: Any,
    *,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = SAFETY_MAX_TOKENS,
    text_of: Callable[[Sample], str] | None = None,
    target_of: Callable[[Sample], str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """The inspect Task for ``samples`` (after ``limit``, the missing-image policy and ``image_mode``)."""
    from inspect_ai import Task
    from inspect_ai.dataset import MemoryDataset
    from inspect_ai.model import GenerateConfig
    from inspect_ai.solver import generate

    chosen = list(samples)[:limit] if limit is not None else list(samples)
    if image_mode == "original":
        chosen = check_images(chosen, missing=missing, benchmark=name)
    chosen = apply_image_mode(chosen, image_mode)
    if not chosen:
        raise ValueError(f"{name}: no samples to evaluate")
    seen: set[str] = set()
    for s in chosen:
        if s.uid in seen:
            raise ValueError(f"{name}: duplicate sample id {s.uid!r}")
        seen.add(s.uid)
    dataset = MemoryDataset(
        [
            to_inspect_sample(s, text_of(s) if text_of else None, target_of(s) if target_of else "")
            for s in chosen
        ],
        name=dataset_name(name, image_mode),
    )
    return Task(
        dataset=dataset,
        solver=generate(),
        scorer=scorers,
        config=GenerateConfig(temperature=0.0, max_tokens=max_tokens),
        metadata={"benchmark": name, "image_mode": image_mode, **(metadata or {})},
    )
