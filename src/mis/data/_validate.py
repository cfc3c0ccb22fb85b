"""`validate`: every problem of a source at once, each naming the file, the sample id and the field."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mis.data._errors import DataError, Problem
from mis.data._loader import duplicate_problems, load_hf, plan
from mis.data._records import IMAGE_PATH_RE, Shape, parse_record, placeholder_count
from mis.data._schema import Sample
from mis.data._sources import detect_shape, read_records, remap_llamafactory, split_for

#: Images per sample in the MIS test layout unless a file's records declare more.
TEST_IMAGES = 2


def _image_field(shape: Shape | None, k: int) -> str:
    return {"test": f"image_path{k}", "sharegpt": f"image[{k - 1}]"}.get(shape or "", f"images[{k - 1}]")


def image_problem(path: Path) -> tuple[str, str] | None:
    """(code, message) when an image file is missing or does not decode, else None."""
    if not path.is_file():
        return "image_missing", f"image file not found: {path}"
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()  # structure and checksums
        with Image.open(path) as im:
            im.load()  # the pixels themselves (verify misses truncated data)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a corrupt image
        return "image_corrupt", f"image does not decode: {path} ({type(exc).__name__}: {exc})"
    return None


def _path_problem(raw: str, root: Path | None, allow_absolute: bool) -> tuple[str, str] | None:
    if os.path.isabs(raw):
        return None if allow_absolute else ("absolute_path", f"absolute path {raw!r}: image paths must be "
                                            "relative to the dataset root so the folder can move")
    base = os.path.normpath(str(root or Path.cwd()))
    # Lexical check (not resolve()): hub snapshots are symlinks into a blob store outside the root.
    joined = os.path.normpath(os.path.join(base, raw))
    if joined != base and not joined.startswith(base + os.sep):
        return "path_escape", f"path {raw!r} points outside the dataset root {base}"
    return None


def check_images(
    samples: Iterable[tuple[Sample, str, Shape | None]], *, allow_absolute: bool, decode: bool = True
) -> list[Problem]:
    """Path, existence and decode checks for every image of every sample (each file decoded once)."""
    problems: list[Problem] = []
    to_decode: dict[Path, list[tuple[str, str, str]]] = {}
    for sample, file, shape in samples:
        for k, (raw, path) in enumerate(zip(sample.images, sample.image_paths(), strict=True), start=1):
            field = _image_field(shape, k)
            bad = _path_problem(raw, sample.root, allow_absolute)
            if bad is not None:
                problems.append(Problem(file, sample.id, field, bad[1], bad[0]))
                continue
            to_decode.setdefault(path, []).append((file, sample.id, field))
    paths = list(to_decode)
    if decode:
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
            results = list(pool.map(image_problem, paths))
    else:
        results = [None if p.is_file() else ("image_missing", f"image file not found: {p}") for p in paths]
    for path, result in zip(paths, results, strict=True):
        if result is not None:
            for file, sid, field in to_decode[path]:
                problems.append(Problem(file, sid, field, result[1], result[0]))
    return problems


def _count_problems(file: str, shape: Shape, pairs: list[tuple[Sample, dict[str, Any]]],
                    strict_placeholders: bool) -> list[Problem]:
    """Image-count rules that need the raw records (declared image_pathK keys, placeholders)."""
    problems = []
    if shape == "test":
        declared = max((int(m.group(1)) for _, r in pairs for k in r if (m := IMAGE_PATH_RE.match(k))),
                       default=TEST_IMAGES)
        expected = max(TEST_IMAGES, declared)
        for s, _ in pairs:
            if 0 < len(s.images) < expected:
                problems.append(Problem(file, s.id, f"image_path{len(s.images) + 1}",
                                        f"sample has {len(s.images)} image(s); records of this file carry "
                                        f"{expected}", "image_count"))
    elif strict_placeholders:
        field = "messages" if shape == "messages" else "conversations"
        for s, record in pairs:
            if placeholder_count(record, shape) == 0 and s.images:
                problems.append(Problem(file, s.id, field, f"no <image> placeholder for {len(s.images)} "
                                        "image(s); this format needs one per image", "placeholder_mismatch"))
    return problems


def validate(
    source: str | Path, *, decode_images: bool = True, cache_dir: Path | None = None
) -> list[Problem]:
    """Check every sample of a source and return all problems (an empty list means valid).

    Checks: files are JSON of a known record shape; required fields (id, question, images) present and
    non-empty; ids unique per split; category/sub-category in the MIS taxonomy; image paths relative
    and inside the root (absolute paths are fine only in ms-swift exports); images exist and decode
    (``decode_images=False`` only checks they exist); image counts as expected; ``<image>``
    placeholders match the images.
    """
    try:
        the_plan = plan(source, cache_dir)
    except DataError as exc:
        return [Problem(str(source), None, None, str(exc), "unreadable")]
    if the_plan.hf_folder is not None:
        try:
            samples = load_hf(the_plan.hf_folder, None, cache_dir)
        except DataError as exc:
            return [Problem(str(the_plan.hf_folder), None, None, str(exc), "unreadable")]
        file = str(the_plan.hf_folder)
        problems = duplicate_problems(samples, [file] * len(samples))
        checks = [(s, file, None) for s in samples]
        problems += check_images(checks, allow_absolute=True, decode=decode_images)
        return problems
    problems = list(the_plan.problems)
    all_samples: list[Sample] = []
    all_files: list[str] = []
    to_check: list[tuple[Sample, str, Shape | None]] = []
    for source_file in the_plan.files:
        file = str(source_file.path)
        if not source_file.path.is_file():
            problems.append(Problem(file, None, None, "file not found", "not_json"))
            continue
        raw, read_problems = read_records(source_file.path)
        problems += read_problems
        if source_file.remap is not None:
            raw = [remap_llamafactory(r, source_file.remap) for r in raw]
        shape = source_file.shape
        if shape is None:
            shape, problem = detect_shape(raw, source_file.path)
            if problem is not None:
                problems.append(problem)
                continue
        if shape is None:
            continue
        samples = []
        pairs = []
        for index, record in enumerate(raw):
            sample, found = parse_record(record, shape, file=file, index=index,
                                         split=split_for(source_file, shape), root=source_file.root)
            problems += found
            if sample is not None:
                samples.append(sample)
                pairs.append((sample, record))
        strict = the_plan.format in ("llamafactory", "internvl")
        problems += _count_problems(file, shape, pairs, strict)
        all_samples += samples
        all_files += [file] * len(samples)
        to_check += [(s, file, shape) for s in samples]
    problems += duplicate_problems(all_samples, all_files)
    problems += check_images(to_check, allow_absolute=the_plan.format == "swift", decode=decode_images)
    return problems


__all__ = ["check_images", "image_problem", "validate"]
