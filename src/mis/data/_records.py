"""Turn raw JSON records of each known shape into Samples, collecting every problem on the way.

Three record shapes exist in the wild and in our exports:

- ``test``: the MIS test release (``id``, ``question``, ``image_path1``, ``image_path2`` [, ``image_path3``
  ...], ``category``, ``sub_category``; optional ``target``);
- ``sharegpt``: the MIS train release and InternVL fine-tuning files (``image`` list + ``conversations``
  of ``{"from": "human"|"gpt", "value": ...}``);
- ``messages``: LLaMA-Factory / ms-swift (``messages`` of ``{"role", "content"}`` + ``images``).

Parsing never raises: it returns the Sample (or None when the record is unusable) and the problems,
so ``load`` can stop on structural problems while ``validate`` reports all of them.

A user turn's layout is kept, not thrown away: ``Sample.question`` is the question without image
placeholders (what evaluation and the judge see), and when the placeholders sit *inside* the text
(``"Compare <image> with <image>"``) rather than all before it, the turn as written is kept in
``metadata["user_turn"]`` so training puts each image where the record put it. A turn whose
placeholders (with or without InternVL's ``Image-k:`` labels) all come first is laid out again per
model family at training time (`mis.models.user_turn_layout`), the way the authors' scripts send it.
Multi-turn conversations are kept whole in ``metadata["conversations"]`` (ShareGPT turns).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

from mis.data._errors import Problem
from mis.data._schema import Sample
from mis.data._taxonomy import category_problem, normalise_labels

log = logging.getLogger(__name__)

Shape = Literal["test", "sharegpt", "messages"]

PLACEHOLDER = "<image>"
# "Image-1: <image>\n" (InternVL's multi-image prompt) or a bare "<image>", with the newline after it.
_PLACEHOLDER_RE = re.compile(r"(?:Image-\d+:[ \t]*)?<image>[ \t]*\n?")
# A run of leading placeholders (optionally labelled), the MIS / InternVL / LLaVA prefix layouts.
_LEADING_RE = re.compile(r"^(?:\s*(?:Image-\d+:[ \t]*)?<image>)+\s*")
IMAGE_PATH_RE = re.compile(r"^image_path(\d+)$")
# Keys our exporters add next to the format's own keys so a round trip keeps ids, splits and labels.
_COMMON_KEYS = ("id", "split", "category", "sub_category", "metadata")


def strip_placeholders(text: str) -> tuple[str, int]:
    """The question without image placeholders, and how many ``<image>`` placeholders it had."""
    return _PLACEHOLDER_RE.sub("", text).strip(), text.count(PLACEHOLDER)


def split_user_turn(text: str) -> tuple[str, int, bool]:
    """(question without placeholders, number of ``<image>`` placeholders, whether any sits in the text).

    ``False`` for the prefix layouts (every placeholder, labelled or not, before the question), which a
    family's layout can rebuild from the bare question; ``True`` when the text interleaves them.
    """
    n = text.count(PLACEHOLDER)
    leading = _LEADING_RE.match(text)
    rest = text[leading.end():] if leading else text
    if PLACEHOLDER not in rest:
        return rest.strip(), n, False
    return strip_placeholders(text)[0], n, True


def internvl_prompt(question: str, n_images: int) -> str:
    """InternVL's multi-image user turn: one ``Image-k: <image>`` line per image, then the question."""
    return "".join(f"Image-{k}: {PLACEHOLDER}\n" for k in range(1, n_images + 1)) + question


def shape_of(record: Any) -> Shape | None:
    """Which record shape a JSON value has, or None when it is none of them."""
    if not isinstance(record, dict):
        return None
    if "conversations" in record:
        return "sharegpt"
    if "messages" in record:
        return "messages"
    if "question" in record or any(IMAGE_PATH_RE.match(k) for k in record):
        return "test"
    return None


class _Ctx:
    """Where a record came from, and the problems found in it."""

    def __init__(self, file: str, index: int, sample_id: str | None) -> None:
        self.file, self.index, self.sample_id = file, index, sample_id
        self.problems: list[Problem] = []
        self.notes: dict[str, str] = {}  # kept in the sample's metadata (e.g. a label alias replaced)

    def add(self, field: str | None, message: str, code: str) -> None:
        sid = self.sample_id if self.sample_id is not None else f"#{self.index}"
        self.problems.append(Problem(self.file, sid, field, message, code))


def _record_id(record: dict[str, Any], index: int, ctx: _Ctx, required: bool) -> str | None:
    if "id" not in record or record["id"] is None:
        if required:
            ctx.add("id", "missing required field", "missing_field")
            return None
        return str(index)
    raw = record["id"]
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        ctx.add("id", f"must be an integer or a string, got {type(raw).__name__}", "bad_type")
        return None
    value = str(raw).strip()
    if not value:
        ctx.add("id", "is empty", "empty_field")
        return None
    return value


def _text(record: dict[str, Any], key: str, ctx: _Ctx, *, required: bool) -> str | None:
    if key not in record or record[key] is None:
        if required:
            ctx.add(key, "missing required field", "missing_field")
        return None
    value = record[key]
    if not isinstance(value, str):
        ctx.add(key, f"must be a string, got {type(value).__name__}", "bad_type")
        return None
    return value


def _labels(record: dict[str, Any], ctx: _Ctx) -> tuple[str | None, str | None]:
    category = _text(record, "category", ctx, required=False)
    sub_category = _text(record, "sub_category", ctx, required=False)
    category, sub_category, note = normalise_labels(category, sub_category)
    if note is not None:
        ctx.notes["label_alias"] = note
        _log_alias_once(ctx.file, note)
    why = category_problem(category, sub_category)
    if why is not None:
        field = "category" if why.startswith("unknown category") else "sub_category"
        ctx.add(field, why, "unknown_category")
    return category, sub_category


_LOGGED_ALIASES: set[tuple[str, str]] = set()


def _log_alias_once(file: str, note: str) -> None:
    """One log line per file and alias (a release spells one name the same way on every record)."""
    if (file, note) not in _LOGGED_ALIASES:
        _LOGGED_ALIASES.add((file, note))
        log.info("%s: %s; normalised on load (sample metadata 'label_alias' keeps the note)", file, note)


def _image_list(value: Any, key: str, ctx: _Ctx) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.add(key, "must be a list of image paths (strings)", "bad_type")
        return None
    return list(value)


def _check_question(question: str, n_images: int, ctx: _Ctx, field: str) -> None:
    if not question.strip():
        ctx.add(field, "question is empty", "empty_field")
    if n_images == 0:
        ctx.add("images", "sample has no images", "empty_field")


def parse_record(
    record: Any,
    shape: Shape,
    *,
    file: str,
    index: int,
    split: str,
    root: Path | None,
) -> tuple[Sample | None, list[Problem]]:
    """Parse one record of a known shape; the default split is used unless the record names one."""
    if not isinstance(record, dict):
        ctx = _Ctx(file, index, None)
        ctx.add(None, f"record {index} is not a JSON object (got {type(record).__name__})", "bad_shape")
        return None, ctx.problems
    raw_id = record.get("id")
    ctx = _Ctx(file, index, str(raw_id) if isinstance(raw_id, int | str) and str(raw_id).strip() else None)
    if shape_of(record) != shape:
        expected = {
            "test": "'question' and 'image_path1', 'image_path2'",
            "sharegpt": "'image' and 'conversations'",
            "messages": "'messages' and 'images'",
        }[shape]
        ctx.add(None, f"expected a record with {expected} like the rest of the file", "bad_shape")
        return None, ctx.problems
    parse = {"test": _parse_test, "sharegpt": _parse_sharegpt, "messages": _parse_messages}[shape]
    fields = parse(record, ctx, index)
    if fields is None or any(p.code in ("missing_field", "bad_type", "bad_shape") for p in ctx.problems):
        return None, ctx.problems
    record_split = record.get("split")
    raw_metadata = record.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    extra = {k: v for k, v in record.items() if k not in fields["_used"] and k not in _COMMON_KEYS}
    if raw_metadata is not None and not isinstance(raw_metadata, dict):
        extra["metadata"] = raw_metadata  # someone else's "metadata" field: keep it as is
    sample = Sample(
        id=fields["id"],
        split=record_split if isinstance(record_split, str) and record_split else split,
        question=fields["question"],
        images=fields["images"],
        category=fields["category"],
        sub_category=fields["sub_category"],
        target=fields.get("target"),
        metadata={**extra, **metadata, **fields.get("metadata", {}), **ctx.notes},
        root=root,
    )
    return sample, ctx.problems


def _parse_test(record: dict[str, Any], ctx: _Ctx, index: int) -> dict[str, Any] | None:
    sid = _record_id(record, index, ctx, required=True)
    question = _text(record, "question", ctx, required=True)
    target = _text(record, "target", ctx, required=False)
    numbered = sorted((int(m.group(1)), k) for k in record if (m := IMAGE_PATH_RE.match(k)))
    images: list[str] = []
    for position, (k, key) in enumerate(numbered, start=1):
        value = record[key]
        if value is None:
            continue
        if not isinstance(value, str):
            ctx.add(key, f"must be a string path, got {type(value).__name__}", "bad_type")
            continue
        if not value.strip():
            ctx.add(key, "image path is empty", "empty_field")
            continue
        if k != position:
            ctx.add(key, f"image paths are numbered with a gap ({key} without image_path{position})",
                    "image_count")
        images.append(value)
    category, sub_category = _labels(record, ctx)
    if sid is None or question is None:
        return None
    _check_question(question, len(images), ctx, "question")
    used = {"question", "target", *(key for _, key in numbered)}
    return {"id": sid, "question": question, "images": images, "category": category,
            "sub_category": sub_category, "target": target, "_used": used}


def _parse_sharegpt(record: dict[str, Any], ctx: _Ctx, index: int) -> dict[str, Any] | None:
    sid = _record_id(record, index, ctx, required=False)
    images: list[str] | None = []
    key = "image" if "image" in record else "images"
    if record.get(key) is not None:
        images = _image_list(record[key], key, ctx)
    turns = record["conversations"]
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and isinstance(t.get("from"), str) and isinstance(t.get("value"), str)
        for t in turns
    ):
        ctx.add("conversations", 'must be a list of {"from": ..., "value": "..."} turns', "bad_type")
        return None
    human = next((i for i, t in enumerate(turns) if t["from"] in ("human", "user")), None)
    if human is None:
        ctx.add("conversations", "has no human turn", "missing_field")
        return None
    question, n_placeholders, interleaved = split_user_turn(turns[human]["value"])
    gpt = next((t["value"] for t in turns[human + 1 :] if t["from"] in ("gpt", "assistant")), None)
    category, sub_category = _labels(record, ctx)
    if sid is None or images is None:
        return None
    _check_question(question, len(images), ctx, "conversations")
    if n_placeholders and n_placeholders != len(images):
        ctx.add("conversations", f"human turn has {n_placeholders} <image> placeholders but "
                f"{key!r} lists {len(images)} images", "placeholder_mismatch")
    metadata: dict[str, Any] = {}
    if len(turns) > human + 2 or human > 0:
        metadata["conversations"] = turns
    if interleaved:
        metadata["user_turn"] = turns[human]["value"]
    return {"id": sid, "question": question, "images": images, "category": category,
            "sub_category": sub_category, "target": gpt or None, "metadata": metadata,
            "_used": {key, "conversations"}}


def _content_text(content: Any, ctx: _Ctx, field: str) -> tuple[str, int] | None:
    """Text of a message and its image count (placeholders or ``{"type": "image"}`` blocks).

    Image blocks become ``<image>`` placeholders where they stand, so their order with the text
    survives; text blocks are joined with newlines, as before.
    """
    if isinstance(content, str):
        return content, content.count(PLACEHOLDER)
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        pieces: list[str] = []
        for b in content:
            if b.get("type") in ("image", "image_url"):
                pieces.append(PLACEHOLDER)
            elif b.get("type") == "text" and isinstance(b.get("text"), str):
                if pieces and pieces[-1] != PLACEHOLDER:
                    pieces.append("\n")
                pieces.append(b["text"])
        text = "".join(pieces)
        return text, text.count(PLACEHOLDER)
    ctx.add(field, "content must be a string or a list of content blocks", "bad_type")
    return None


def _parse_messages(record: dict[str, Any], ctx: _Ctx, index: int) -> dict[str, Any] | None:
    sid = _record_id(record, index, ctx, required=False)
    key = "images" if "images" in record else "image"
    images: list[str] | None = []
    if record.get(key) is not None:
        images = _image_list(record[key], key, ctx)
    messages = record["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        ctx.add("messages", 'must be a list of {"role": ..., "content": ...} messages', "bad_type")
        return None
    user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if user is None:
        ctx.add("messages", "has no user message", "missing_field")
        return None
    parsed = _content_text(messages[user].get("content"), ctx, "messages")
    if parsed is None:
        return None
    text, n_placeholders = parsed
    question, _, interleaved = split_user_turn(text)
    answer = next((m.get("content") for m in messages[user + 1 :] if m["role"] == "assistant"), None)
    category, sub_category = _labels(record, ctx)
    if sid is None or images is None:
        return None
    _check_question(question, len(images), ctx, "messages")
    if n_placeholders and n_placeholders != len(images):
        ctx.add("messages", f"user message has {n_placeholders} <image> placeholders but {key!r} "
                f"lists {len(images)} images", "placeholder_mismatch")
    metadata: dict[str, Any] = {}
    system = [m.get("content") for m in messages[:user] if m["role"] == "system"]
    if system:
        metadata["system"] = system[0]
    if interleaved:
        metadata["user_turn"] = text
    if len(messages) > user + 2:  # multi-turn: kept whole, as ShareGPT turns (placeholders in place)
        metadata["conversations"] = _as_sharegpt(messages[user:])
    return {"id": sid, "question": question, "images": images, "category": category,
            "sub_category": sub_category, "target": answer if isinstance(answer, str) and answer else None,
            "metadata": metadata, "_used": {key, "messages"}}


_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "system": "system"}


def _as_sharegpt(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Role/content messages as ShareGPT turns; image blocks become ``<image>`` where they stand."""
    turns = []
    for m in messages:
        parsed = _content_text(m.get("content"), _Ctx("", 0, None), "messages")
        if parsed is not None and m.get("role") in _SHAREGPT_ROLE:
            turns.append({"from": _SHAREGPT_ROLE[m["role"]], "value": parsed[0]})
    return turns


def placeholder_count(record: dict[str, Any], shape: Shape) -> int | None:
    """How many ``<image>`` placeholders the record's user turn has (None if unreadable)."""
    if shape == "sharegpt":
        turns = record.get("conversations")
        if isinstance(turns, list):
            for t in turns:
                if isinstance(t, dict) and t.get("from") in ("human", "user"):
                    value = t.get("value")
                    return value.count(PLACEHOLDER) if isinstance(value, str) else None
    elif shape == "messages":
        messages = record.get("messages")
        if isinstance(messages, list):
            for m in messages:
                if isinstance(m, dict) and m.get("role") == "user":
                    parsed = _content_text(m.get("content"), _Ctx("", 0, None), "messages")
                    return parsed[1] if parsed else None
    return None
