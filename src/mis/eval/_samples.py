"""From a spec's samples to inspect samples: selection (limit, missing images, image mode) and conversion.

One conversion for every benchmark: images first as structured content blocks in their original order, then
the text (STYLE habit 10: no provider can move images around the text), or images interleaved at ``<image>``
placeholders when the text holds exactly one per image (MuirBench). Sample ids are ``split/id``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ChatMessageUser, Content, ContentImage, ContentText

from mis._util.io import cache_root
from mis._util.paths import RealPaths
from mis.data._gate import ImageCheck
from mis.data._gate import shared_cache_path as shared_gate_cache
from mis.data._schema import Sample
from mis.errors import DataError, UsageError
from mis.eval._deep_checks import DeepChecks, SampleImages
from mis.eval.benchmarks._common import check_images, local_path
from mis.eval.benchmarks.transforms import IMAGE_MODES, apply_image_mode
from mis.eval.spec import Benchmark
from mis.models._layout import STOCK_TURN, TURN_LAYOUT_KEY, TurnLayout

#: Interleaving placeholder in benchmark text (MuirBench questions and options).
IMAGE_PLACEHOLDER = "<image>"
#: Options every benchmark accepts besides its own (consumed by :func:`select`).
COMMON_OPTIONS = ("image_mode", "missing")


def split_common(task_args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(common, own)``: the selection options every benchmark takes, and the benchmark's own."""
    common = {k: task_args[k] for k in COMMON_OPTIONS if k in task_args}
    own = {k: v for k, v in task_args.items() if k not in COMMON_OPTIONS}
    return common, own


def select(
    spec: Benchmark,
    data: str,
    options: Any,
    *,
    limit: int | None = None,
    image_mode: str = "original",
    missing: str = "error",
    policy: ImagePolicy | None = None,
) -> tuple[list[Sample], str, list[dict[str, Any]]]:
    """The samples a run evaluates, the fingerprint of the whole (un-limited) selection, and invalid rows.

    The fingerprint covers every sample's uid, text, labels and image paths (cheap, nothing read), so a rerun
    with a larger ``limit`` on the same folder, or after an image was repaired, resumes instead of being
    refused. Every image passed the whole gate, decode included, when this returns (:func:`select_deferred`
    leaves the decode to the run).
    """
    chosen, fingerprint, invalid, _ = _select(spec, data, options, limit, image_mode, missing, policy, False)
    return chosen, fingerprint, invalid


def select_deferred(
    spec: Benchmark,
    data: str,
    options: Any,
    *,
    limit: int | None = None,
    image_mode: str = "original",
    missing: str = "error",
    policy: ImagePolicy | None = None,
) -> tuple[list[Sample], str, list[dict[str, Any]], DeepChecks | None]:
    """:func:`select` with the gate's cheap checks only; the returned :class:`DeepChecks` decodes the rest.

    The run starts the deep checks in its own order and each sample awaits its own before any request.
    """
    return _select(spec, data, options, limit, image_mode, missing, policy, True)


def _select(spec: Benchmark, data: str, options: Any, limit: int | None, image_mode: str, missing: str,
            policy: ImagePolicy | None,
            defer: bool) -> tuple[list[Sample], str, list[dict[str, Any]], DeepChecks | None]:
    if image_mode not in IMAGE_MODES:
        raise UsageError(f"image_mode={image_mode!r}: expected one of {', '.join(IMAGE_MODES)}")
    samples = spec.load(data, options)
    if spec.image_check and image_mode == "original":
        samples = check_images(samples, missing=missing, benchmark=spec.name)
    samples = apply_image_mode(samples, image_mode)
    if not samples:
        raise DataError(f"{spec.name}: no samples to evaluate in {data}")
    seen: set[str] = set()
    for s in samples:
        if s.uid in seen:
            raise DataError(f"{spec.name}: {data}: duplicate sample id {s.uid!r}")
        seen.add(s.uid)
    fingerprint = fingerprint_of(samples)
    chosen = samples[:limit] if limit is not None else samples
    invalid: list[dict[str, Any]] = []
    deep = None
    if policy is not None and spec.image_check:
        chosen, invalid, deep = _gate(spec, data, chosen, policy, defer)
    return chosen, fingerprint, invalid, deep


@dataclass(frozen=True)
class ImagePolicy:
    """What the image gate does with a sample whose image may not be used (``--invalid-images``)."""

    on_invalid: str = "stop"
    """stop: refuse the run before any request; skip: leave the sample out and count it as invalid."""
    allow_outside: bool = False
    """Accept paths that lead outside the dataset folder (``--allow-outside-root``)."""
    cache: Path | None = None
    """Where the gate remembers checked files (None: :func:`mis.data.shared_cache_path`, one per dataset
    folder, so a resumed run and every other model's run on the same data skip decoding unchanged images)."""


#: How to get past the gate, for every message it gives.
GATE_HINT = ("Fix the files, leave these samples out with --invalid-images skip, or accept paths outside the "
             "dataset with --allow-outside-root")


def _dataset_root(data: str, sample: Sample) -> Path:
    """The folder a sample's images must stay in: the local data folder, else the sample's own root."""
    local = local_path(data)
    if local.exists():
        return local if local.is_dir() else local.parent
    return Path(sample.root) if sample.root is not None else local


def gate_samples(spec: Benchmark, data: str, samples: Sequence[Sample],
                 policy: ImagePolicy) -> tuple[list[Sample], list[dict[str, Any]]]:
    """Every image through the whole gate (:class:`mis.data.ImageGate`), decode included, before any request.

    An image must lie inside the dataset (or mis's own cache of files it drew) and be a whole image of an
    allowed format within the pixel budget.

    Returns the samples that may run and one ``invalid`` row per sample left out (``skip``); with ``stop`` a
    failing image raises :class:`DataError` naming the sample, the field and the path.
    """
    kept, invalid, _ = _gate(spec, data, samples, policy, defer=False)
    return kept, invalid


def _gate(spec: Benchmark, data: str, samples: Sequence[Sample], policy: ImagePolicy,
          defer: bool) -> tuple[list[Sample], list[dict[str, Any]], DeepChecks | None]:
    """The gate's checks; ``defer``: only the cheap ones now, the decode left to the returned DeepChecks."""
    from concurrent.futures import ThreadPoolExecutor

    from mis.data import ImageGate

    gates: dict[Path, ImageGate] = {}
    mine = os.path.realpath(cache_root())
    jobs: list[tuple[ImageGate, str]] = []
    for s in samples:
        root = _dataset_root(data, s)
        if root not in gates:
            cache = policy.cache if policy.cache is not None else shared_gate_cache(root)
            gates[root] = ImageGate(root, allow_outside=policy.allow_outside, cache=cache)
            gates[root].roots.append(mine)  # images mis drew itself (FigStep, white images, parquet cells)
        for path in s.image_paths():
            lexical = os.path.abspath(path)
            inside = lexical.startswith(str(root) + os.sep)
            shown = os.path.relpath(lexical, root) if inside else str(path)
            jobs.append((gates[root], shown if not os.path.isabs(shown) else lexical))
    if defer:  # header reads only: a few hundred microseconds per image, no thread needed
        quick = [gate.quick(path) for gate, path in jobs]
        results = iter([(check, None if final else (gate, path))
                        for (gate, path), (check, final) in zip(jobs, quick, strict=True)])
    else:
        # zlib, crc32 and sha256 release the GIL on large buffers, so a few threads use every core; each
        # check streams its file in 64 KiB pieces, so memory stays a few pieces per thread
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            results = iter([(c, None) for c in pool.map(lambda job: job[0].check(job[1]), jobs)])
    deep = DeepChecks(spec.name, policy.on_invalid, GATE_HINT, gates=list(gates.values())) if defer else None
    kept: list[Sample] = []
    invalid: list[dict[str, Any]] = []
    problems: list[str] = []
    for s in samples:
        got = [next(results) for _ in s.image_paths()]
        checks = [c for c, _ in got]
        failed = _failures(s, checks)
        if not failed:
            pending = [(k, *job) for k, (_, job) in enumerate(got) if job is not None]
            if deep is not None and pending:
                deep.samples[s.uid] = SampleImages(s.uid, checks, pending, lambda cs, s=s: _rejected(s, cs))
                kept.append(s)
                continue
            # the gate read every byte already: its sha256 is what samples.jsonl records (no second read)
            hashes = [c.sha256 for c in checks]
            kept.append(s.model_copy(update={"metadata": {**s.metadata, "image_sha256": hashes}})
                        if all(hashes) else s)
            continue
        problems += failed
        invalid.append(_rejected(s, checks)[1])
    if deep is None or not deep.samples:
        for gate in gates.values():
            gate.save()
    if problems and policy.on_invalid == "stop":
        head = "; ".join(problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataError(f"{spec.name}: {data}: {head}{more}. {GATE_HINT}")
    return kept, invalid, deep if deep is not None and deep.samples else None


def _failures(s: Sample, checks: Sequence[ImageCheck]) -> list[str]:
    return [f"sample {s.uid}: field 'images' (image {k} of {len(s.images)}): {check.message}"
            for k, check in enumerate(checks, start=1) if not check.ok]


def _rejected(s: Sample, checks: Sequence[ImageCheck]) -> tuple[list[str], dict[str, Any]]:
    """The messages and the samples.jsonl row of a sample whose image failed the gate."""
    failed = _failures(s, checks)
    return failed, {"uid": s.uid, "id": s.id, "split": s.split, "category": s.category,
                    "sub_category": s.sub_category, "question": s.question,
                    "images": [str(p) for p in s.image_paths()], "label": "invalid", "outcome": "invalid",
                    "judge_error": failed[0]}


def fingerprint_of(samples: Sequence[Sample]) -> str:
    """sha256 over each sample's uid, text, labels, target and image paths (nothing is read or stat'ed).

    Image bytes are not part of it: a user who repairs an image the gate refused reruns the same command and
    the run resumes; each finished row records the sha256 of the images it was sent (``image_sha256``).
    """
    digest = hashlib.sha256()
    for s in samples:
        item = [s.uid, s.question, s.category, s.sub_category, s.target, list(s.images)]
        digest.update(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def sample_metadata(s: Sample, text: str, real: RealPaths | None = None) -> dict[str, Any]:
    """What every judge and the results writer read: the source fields, then the core fields (which win).

    ``real``: a resolver shared by a batch of samples (each image folder resolved once).
    """
    real = real or RealPaths()
    return {
        **s.metadata,
        "uid": s.uid,
        "id": s.id,
        "split": s.split,
        "category": s.category,
        "sub_category": s.sub_category,
        "question": s.question,
        "prompt_text": text,
        "images": [real(p) for p in s.image_paths()],
    }


@dataclass(frozen=True)
class ServedLayout:
    """How a served model's family wants a multi-image turn (the authors' per-family prompts)."""

    layout: TurnLayout
    placeholders: bool
    """True: images first, then ONE text part holding ``<image>`` placeholders where the labels put them (a
    remote-code chat template that renders content as a string, e.g. InternVL under vLLM); False: the
    labelled text and the images interleaved as content parts."""

    @property
    def name(self) -> str:
        """What the identity records."""
        return f"{self.layout.name}{'+placeholders' if self.placeholders else ''}"


def served_layout(model: str, family: str | None = None) -> ServedLayout | None:
    """The layout a served model gets on MIS (None: images then the question, the stock turn)."""
    from mis.models.presets import PRESETS, preset_for_model

    preset = PRESETS.get(family) if family else preset_for_model(model)
    if preset is None or not preset.layout.labelled:
        return None
    return ServedLayout(preset.layout, placeholders=preset.trust_remote_code)


def _laid_out(images: list[str], text: str, served: ServedLayout) -> list[Content]:
    if len(images) < 2:
        return [*(ContentImage(image=p) for p in images), ContentText(text=text)]
    if served.placeholders:
        return [*(ContentImage(image=p) for p in images),
                ContentText(text=served.layout.text(len(images), text, IMAGE_PLACEHOLDER))]
    return [ContentImage(image=images[p]) if isinstance(p, int) else ContentText(text=p)
            for p in served.layout.parts(len(images), text)]


def to_inspect(s: Sample, text: str | None = None, target: str = "",
               served: ServedLayout | None = None, *, stock_turn: bool = False,
               real: RealPaths | None = None) -> InspectSample:
    """One sample as an inspect sample (images then text, or interleaved at ``<image>`` placeholders).

    ``served``: a served model's family layout (MIS only), e.g. InternVL's ``Image-1: <image>`` labels.
    ``stock_turn``: the benchmark does not use family layouts, so the user message asks an in-process model
    (hfvlm) not to add its family's labels either (`TURN_LAYOUT_KEY` in the message's metadata).
    ``real``: the image path resolver of a batch (:func:`convert`).
    """
    text = s.question if text is None else text
    meta = sample_metadata(s, text, real)
    images = meta["images"]
    content: list[Content] = []
    pieces = text.split(IMAGE_PLACEHOLDER)
    if served is not None and IMAGE_PLACEHOLDER not in text:
        content = _laid_out(images, text, served)
    elif images and len(pieces) - 1 == len(images):
        for k, piece in enumerate(pieces):
            if piece.strip():
                content.append(ContentText(text=piece.strip()))
            if k < len(images):
                content.append(ContentImage(image=images[k]))
    else:
        # a stray literal "<image>" would be read as an image token by processors: it becomes plain text
        content = [ContentImage(image=p) for p in images]
        content.append(ContentText(text=text.replace(IMAGE_PLACEHOLDER, "[image]")))
    message = ChatMessageUser(content=content, metadata={TURN_LAYOUT_KEY: STOCK_TURN} if stock_turn else None)
    return InspectSample(input=[message], target=target, id=s.uid, metadata=meta)


def convert(spec: Benchmark, samples: Sequence[Sample], options: Any,
            served: ServedLayout | None = None) -> list[InspectSample]:
    """Every sample through the spec's text and target functions (and a served model's family layout)."""
    real = RealPaths()
    return [to_inspect(s, spec.text(s, options) if spec.text else None, spec.target(s) if spec.target else "",
                       served if spec.family_layout else None, stock_turn=not spec.family_layout, real=real)
            for s in samples]
