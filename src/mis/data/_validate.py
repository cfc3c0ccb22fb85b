"""`validate`: every problem of a source at once, each naming the file, the sample id and the field."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.data._errors import DataError, Problem
from mis.data._gate import DEFAULT_MAX_PIXELS, ImageCheck, ImageGate, shared_cache_path
from mis.data._loader import duplicate_problems, load_hf, plan
from mis.data._records import IMAGE_PATH_RE, Shape, parse_record, placeholder_count
from mis.data._schema import Sample
from mis.data._sources import Plan, detect_shape, read_records, remap_llamafactory, split_for

#: Images per sample in the MIS test layout unless a file's records declare more.
TEST_IMAGES = 2


def _image_field(shape: Shape | None, k: int) -> str:
    return {"test": f"image_path{k}", "sharegpt": f"image[{k - 1}]"}.get(shape or "", f"images[{k - 1}]")


#: The gate's codes as `validate` reports them (stable names that `mis train` and scripts filter on).
GATE_TO_PROBLEM = {
    "outside_root": "path_escape",
    "not_found": "image_missing",
    "unreadable": "image_corrupt",
    "not_an_image": "image_corrupt",
    "truncated": "image_corrupt",
    "corrupt": "image_corrupt",
    "too_many_pixels": "image_too_large",
    "bad_format": "image_format",
}


def image_problem(path: Path) -> tuple[str, str] | None:
    """(code, message) when an image file is missing or does not decode, else None (no root rule)."""
    check = ImageGate(path.parent, allow_outside=True, hash_images=False).check(str(path))
    return None if check.ok else (GATE_TO_PROBLEM[str(check.code)], check.message)


def check_images(
    samples: Iterable[tuple[Sample, str, Shape | None]],
    *,
    allow_absolute: bool,
    decode: bool = True,
    allow_outside: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Problem]:
    """Path and content checks for every image of every sample through the image gate.

    Images are checked one at a time (each distinct file once), so memory does not grow with the
    number or size of images. ``decode=False`` applies only the path rules and existence. Verdicts go to
    the gate's shared cache, so evaluating the validated dataset does not decode its images again.
    """
    problems: list[Problem] = []
    gates: dict[Path, ImageGate] = {}
    seen: dict[str, ImageCheck] = {}
    for sample, file, shape in samples:
        root = sample.root or Path.cwd()
        gate = gates.get(root)
        if gate is None:
            # the shared cache: a validated dataset is not decoded again by mis eval / judge / bench
            gate = gates[root] = ImageGate(root, allow_outside=allow_outside, max_pixels=max_pixels,
                                           cache=shared_cache_path(root) if decode else None)
        for k, raw in enumerate(sample.images, start=1):
            field = _image_field(shape, k)
            if os.path.isabs(raw) and not allow_absolute:
                problems.append(Problem(file, sample.id, field, f"absolute path {raw!r}: image paths must "
                                        "be relative to the dataset root so the folder can move",
                                        "absolute_path"))
                continue
            key = f"{root}\0{raw}"
            check = seen.get(key)
            if check is None:
                check = seen[key] = gate.check(raw) if decode else gate.locate(raw)
            if not check.ok:
                problems.append(check.problem(file, sample.id, field, GATE_TO_PROBLEM[str(check.code)]))
    for gate in gates.values():
        gate.save()
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


#: Sample counts of the MIS release (Tuwhy/MIS_Test and Tuwhy/MIS_Train); a differing MIS source is
#: worth a warning (a partial download?) but is not an error: your own data may be any size.
RELEASE_SIZES: dict[str, int] = {"easy": 1675, "hard": 510, "real": 100, "train": 3927}


@dataclass
class ValidationReport:
    """What :func:`validate_report` found: problems (the source is invalid if any) and warnings."""

    source: str
    format: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    samples: dict[str, int] = field(default_factory=dict)
    """Samples per split, in file order."""
    images: int = 0

    @property
    def ok(self) -> bool:
        """True when there is no problem (warnings do not count)."""
        return not self.problems


def release_size_warning(counts: dict[str, int]) -> str | None:
    """One line when MIS split sizes differ from the release's (1,675 / 510 / 100 / 3,927), else None."""
    present = [s for s in RELEASE_SIZES if s in counts]
    if not present:
        return None
    diffs = [f"{s} {counts[s]:,} (release {RELEASE_SIZES[s]:,})" for s in present
             if counts[s] != RELEASE_SIZES[s]]
    test_splits = ("easy", "hard", "real")
    if any(s in counts for s in test_splits):
        diffs += [f"{s} absent (release {RELEASE_SIZES[s]:,})" for s in test_splits if s not in counts]
    if not diffs:
        return None
    return ("split sizes differ from the MIS release: " + ", ".join(diffs)
            + "; expected for your own or a partial dataset, otherwise the download may be incomplete")


def validate(
    source: str | Path,
    *,
    decode_images: bool = True,
    cache_dir: Path | None = None,
    allow_outside_root: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Problem]:
    """Check every sample of a source and return all problems (an empty list means valid).

    Checks: files are JSON of a known record shape; the source holds at least one sample; required
    fields (id, question, images) present and non-empty; ids unique per split; category/sub-category
    in the MIS taxonomy; image paths relative (absolute paths are fine only in ms-swift exports);
    every image passes the image gate (:class:`mis.data.ImageGate`): inside the root with symlinks
    followed (unless ``allow_outside_root``), an allowed format, within ``max_pixels``, decoding
    completely (``decode_images=False`` only checks the path rules and that the file exists); image
    counts as expected; ``<image>`` placeholders match the images. Images are checked one at a time.
    """
    return validate_report(source, decode_images=decode_images, cache_dir=cache_dir,
                           allow_outside_root=allow_outside_root, max_pixels=max_pixels).problems


def validate_report(
    source: str | Path,
    *,
    decode_images: bool = True,
    cache_dir: Path | None = None,
    allow_outside_root: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ValidationReport:
    """:func:`validate` with counts and warnings (split sizes that differ from the MIS release)."""
    report = ValidationReport(str(source))
    found = _collect(source, cache_dir)
    if isinstance(found, Problem):
        report.problems.append(found)
        return report
    the_plan, problems, to_check, allow_absolute = found
    report.format = the_plan.format
    for sample, _, _ in to_check:
        report.samples[sample.split] = report.samples.get(sample.split, 0) + 1
        report.images += len(sample.images)
    if not to_check and not any(p.code in ("not_json", "unreadable") for p in problems):
        problems.append(Problem(str(the_plan.root if the_plan.hf_folder is None else the_plan.hf_folder),
                                None, None, "no samples: the source holds 0 records (an empty or unfinished "
                                "download?)", "empty_dataset"))
    problems += check_images(to_check, allow_absolute=allow_absolute, decode=decode_images,
                             allow_outside=allow_outside_root, max_pixels=max_pixels)
    report.problems = problems
    if the_plan.format == "mis" and (warning := release_size_warning(report.samples)):
        report.warnings.append(warning)
    return report


def _collect(source: str | Path, cache_dir: Path | None) -> Problem | tuple[
        Plan, list[Problem], list[tuple[Sample, str, Shape | None]], bool]:
    """Read every record of a source: (plan, record problems, samples to image-check, absolute ok)."""
    try:
        the_plan = plan(source, cache_dir)
    except DataError as exc:
        return Problem(str(source), None, None, str(exc), "unreadable")
    if the_plan.hf_folder is not None:
        try:
            samples = load_hf(the_plan.hf_folder, None, cache_dir)
        except DataError as exc:
            return Problem(str(the_plan.hf_folder), None, None, str(exc), "unreadable")
        file = str(the_plan.hf_folder)
        checks: list[tuple[Sample, str, Shape | None]] = [(s, file, None) for s in samples]
        return the_plan, duplicate_problems(samples, [file] * len(samples)), checks, True
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
    return the_plan, problems, to_check, the_plan.format == "swift"


__all__ = ["RELEASE_SIZES", "ValidationReport", "check_images", "image_problem", "release_size_warning",
           "validate", "validate_report"]
