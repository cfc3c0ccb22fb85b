"""Training rows from anything `mis.data.load` reads: target check, general-data mixing, chat messages.

A row is a small dict (uid, image paths, question, target; ``turns`` for a multi-turn conversation,
``user_turn`` for a turn whose images sit inside its text); images are opened by the collator, so a
4k-sample set costs a few MB until a batch is built.

A user turn is laid out the way the model family is prompted at evaluation time, so training and
inference agree: the question with its images first, or with the authors' ``Image-k:`` labels for
InternVL and Idefics3 (`mis.models.user_turn_layout`). A record that puts its images inside its text
keeps them there. Multi-turn conversations (general instruction data) are kept whole: every assistant
turn is trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mis.errors import DataError

if TYPE_CHECKING:
    from mis.data import Sample
    from mis.models import TurnLayout

__all__ = [
    "PAPER_GENERAL_SAMPLES",
    "TrainDataError",
    "build_messages",
    "data_fingerprint",
    "load_rows",
    "mix_rows",
    "to_row",
    "warn_without_general_data",
]

log = logging.getLogger(__name__)

#: Explicit image placeholder inside a user turn (InternVL/LLaVA convention).
PLACEHOLDER = "<image>"
#: General samples the paper mixes into MIRage's training set (App. B.2: 500 M4-Instruct samples).
PAPER_GENERAL_SAMPLES = 500
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class TrainDataError(DataError):
    """Bad training data; the message names the source, the sample uid and the field (exit code 3)."""


def to_row(sample: Sample, source: str) -> dict[str, Any]:
    """One Sample -> a training row; refuses a sample with no target (nothing to learn)."""
    if not (sample.target or "").strip():
        raise TrainDataError(
            f"{source}: sample {sample.uid}: field 'target' is empty; training needs target text "
            "(MIS train, a labelled export or build output; pick labelled splits with --split)"
        )
    turns = _turns(sample, source)
    user_turn = sample.metadata.get("user_turn")
    if not isinstance(user_turn, str) or PLACEHOLDER not in user_turn:
        user_turn = None
    if turns is not None:
        field, texts = "metadata.conversations", [t["text"] for t in turns if t["role"] == "user"]
    else:
        field, texts = "question", [user_turn or sample.question]
    n_placeholders = sum(t.count(PLACEHOLDER) for t in texts)
    if n_placeholders and n_placeholders != len(sample.images):
        raise TrainDataError(
            f"{source}: sample {sample.uid}: field {field!r} has {n_placeholders} {PLACEHOLDER} "
            "placeholders "
            f"but field 'images' has {len(sample.images)} images; make them match or remove the placeholders"
        )
    paths = [str(p) for p in sample.image_paths()]
    for p in sample.image_paths():
        if not p.is_file():
            raise TrainDataError(f"{source}: sample {sample.uid}: field 'images': file not found: {p}")
    row: dict[str, Any] = {
        "uid": sample.uid,
        "images": paths,
        "question": sample.question,
        "target": sample.target,
        "source": source,
    }
    if turns is not None:
        row["turns"] = turns
    elif user_turn is not None:
        row["user_turn"] = user_turn
    return row


def _turns(sample: Sample, source: str) -> list[dict[str, str]] | None:
    """A multi-turn conversation kept by the loader, as role/text turns ending with an answer.

    None for a single exchange (the row's question and target say it all).
    """
    raw = sample.metadata.get("conversations")
    if not isinstance(raw, list):
        return None
    turns = []
    for t in raw:
        if not (isinstance(t, dict) and isinstance(t.get("value"), str) and t.get("from") in _ROLES):
            raise TrainDataError(f"{source}: sample {sample.uid}: field 'conversations': every turn needs "
                                 '"from" (human, gpt or system) and a string "value"')
        turns.append({"role": _ROLES[t["from"]], "text": t["value"]})
    while turns and turns[-1]["role"] != "assistant":
        turns.pop()  # a trailing question without an answer teaches nothing
    if sum(t["role"] == "assistant" for t in turns) < 2 and not any(t["role"] == "system" for t in turns):
        return None
    return turns


#: `mis.data.validate` problem codes that make a sample untrainable (others, e.g. an unknown
#: category in a general instruction set, do not matter for training).
FATAL_CODES = frozenset(
    {
        "placeholder_mismatch",
        "image_missing",
        "image_corrupt",
        "image_too_large",
        "image_format",
        "path_escape",
        "missing_field",
        "empty_field",
        "bad_shape",
        "bad_type",
        "duplicate_id",
        "not_json",
        "unreadable",
    }
)


def load_rows(source: str, splits: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Load a dataset with `mis.data.load`, check it, and turn every sample into a training row.

    `mis.data.validate` runs first, with the image gate on every image (inside the dataset, whole, an
    allowed format within the pixel budget: a bad file stops the run here, not mid-training), and because
    the loader strips ``<image>`` placeholders, after which a placeholder/image mismatch is invisible.
    """
    from mis.data import load, validate

    dataset = load(source, splits=list(splits) if splits else None)
    samples = list(dataset.samples)
    if not samples:
        raise TrainDataError(f"{source}: no samples (splits={list(splits) if splits else 'all'})")
    ids = {s.id for s in samples}
    problems = [
        p
        for p in validate(source, decode_images=True)
        if p.code in FATAL_CODES
        and (p.sample_id is None or str(p.sample_id) in ids)
        and not (p.code == "empty_field" and p.field in ("images", "image"))
    ]  # text-only is fine
    if problems:
        more = (
            f"\n... and {len(problems) - 5} more (see `mis data validate {source}`)"
            if len(problems) > 5
            else ""
        )
        raise TrainDataError("\n".join(str(p) for p in problems[:5]) + more)
    return [to_row(s, str(source)) for s in samples]


def mix_rows(
    main: list[dict[str, Any]],
    general: list[dict[str, Any]],
    ratio: float | None,
    seed: int,
    *,
    samples: int | None = None,
) -> list[dict[str, Any]]:
    """Mix general rows into main: exactly ``samples`` of them, or a ``ratio`` of the result.

    Deterministic for a seed. Neither given takes every general row. Too few general rows is an error
    (not a silently smaller mix). The paper mixes exactly 500 (`PAPER_GENERAL_SAMPLES`); a ratio of
    0.111 of MIS train's 3,927 samples would give 490.
    """
    rng = random.Random(seed)
    if samples is not None:
        if samples > len(general):
            raise TrainDataError(
                f"general_data: general_samples {samples} asks for more general samples than the "
                f"{len(general)} it holds; pass --general-samples {len(general)} or more general data"
            )
        chosen = rng.sample(general, samples)
    elif ratio is None:
        chosen = list(general)
    else:
        need = round(ratio / (1 - ratio) * len(main))
        if need > len(general):
            have = len(general) / (len(general) + len(main))
            raise TrainDataError(
                f"general_data: ratio {ratio} needs {need} general samples for {len(main)} main samples but "
                f"only {len(general)} exist; pass --general-ratio {have:.4f} or more general data"
            )
        chosen = rng.sample(general, need)
    mixed = list(main) + chosen
    rng.shuffle(mixed)
    log.info(
        "mixed %d main + %d general samples (%.1f%% general)",
        len(main),
        len(chosen),
        100 * len(chosen) / max(1, len(mixed)),
    )
    return mixed


def warn_without_general_data(general_samples: int | None, general_ratio: float | None) -> None:
    """Log that a run mixes in no general data although the paper's recipe does (500 samples).

    Silent when the settings say no general data on purpose (``general_samples`` 0: the VLGuard-P
    and Textual SFT baselines train on their own 3k samples alone).
    """
    if general_samples == 0:
        return
    wanted = (f"{general_samples} general samples" if general_samples is not None
              else f"a {general_ratio} general share" if general_ratio is not None else "general data")
    log.warning(
        "no --general-data given: training on the main data alone, without the %s the settings ask for "
        "(the paper mixes %d general multi-image samples into MIRage's training set)",
        wanted, PAPER_GENERAL_SAMPLES,
    )


def build_messages(
    row: dict[str, Any], with_target: bool = True, *, layout: TurnLayout | None = None, image_suffix: str = ""
) -> list[dict[str, Any]]:
    """Structured chat for a row, each user turn laid out with ``layout`` (default: images first).

    Structured blocks keep TRL and the processor from moving images around (STYLE habit 10). A turn
    whose placeholders sit inside its text keeps them where they are; ``image_suffix`` is what the
    chat template writes after an image block (see `mis.models.TurnLayout.blocks`).
    """
    from mis.models._layout import STOCK

    layout = layout or STOCK
    n = len(row["images"])
    turns = row.get("turns")
    if not turns:
        turns = [{"role": "user", "text": row.get("user_turn") or row["question"]},
                 {"role": "assistant", "text": row["target"]}]
    if not with_target:
        turns = turns[:-1]  # the last turn is the answer to be generated
    all_placeholders = sum(t["text"].count(PLACEHOLDER) for t in turns if t["role"] == "user")
    messages, first_user = [], True
    for turn in turns:
        if turn["role"] != "user":
            messages.append({"role": turn["role"], "content": [{"type": "text", "text": turn["text"]}]})
            continue
        # Images go to the first user turn unless placeholders say where they are.
        here = n if first_user and not all_placeholders else turn["text"].count(PLACEHOLDER)
        messages.append({"role": "user", "content": _user_blocks(turn["text"], here, layout, image_suffix)})
        first_user = False
    return messages


def _user_blocks(text: str, n_images: int, layout: TurnLayout, image_suffix: str) -> list[dict[str, Any]]:
    from mis.data._records import split_user_turn

    question, _, interleaved = split_user_turn(text)
    if not interleaved:
        return layout.blocks([None] * n_images, question, image_suffix=image_suffix)
    blocks: list[dict[str, Any]] = []
    parts = text.split(PLACEHOLDER)
    for k, part in enumerate(parts):
        if part:
            blocks.append({"type": "text", "text": part})
        if k < len(parts) - 1:
            blocks.append({"type": "image"})
    return blocks


def data_fingerprint(rows: list[dict[str, Any]]) -> str:
    """sha256 of the records (uid, question, target, image file names+sizes): names the data in the card.

    Image bytes are not hashed (10 GB for MIS train); a changed image with the same size and name
    is not detected.
    """
    h = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r["uid"]):
        images = []
        for p in row["images"]:
            path = Path(p)
            images.append([path.name, path.stat().st_size if path.exists() else -1])
        h.update(
            json.dumps([row["uid"], row["question"], row["target"], images], ensure_ascii=False).encode()
        )
    return h.hexdigest()
