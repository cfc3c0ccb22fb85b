"""`load`: any supported source -> a MISDataset of lazy Samples (images are never decoded here)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mis.data._errors import STRUCTURAL, DataError, Problem, error_from
from mis.data._hub import download, hub_id_of
from mis.data._records import parse_record
from mis.data._schema import Sample
from mis.data._sources import (
    Plan,
    SourceFile,
    detect_shape,
    plan_file,
    plan_folder,
    read_records,
    remap_llamafactory,
    split_for,
)
from mis.data._taxonomy import normalise_labels


@dataclass
class MISDataset:
    """Samples of one source, in file order. ``format`` is how the source was laid out."""

    root: Path
    samples: list[Sample]
    format: str
    files: list[Path] = field(default_factory=list)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def splits(self) -> list[str]:
        """Split names in order of first appearance."""
        return list(dict.fromkeys(s.split for s in self.samples))

    def split(self, name: str) -> list[Sample]:
        """The samples of one split (empty list when the split is absent)."""
        return [s for s in self.samples if s.split == name]


def plan(source: str | Path, cache_dir: Path | None = None) -> Plan:
    """Resolve a source (path or hub id) to a plan of files to read."""
    text = str(source)
    path = Path(text).expanduser()
    if not path.exists():
        repo_id = hub_id_of(text)
        if repo_id is None:
            raise DataError(f"{text}: no such file or folder (and not a hub id like Tuwhy/MIS_Test)")
        path = _data_folder(download(repo_id, cache_dir))
    return plan_folder(path) if path.is_dir() else plan_file(path)


def _data_folder(snapshot: Path) -> Path:
    """The snapshot itself, or its one sub-folder holding ``mis_*.json`` (repos that nest the layout)."""
    if any(snapshot.glob("mis_*.json")):
        return snapshot
    nested = [d for d in snapshot.iterdir() if d.is_dir() and any(d.glob("mis_*.json"))]
    return nested[0] if len(nested) == 1 else snapshot


def read_file(source: SourceFile, splits: set[str] | None) -> tuple[list[Sample], list[Problem]]:
    """Parse every record of one file; return the samples and all problems found."""
    records, problems = read_records(source.path)
    if source.remap is not None:
        records = [remap_llamafactory(r, source.remap) for r in records]
    shape, problem = (source.shape, None) if source.shape else detect_shape(records, source.path)
    if problem is not None:
        return [], [*problems, problem]
    if shape is None:
        return [], problems
    default_split = split_for(source, shape)
    samples = []
    for index, record in enumerate(records):
        if splits is not None and isinstance(record, dict):
            if record.get("split", default_split) not in splits:
                continue
        sample, found = parse_record(record, shape, file=str(source.path), index=index,
                                     split=default_split, root=source.root)
        problems.extend(found)
        if sample is not None:
            samples.append(sample)
    return samples, problems


def duplicate_problems(samples: Sequence[Sample], files: Sequence[str]) -> list[Problem]:
    """A problem for every sample whose (split, id) was already seen."""
    first: dict[str, str] = {}
    problems = []
    for sample, file in zip(samples, files, strict=True):
        if sample.uid in first:
            where = "earlier in this file" if first[sample.uid] == file else f"in {first[sample.uid]}"
            problems.append(Problem(file, sample.id, "id", f"duplicate id {sample.id!r} in split "
                                    f"{sample.split!r} (already used {where})", "duplicate_id"))
        else:
            first[sample.uid] = file
    return problems


def _hf_cache(folder: Path, cache_dir: Path | None) -> Path:
    fingerprints = sorted(str(p.stat().st_mtime_ns) + p.name for p in folder.rglob("data-*.arrow"))
    key = hashlib.sha256((str(folder.resolve()) + "|".join(fingerprints)).encode()).hexdigest()[:16]
    base = cache_dir or Path(os.environ.get("MIS_CACHE", "~/.cache/mis")).expanduser()
    return base / "hf-images" / key


def _sniff_ext(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".img"


def load_hf(folder: Path, splits: set[str] | None, cache_dir: Path | None) -> list[Sample]:
    """A `datasets` save_to_disk folder: image bytes are written once to a cache folder, not decoded."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for a bad folder
        raise DataError(f"{folder}: not a readable `datasets` save_to_disk folder: {exc}") from exc
    parts = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"": loaded}
    images_root = _hf_cache(folder, cache_dir)
    samples: list[Sample] = []
    for part_name, ds in parts.items():
        missing = {"question", "images"} - set(ds.column_names)
        if missing:
            raise DataError(f"{folder}: split {part_name or 'default'!r} lacks column(s) {sorted(missing)}; "
                            "expected id, split, question, images, category, sub_category, target")
        # Arrow batches give the stored {bytes, path} structs undecoded, and (unlike cast_column)
        # write no cache files into the user's folder.
        rows = (row for batch in ds.with_format("arrow").iter(batch_size=64) for row in batch.to_pylist())
        for row_index, row in enumerate(rows):
            sid = str(row.get("id") if row.get("id") not in (None, "") else row_index)
            split = row.get("split") or part_name or "train"
            if splits is not None and split not in splits:
                continue
            paths = []
            for k, image in enumerate(row["images"], start=1):
                if image.get("bytes") is None:
                    paths.append(image["path"])  # stored as a path: keep it
                    continue
                data = image["bytes"]
                rel = Path(split) / sid / f"object{k}{_sniff_ext(data)}"
                target = images_root / rel
                if not target.exists() or target.stat().st_size != len(data):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_suffix(target.suffix + ".tmp")
                    tmp.write_bytes(data)
                    tmp.replace(target)
                paths.append(rel.as_posix())
            metadata = row.get("metadata")
            meta = json.loads(metadata) if isinstance(metadata, str) and metadata else {}
            category, sub_category, note = normalise_labels(row.get("category"), row.get("sub_category"))
            if note is not None:
                meta["label_alias"] = note
            samples.append(Sample(
                id=sid, split=split, question=row["question"], images=paths,
                category=category, sub_category=sub_category, target=row.get("target") or None,
                metadata=meta, root=images_root,
            ))
    return samples


def load(
    source: str | Path, *, splits: Sequence[str] | None = None, cache_dir: Path | None = None
) -> MISDataset:
    """Load MIS data from a folder, a file, one of our export folders, or a hub id.

    Records are parsed into Samples that keep image paths only. Raises DataError (naming file,
    sample and field) on data that cannot become a Sample or on duplicate ids; content problems
    (missing images, unknown categories ...) are left to :func:`mis.data.validate`.
    """
    the_plan = plan(source, cache_dir)
    wanted = set(splits) if splits is not None else None
    if the_plan.hf_folder is not None:
        samples = load_hf(the_plan.hf_folder, wanted, cache_dir)
        files = [the_plan.hf_folder]
        problems = duplicate_problems(samples, [str(the_plan.hf_folder)] * len(samples))
    else:
        problems = list(the_plan.problems)
        samples, sample_files = [], []
        files = []
        for source_file in the_plan.files:
            # mis_<split>.json names its split: skip whole files of unwanted splits unread.
            if wanted is not None and source_file.split and the_plan.format == "mis" \
                    and source_file.split not in wanted:
                continue
            if not source_file.path.is_file():
                problems.append(Problem(str(source_file.path), None, None, "file not found", "not_json"))
                continue
            found, file_problems = read_file(source_file, wanted)
            samples.extend(found)
            sample_files.extend([str(source_file.path)] * len(found))
            problems.extend(file_problems)
            files.append(source_file.path)
        problems.extend(duplicate_problems(samples, sample_files))
    fatal = [p for p in problems if p.code in STRUCTURAL]
    if fatal:
        raise error_from(fatal)
    if wanted is not None:
        absent = wanted - {s.split for s in samples}
        if absent:
            held = sorted({f.split for f in the_plan.files if f.split} | {s.split for s in samples})
            listing = ", ".join(held) if held else "none that could be read"
            raise DataError(f"{source}: no samples for split(s) {', '.join(sorted(absent))}; "
                            f"the splits it holds: {listing}")
    return MISDataset(root=the_plan.root, samples=samples, format=the_plan.format, files=files)

