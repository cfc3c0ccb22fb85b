"""Find the data files of a source (folder, file or export folder) and read their raw records.

A *plan* lists each JSON/JSONL file with the record shape, default split and image root to read it
with. ``load`` and ``validate`` both start from a plan, so they always agree on what a source holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.data._errors import DataError, Problem, display
from mis.data._records import Shape, shape_of
from mis.data._schema import KNOWN_SPLITS

#: Written by `export` into every export folder; lets `load` read the folder back without guessing.
MANIFEST = "mis_export.json"
EXPECTED = (
    "expected one of: a folder in the MIS test layout (mis_easy.json, mis_hard.json, mis_real.json + "
    "easy_image/ ...), a MIS train file (mis_train.json with 'image' + 'conversations'), a JSON/JSONL "
    "file of 'messages' + 'images' records, a LLaMA-Factory folder (dataset_info.json), an InternVL "
    "meta JSON, a `datasets` save_to_disk folder, or a hub id such as Tuwhy/MIS_Test"
)


@dataclass
class SourceFile:
    """One data file and how to read it."""

    path: Path
    split: str
    root: Path
    shape: Shape | None = None  # None: detect from the first record
    remap: dict[str, Any] | None = None  # LLaMA-Factory column/tag mapping to our messages shape


@dataclass
class Plan:
    """What a source holds: its format, root folder, and files (or an HF `datasets` folder)."""

    format: str
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    hf_folder: Path | None = None
    problems: list[Problem] = field(default_factory=list)  # files that could not even be planned


def _split_of(path: Path) -> str:
    stem = path.name.split(".")[0]
    return stem[4:] if stem.startswith("mis_") and len(stem) > 4 else stem


def _split_order(path: Path) -> tuple[int, str]:
    """MIS splits in the paper's order (train, easy, hard, real, ...), then any others by name."""
    split = _split_of(path)
    return (KNOWN_SPLITS.index(split) if split in KNOWN_SPLITS else len(KNOWN_SPLITS), split)


def _read_json(path: Path) -> tuple[Any, Problem | None]:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, Problem(display(path), None, None, f"not valid JSON: {exc}", "not_json")


def read_records(path: Path) -> tuple[list[Any], list[Problem]]:
    """Raw records of a JSON array file or a JSONL file (one problem per unreadable line)."""
    if path.suffix == ".jsonl":
        records: list[Any] = []
        problems: list[Problem] = []
        try:
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        problems.append(Problem(display(path), f"line {n}", None, f"not valid JSON: {exc}",
                                                "not_json"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(display(path), None, None, f"cannot read: {exc}", "not_json"))
        return records, problems
    data, problem = _read_json(path)
    if problem is not None:
        return [], [problem]
    if not isinstance(data, list):
        got = type(data).__name__
        return [], [Problem(display(path), None, None, f"expected a JSON array of records, got a JSON {got}",
                            "bad_shape")]
    return data, []


def detect_shape(records: list[Any], path: Path) -> tuple[Shape | None, Problem | None]:
    """The shape of a file's records (from the first object record)."""
    first = next((r for r in records if isinstance(r, dict)), None)
    if first is None:
        if records:
            return None, Problem(display(path), None, None, "records are not JSON objects; " + EXPECTED,
                                 "bad_shape")
        return None, None
    shape = shape_of(first)
    if shape is None:
        keys = ", ".join(sorted(first)[:8])
        return None, Problem(display(path), None, None,
                             f"unrecognised record (keys: {keys}); {EXPECTED}", "bad_shape")
    return shape, None


def _llamafactory_files(info_path: Path) -> tuple[list[SourceFile], list[Problem]]:
    info, problem = _read_json(info_path)
    if problem is not None:
        return [], [problem]
    if not isinstance(info, dict):
        return [], [Problem(display(info_path), None, None, "expected an object of dataset entries",
                            "bad_shape")]
    files, problems = [], []
    for name, entry in info.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            problems.append(Problem(display(info_path), None, name, "entry needs a 'file_name'", "bad_shape"))
            continue
        if entry.get("formatting", "alpaca") != "sharegpt":
            problems.append(Problem(display(info_path), None, name,
                                    "only 'formatting': 'sharegpt' entries hold multi-image chats",
                                    "bad_shape"))
            continue
        columns, tags = entry.get("columns", {}), entry.get("tags", {})
        remap = {
            "messages": columns.get("messages", "conversations"),
            "images": columns.get("images", "images"),
            "role": tags.get("role_tag", "from"),
            "content": tags.get("content_tag", "value"),
            "user": tags.get("user_tag", "human"),
            "assistant": tags.get("assistant_tag", "gpt"),
            "system": tags.get("system_tag", "system"),
        }
        split = name[4:] if name.startswith("mis_") else name
        files.append(SourceFile(info_path.parent / entry["file_name"], split, info_path.parent,
                                "messages", remap))
    return files, problems


def remap_llamafactory(record: Any, remap: dict[str, Any]) -> Any:
    """A LLaMA-Factory sharegpt record with custom columns/tags -> our messages shape."""
    if not isinstance(record, dict) or remap["messages"] not in record:
        return record
    roles = {remap["user"]: "user", remap["assistant"]: "assistant", remap["system"]: "system"}
    turns = record[remap["messages"]]
    if isinstance(turns, list):
        turns = [
            {"role": roles.get(t.get(remap["role"]), t.get(remap["role"])),
             "content": t.get(remap["content"])} if isinstance(t, dict) else t
            for t in turns
        ]
    out = {k: v for k, v in record.items() if k not in (remap["messages"], remap["images"])}
    out["messages"] = turns
    if remap["images"] in record:
        out["images"] = record[remap["images"]]
    return out


def _internvl_files(meta_path: Path, meta: dict[str, Any]) -> tuple[list[SourceFile], list[Problem]]:
    files, problems = [], []
    for name, entry in meta.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotation"), str):
            problems.append(Problem(display(meta_path), None, name, "entry needs an 'annotation' path",
                                    "bad_shape"))
            continue
        annotation = _beside(meta_path, Path(entry["annotation"]))
        root = _beside(meta_path, Path(entry.get("root") or "."))
        split = name[4:] if name.startswith("mis_") else name
        files.append(SourceFile(annotation, split, root, "sharegpt"))
    return files, problems


def _beside(meta_path: Path, path: Path) -> Path:
    """Resolve a path from an InternVL meta file.

    Relative paths resolve beside the meta file; absolute ones that no longer exist (the folder was
    moved) fall back to the same name beside it.
    """
    if not path.is_absolute():
        return meta_path.parent / path
    if not path.exists() and (meta_path.parent / path.name).exists():
        return meta_path.parent / path.name
    return path


def _is_internvl_meta(data: Any) -> bool:
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, dict) and "annotation" in v for v in data.values()
    )


def plan_folder(folder: Path) -> Plan:
    """Work out what a local folder holds."""
    manifest = folder / MANIFEST
    fmt = None
    if manifest.is_file():
        data, _ = _read_json(manifest)
        fmt = data.get("format") if isinstance(data, dict) else None
    if fmt == "hf" or (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return Plan("hf", folder, hf_folder=folder)
    if (folder / "dataset_info.json").is_file():
        files, problems = _llamafactory_files(folder / "dataset_info.json")
        return Plan("llamafactory", folder, files, problems=problems)
    for meta_path in sorted(folder.glob("*.json")):
        if meta_path.name.startswith("mis_") or meta_path.stat().st_size > 1_000_000:
            continue
        data, _ = _read_json(meta_path)
        if _is_internvl_meta(data):
            files, problems = _internvl_files(meta_path, data)
            return Plan("internvl", folder, files, problems=problems)
    mis_files = sorted((p for p in folder.glob("mis_*.json*") if p.name != MANIFEST and p.is_file()),
                       key=_split_order)
    if mis_files:
        return Plan("mis", folder, [SourceFile(p, _split_of(p), folder) for p in mis_files])
    jsonl = sorted(folder.glob("*.jsonl"), key=_split_order)
    if jsonl:
        return Plan(fmt or "messages", folder, [SourceFile(p, _split_of(p), folder) for p in jsonl])
    found = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
    raise DataError(f"{folder}: no MIS data found (it holds: {found}); {EXPECTED}")


def plan_file(path: Path) -> Plan:
    """A single data file (or an InternVL meta JSON / LLaMA-Factory dataset_info.json)."""
    if path.name == "dataset_info.json":
        files, problems = _llamafactory_files(path)
        return Plan("llamafactory", path.parent, files, problems=problems)
    if path.suffix == ".json" and path.stat().st_size < 1_000_000:
        data, _ = _read_json(path)
        if _is_internvl_meta(data):
            files, problems = _internvl_files(path, data)
            return Plan("internvl", path.parent, files, problems=problems)
    if path.suffix not in (".json", ".jsonl"):
        raise DataError(f"{path}: not a .json or .jsonl file; {EXPECTED}")
    # A file not named mis_<split>.json gets its split from its records' shape (see `split_for`).
    split = _split_of(path) if path.name.startswith("mis_") else ""
    return Plan("mis", path.parent, [SourceFile(path, split, path.parent)])


def split_for(source: SourceFile, shape: Shape) -> str:
    """Default split of a file: its ``mis_<split>`` name, else train for chat records, else its stem."""
    if source.split:
        return source.split
    return "train" if shape in ("sharegpt", "messages") else source.path.stem
