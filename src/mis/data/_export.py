"""`export`: Samples -> training formats of other tools (LLaMA-Factory, ms-swift, InternVL, `datasets`).

Every format keeps ``id``, ``split``, ``category`` and ``sub_category`` beside its own keys (the tools
ignore extra keys), so `load` reads an export folder back into the same samples. Images are hard-linked
(or copied) into ``OUT/images/<split>/<id>/`` so the folder is self-contained; the ``hf`` format embeds
the image bytes instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mis.data._errors import DataError
from mis.data._gate import DEFAULT_MAX_PIXELS, ImageGate
from mis.data._records import PLACEHOLDER, internvl_prompt
from mis.data._schema import Sample
from mis.data._sources import MANIFEST
from mis.data._writer import link_or_copy, safe_id

FORMATS = ("llamafactory", "swift", "internvl", "hf")
#: LLaMA-Factory `dataset_info.json` entry for our files (sharegpt formatting, OpenAI-style tags).
LLAMAFACTORY_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                     "assistant_tag": "assistant", "system_tag": "system"}


def _common(sample: Sample) -> dict[str, Any]:
    keys: dict[str, Any] = {"id": sample.id, "split": sample.split, "category": sample.category,
                            "sub_category": sample.sub_category}
    if sample.metadata:
        keys["metadata"] = sample.metadata
    return keys


def _check(sample: Sample, text: str, images: Any) -> None:
    """Every exported sample: images is a list and there is one ``<image>`` per image."""
    if not isinstance(images, list):
        raise DataError(f"sample {sample.uid}: field 'images': must be a list, got {type(images).__name__}")
    n = text.count(PLACEHOLDER)
    if n != len(images):
        raise DataError(f"sample {sample.uid}: field 'question': the exported prompt has {n} <image> "
                        f"placeholder(s) for {len(images)} image(s) (does the question itself contain "
                        "'<image>'?)")


def gate_images(samples: Iterable[Sample], *, decode: bool, allow_outside_root: bool = False,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Raise one DataError line naming the sample and path of the first image the gate refuses.

    ``decode=False`` applies the path rules only (inside the root, the file exists); ``decode=True``
    also checks format, pixel budget and a complete decode (before a processor opens the images).
    Samples without a root (built in Python) have nothing to stay inside of.
    """
    gates: dict[Path | None, ImageGate] = {}
    for sample in samples:
        gate = gates.get(sample.root)
        if gate is None:
            gate = gates[sample.root] = ImageGate(
                sample.root or Path.cwd(), allow_outside=allow_outside_root or sample.root is None,
                max_pixels=max_pixels, hash_images=False)
        for k, raw in enumerate(sample.images, start=1):
            check = gate.check(raw) if decode else gate.locate(raw)
            if not check.ok:
                raise DataError(f"sample {sample.uid}: field 'images' (image {k} of {len(sample.images)}): "
                                f"{check.message} (run `mis data validate` to list every problem)")


def _copy_images(sample: Sample, out: Path) -> list[str]:
    """Link the sample's images into ``out/images/<split>/<id>/``; return paths relative to ``out``."""
    rel = []
    for k, src in enumerate(sample.image_paths(), start=1):
        path = f"images/{sample.split}/{safe_id(sample)}/object{k}{src.suffix.lower() or '.png'}"
        link_or_copy(src, out / path, sample)
        rel.append(path)
    return rel


def _user_text(sample: Sample) -> str:
    return PLACEHOLDER * len(sample.images) + sample.question


def _llamafactory(sample: Sample, out: Path) -> dict[str, Any]:
    images = _copy_images(sample, out)
    # LLaMA-Factory drops chats with an odd number of turns, so unlabelled samples get an empty answer.
    messages = [{"role": "user", "content": _user_text(sample)},
                {"role": "assistant", "content": sample.target or ""}]
    _check(sample, messages[0]["content"], images)
    return {**_common(sample), "messages": messages, "images": images}


def _swift(sample: Sample, out: Path) -> dict[str, Any]:
    images = [str((out / p).absolute()) for p in _copy_images(sample, out)]
    messages = [{"role": "user", "content": _user_text(sample)}]
    if sample.target is not None:
        messages.append({"role": "assistant", "content": sample.target})
    _check(sample, messages[0]["content"], images)
    return {**_common(sample), "messages": messages, "images": images}


def _internvl(sample: Sample, out: Path) -> dict[str, Any]:
    # Paths relative to the meta entry's `root` (OUT/images), as InternVL joins them.
    images = [p.removeprefix("images/") for p in _copy_images(sample, out)]
    turns = [{"from": "human", "value": internvl_prompt(sample.question, len(images))}]
    if sample.target is not None:
        turns.append({"from": "gpt", "value": sample.target})
    _check(sample, turns[0]["value"], images)
    return {**_common(sample), "image": images, "conversations": turns}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


def _export_hf(by_split: dict[str, list[Sample]], out: Path) -> dict[str, str]:
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"), "split": datasets.Value("string"),
        "question": datasets.Value("string"), "target": datasets.Value("string"),
        "category": datasets.Value("string"), "sub_category": datasets.Value("string"),
        "metadata": datasets.Value("string"), "images": datasets.Sequence(datasets.Image()),
    })
    parts = {}
    for split, samples in by_split.items():
        for s in samples:
            _check(s, PLACEHOLDER * len(s.images), list(s.images))
        columns: dict[str, list[Any]] = {
            "id": [s.id for s in samples], "split": [s.split for s in samples],
            "question": [s.question for s in samples], "target": [s.target for s in samples],
            "category": [s.category for s in samples], "sub_category": [s.sub_category for s in samples],
            "metadata": [json.dumps(s.metadata, default=str) if s.metadata else "" for s in samples],
            "images": [[str(p) for p in s.image_paths()] for s in samples],
        }
        parts[split] = datasets.Dataset.from_dict(columns, features=features)
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    bars = not are_progress_bars_disabled()
    disable_progress_bars()  # library code does not print; the CLI shows its own progress
    try:
        datasets.DatasetDict(parts).save_to_disk(str(out))  # embeds the image bytes
    finally:
        if bars:
            enable_progress_bars()
    return {split: split for split in by_split}


def _group(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    by_split: dict[str, list[Sample]] = {}
    seen: set[str] = set()
    for s in samples:
        if s.uid in seen:
            raise DataError(f"sample {s.uid}: field 'id': duplicate id in split {s.split!r}")
        seen.add(s.uid)
        by_split.setdefault(s.split, []).append(s)
    return by_split


def export(
    dataset: Iterable[Sample],
    fmt: str,
    out: Path,
    *,
    tokenizer: str | Path | None = None,
    max_length: int | None = None,
    overwrite: bool = False,
    allow_outside_root: bool = False,
) -> Path:
    """Write ``dataset`` (a MISDataset or Samples) in format ``fmt`` under ``out``; return ``out``.

    Formats: ``llamafactory`` (``<split>.json`` + ``dataset_info.json``), ``swift`` (``<split>.jsonl``,
    absolute image paths), ``internvl`` (``<split>.jsonl`` + ``meta.json``), ``hf`` (a `datasets`
    save_to_disk folder). With ``tokenizer`` (a processor path) and ``max_length``, every chat is
    tokenized with its images first and a sample longer than ``max_length`` raises DataError, because
    training would truncate it (cutting image tokens breaks multi-image models).

    Before anything is written every image passes the image gate (:class:`mis.data.ImageGate`): it
    must exist inside its sample's root (unless ``allow_outside_root``), and with ``tokenizer`` it must
    also decode completely, so a missing or corrupt image is one DataError naming the sample and path.
    """
    if fmt not in FORMATS:
        raise DataError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if (tokenizer is None) != (max_length is None):
        raise DataError("--tokenizer and --max-length go together: give both or neither")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError(f"{out} exists and is not empty; choose a new folder or pass overwrite=True")
    by_split = _group(dataset)
    if not by_split:
        raise DataError("nothing to export: the dataset has no samples")
    every = [s for group in by_split.values() for s in group]
    gate_images(every, decode=tokenizer is not None, allow_outside_root=allow_outside_root)
    if tokenizer is not None and max_length is not None:
        from mis.data._tokens import check_lengths

        check_lengths(every, tokenizer, max_length)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    if fmt == "hf":
        files = _export_hf(by_split, out)
    else:
        make = {"llamafactory": _llamafactory, "swift": _swift, "internvl": _internvl}[fmt]
        for split, samples in by_split.items():
            records = [make(s, out) for s in samples]
            name = f"{split}.json" if fmt == "llamafactory" else f"{split}.jsonl"
            if fmt == "llamafactory":
                _write_json(out / name, records)
            else:
                _write_jsonl(out / name, records)
            files[split] = name
    if fmt == "llamafactory":
        _write_json(out / "dataset_info.json", {
            f"mis_{split}": {"file_name": name, "formatting": "sharegpt",
                             "columns": {"messages": "messages", "images": "images"},
                             "tags": LLAMAFACTORY_TAGS}
            for split, name in files.items()
        })
    elif fmt == "internvl":
        _write_json(out / "meta.json", {
            f"mis_{split}": {"root": str((out / "images").absolute()),
                             "annotation": str((out / name).absolute()),
                             "data_augment": False, "repeat_time": 1, "length": len(by_split[split])}
            for split, name in files.items()
        })
    _write_json(out / MANIFEST, {"format": fmt, "files": files,
                                 "samples": {split: len(group) for split, group in by_split.items()}})
    return out
