"""General-ability benchmarks as multiple-choice tasks with exact-match scoring.

Q-Bench (LLVisionQA), MMStar, MMMU-val, MuirBench and MMT-Bench multi-image, each read from its
published hub layout (parquet with images as ``{"bytes", "path"}`` structs; Q-Bench also from the
original JSON + image folder).

Parquet images are written once, content-addressed, to the mis cache so that samples carry paths
like every other benchmark. Every record becomes a sample with ``target`` = the answer letter and
``metadata["options"]`` = the option texts; scoring is exact match on the extracted letter
(:mod:`mis.eval.benchmarks.mcq`), and MMMU open questions use its number/string match.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.errors import DataError
from mis.eval.benchmarks._common import (
    fail,
    image_bytes,
    image_cache_dir,
    parquet_files,
    read_json,
    read_parquet_rows,
    resolve_source,
    store_image,
)
from mis.eval.metrics import accuracy, by_group, pct
from mis.eval.spec import Benchmark, JudgeContext, register
from mis.judges import Judge, mcq_match
from mis.judges.mcq import LETTERS, mcq_prompt, parse_embedded_options

BENCHMARKS = ("qbench", "mmstar", "mmmu", "muirbench", "mmt_mi")
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
DEFAULT_SPLIT = {
    "qbench": "test",
    "mmstar": "val",
    "mmmu": "validation",
    "muirbench": "test",
    "mmt_mi": "val",
}


def _images(cells: list[Any], folder: Path, file: Path, rid: str, field: str) -> list[str]:
    out = []
    for cell in cells:
        data = image_bytes(cell)
        if data is None:
            raise fail(file, rid, field, "image cell has no bytes")
        out.append(str(store_image(data, folder)))
    return out


def _letter(value: Any, n: int, file: Path, rid: str, field: str) -> str:
    """An answer given as a letter or a 0-based index, checked against the option count."""
    text = str(value).strip()
    letter = LETTERS[int(text)] if text.isdigit() and int(text) < n else text.upper()
    if len(letter) != 1 or letter not in LETTERS[:n]:
        raise fail(file, rid, field, f"answer {value!r} is not one of {LETTERS[:n]}")
    return letter


@dataclass(frozen=True)
class _Item:
    """What one published record says: the question, its options, answer, image cells and extra fields."""

    question: str
    options: list[str]
    answer: str
    images: list[str]
    category: str | None = None
    meta: dict[str, Any] | None = None


def _sample(bench: str, rid: str, split: str, item: _Item) -> Sample:
    meta = {"benchmark": bench, "options": item.options, "answer": item.answer, **(item.meta or {})}
    return Sample(id=rid, split=split, question=item.question, images=item.images, target=item.answer,
                  category=item.category, metadata=meta)


RowParser = Callable[[dict[str, Any], str, Callable[[list[Any], str], list[str]], Path], _Item]


def _from_parquet(bench: str, source: str | Path, split: str, id_key: str, parse: RowParser, *,
                  by_split: bool = True) -> list[Sample]:
    """Every row of a benchmark's parquet files through ``parse`` (images written once to the cache)."""
    root = resolve_source(source)
    files = parquet_files(root, split if by_split else None)
    folder = image_cache_dir(bench, root)
    out = []
    for k, row in enumerate(read_parquet_rows(files)):
        rid = str(row.get(id_key, k))

        def images(cells: list[Any], field: str, rid: str = rid) -> list[str]:
            return _images(cells, folder, files[0], rid, field)

        out.append(_sample(bench, rid, split, parse(row, rid, images, files[0])))
    return out


# -- loaders ------------------------------------------------------------------------------------------
def _qbench_row(row: dict[str, Any], rid: str, images: Callable[..., list[str]], file: Path) -> _Item:
    options = [str(row[f"option{i}"]) for i in range(4) if row.get(f"option{i}") not in (None, "N/A", "")]
    if "correct_choice" not in row:
        raise fail(file, rid, "correct_choice", "missing")
    return _Item(str(row["question"]), options, _letter(row["correct_choice"], len(options), file, rid,
                 "correct_choice"), images([row["image"]], "image"), str(row.get("question_concern")),
                 {"question_type": row.get("question_type")})


def load_qbench(source: str | Path, *, split: str = "test") -> list[Sample]:
    """Q-Bench LLVisionQA: ``q-future/Q-Bench-HF`` parquet, or ``llvisionqa_<split>.json`` + images."""
    root = resolve_source(source)
    json_file = root if root.suffix == ".json" else root / f"llvisionqa_{split}.json"
    if json_file.is_file():
        return _qbench_json(json_file, split)
    return _from_parquet("qbench", root, split, "id", _qbench_row)


def _qbench_json(path: Path, split: str) -> list[Sample]:
    records = read_json(path)
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON array")
    image_dir = next((d for d in (path.parent / "images", path.parent) if d.is_dir()), path.parent)
    out = []
    for k, rec in enumerate(records):
        rid = str(rec.get("id", k))
        for key in ("img_path", "question", "candidates", "correct_ans"):
            if key not in rec:
                raise fail(path, rid, key, "missing")
        options = [str(c) for c in rec["candidates"]]
        if rec["correct_ans"] not in options:
            raise fail(path, rid, "correct_ans", f"{rec['correct_ans']!r} is not one of the candidates")
        answer = LETTERS[options.index(rec["correct_ans"])]
        item = _Item(rec["question"], options, answer, [str(image_dir / rec["img_path"])],
                     str(rec.get("concern")), {"question_type": rec.get("type")})
        out.append(_sample("qbench", rid, split, item))
    return out


def _mmstar_row(row: dict[str, Any], rid: str, images: Callable[..., list[str]], file: Path) -> _Item:
    options = parse_embedded_options(str(row["question"]))
    answer = _letter(row["answer"], len(options) or 4, file, rid, "answer")
    return _Item(str(row["question"]), options, answer,
                 images([row["image"]], "image"), row.get("category"),
                 {"l2_category": row.get("l2_category"), "embedded_options": True})


def load_mmstar(source: str | Path, *, split: str = "val") -> list[Sample]:
    """MMStar (``Lin-Chen/MMStar``): options are embedded in ``question``; ``answer`` is a letter."""
    return _from_parquet("mmstar", source, split, "index", _mmstar_row, by_split=False)


def _mmmu_row(row: dict[str, Any], rid: str, images: Callable[..., list[str]], file: Path) -> _Item:
    try:
        options = [str(o) for o in ast.literal_eval(row["options"] or "[]")]
    except (ValueError, SyntaxError) as exc:
        raise fail(file, rid, "options", f"not a list literal: {exc}") from None
    cells = [row[f"image_{i}"] for i in range(1, 8) if row.get(f"image_{i}") is not None]
    kind = str(row.get("question_type") or ("multiple-choice" if options else "open"))
    mcq = kind == "multiple-choice"
    answer = _letter(row["answer"], len(options), file, rid, "answer") if mcq else str(row["answer"])
    subject = rid.split("_", 1)[1].rsplit("_", 1)[0] if rid.count("_") >= 2 else None
    return _Item(str(row["question"]), options if mcq else [], answer, images(cells, "image_k"), subject,
                 {"question_type": kind, "subfield": row.get("subfield")})


def load_mmmu(source: str | Path, *, split: str = "validation") -> list[Sample]:
    """MMMU (``MMMU/MMMU`` subject configs or a merged copy): ``options`` is a Python list literal."""
    return _from_parquet("mmmu", source, split, "id", _mmmu_row)


def _muirbench_row(row: dict[str, Any], rid: str, images: Callable[..., list[str]], file: Path) -> _Item:
    options = [str(o) for o in row["options"]]
    return _Item(str(row["question"]), options, _letter(row["answer"], len(options), file, rid, "answer"),
                 images(list(row["image_list"]), "image_list"), row.get("task"),
                 {"image_relation": row.get("image_relation")})


def load_muirbench(source: str | Path, *, split: str = "test") -> list[Sample]:
    """MuirBench (``MUIRBENCH/MUIRBENCH``): ``options`` list, ``answer`` letter, ``image_list`` 2+ images."""
    return _from_parquet("muirbench", source, split, "idx", _muirbench_row)


def _mmt_row(row: dict[str, Any], rid: str, images: Callable[..., list[str]], file: Path) -> _Item:
    options = []
    for ch in "ABCDEFGHI":
        value = row.get(ch)
        if value is None or str(value).strip() in ("", "nan", "None"):
            break
        options.append(str(value))
    cells = row["image"] if isinstance(row["image"], list) else [row["image"]]
    return _Item(str(row["question"]), options, _letter(row["answer"], len(options), file, rid, "answer"),
                 images(cells, "image"), row.get("category"), {"l2_category": row.get("l2-category")})


def load_mmt_mi(source: str | Path, *, split: str = "val") -> list[Sample]:
    """MMT-Bench multi-image (``lmms-lab/MMT_MI-Benchmark``): options in columns ``A``..``I``."""
    return _from_parquet("mmt_mi", source, split, "index", _mmt_row)


@dataclass(frozen=True)
class GeneralOptions:
    """A general benchmark's own options."""

    split: str = ""
    """The split to read (empty: the benchmark's published evaluation split)."""


def text(s: Sample, options: Any) -> str:
    """Question, lettered options and the answer-format instruction (open questions: a short answer)."""
    if s.metadata.get("question_type") == "open":
        return f"{s.question.strip()}\n{OPEN_INSTRUCTION}"
    return mcq_prompt(s.question, [] if s.metadata.get("embedded_options") else s.metadata["options"])


def _accuracy(rows: list[dict[str, Any]]) -> dict[str, float]:
    return accuracy([r["label"] == "C" for r in rows])


def summarize(rows: list[dict[str, Any]], options: Any, bootstrap: int) -> dict[str, Any]:
    """Accuracy (%), the share of replies with no answer letter, per category."""
    metrics = {**_accuracy(rows), "no_answer": pct(
        sum(1 for r in rows if r.get("extracted") is None and r["label"] != "C"), len(rows))}
    metrics["score"] = metrics["accuracy"]
    return {"metrics": metrics, "by_category": by_group(rows, "category", _accuracy)}


def _judges(ctx: JudgeContext, options: Any) -> list[Judge]:
    return [mcq_match()]


def _spec(name: str, loader: Callable[..., list[Sample]], description: str) -> Benchmark:
    return register(Benchmark(
        name=name, kind="general", description=description,
        load=lambda data, options: loader(data, split=options.split or DEFAULT_SPLIT[name]), judges=_judges,
        summarize=summarize, headline="accuracy", higher_is_better=True, options=GeneralOptions, text=text,
        target=lambda s: s.target or "", max_tokens=64))


QBENCH = _spec("qbench", load_qbench, "Q-Bench LLVisionQA (multiple choice, 1 image); accuracy.")
MMSTAR = _spec("mmstar", load_mmstar, "MMStar (1,500, multiple choice, 1 image); accuracy.")
MMMU = _spec("mmmu", load_mmmu, "MMMU validation (900; multiple choice + open, 1-7 images); accuracy.")
MUIRBENCH = _spec("muirbench", load_muirbench, "MuirBench (2,600, multiple choice, 2+ images); accuracy.")
MMT_MI = _spec("mmt_mi", load_mmt_mi, "MMT-Bench multi-image (val 3,127, multiple choice); accuracy.")
