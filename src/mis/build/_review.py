"""Human review round: export the split to a CSV + static HTML sheet, import the decisions back."""

from __future__ import annotations

import csv
import os
from importlib import resources
from pathlib import Path

from mis.build._split import REVIEW_DECISIONS, decisions_path
from mis.build._store import StageStore, write_json_atomic
from mis.errors import DataError

COLUMNS = (
    "id",
    "split",
    "category",
    "sub_category",
    "question",
    "object1",
    "object2",
    "image1",
    "image2",
    "decision",
    "note",
)


class ReviewError(DataError):
    """A review file is unusable; the message names file, row and field."""


def review_export(out: Path, dest: Path | None = None) -> tuple[Path, Path]:
    """Write ``review.csv`` and ``review.html`` (images linked relatively) for the split stage's records."""
    import jinja2

    out = Path(out).resolve()
    store = StageStore(out, "split")
    if not store.is_complete():
        raise ReviewError(f"{out}: the split stage is not complete; run `mis build run` first")
    dest = Path(dest or out / "human_review").resolve()
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in store.records():
        rows.append(
            {
                "id": r["id"],
                "split": r["split"],
                "category": r["category"],
                "sub_category": r["sub_category"],
                "question": r["question"],
                "object1": r["objects"][0],
                "object2": r["objects"][1],
                "image1": str(out / r["images"][0]),
                "image2": str(out / r["images"][1]),
                "decision": "",
                "note": "",
            }
        )
    csv_path = dest / "review.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    template = (
        resources.files("mis").joinpath("templates", "build", "review.html.jinja").read_text(encoding="utf-8")
    )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html_rows = [
        {
            **r,
            "image1_src": os.path.relpath(r["image1"], dest),
            "image2_src": os.path.relpath(r["image2"], dest),
        }
        for r in rows
    ]
    html_path = dest / "review.html"
    html_path.write_text(
        env.from_string(template).render(rows=html_rows, out=str(out), csv_name=csv_path.name),
        encoding="utf-8",
    )
    return csv_path, html_path


def review_import(out: Path, csv_path: Path) -> dict[str, int]:
    """Validate a filled review CSV and store its decisions; returns counts per decision.

    The next `mis build run` applies them in the review stage (and redoes later stages if they ran).
    """
    out = Path(out).resolve()
    known = {r["id"] for r in StageStore(out, "split").records()}
    decisions: dict[str, dict[str, str]] = {}
    with Path(csv_path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "decision"} - set(reader.fieldnames or [])
        if missing:
            raise ReviewError(f"{csv_path}: missing column(s) {sorted(missing)}")
        for n, row in enumerate(reader, start=2):
            rid = (row.get("id") or "").strip()
            if rid not in known:
                raise ReviewError(
                    f"{csv_path}: row {n}: field 'id': {rid!r} is not a record of the split stage"
                )
            decision = (row.get("decision") or "").strip().lower() or "keep"
            if decision not in REVIEW_DECISIONS:
                raise ReviewError(
                    f"{csv_path}: row {n} (id {rid}): field 'decision': {decision!r}; "
                    f"use one of {', '.join(REVIEW_DECISIONS)} (empty = keep)"
                )
            decisions[rid] = {"decision": decision, "note": (row.get("note") or "").strip()}
    write_json_atomic(decisions_path(out), {"source": str(csv_path), "decisions": decisions})
    from mis.build._pipeline import restart

    restart(out, "review")  # the next run re-applies decisions; label replies come from the cache
    counts: dict[str, int] = {}
    for d in decisions.values():
        counts[d["decision"]] = counts.get(d["decision"], 0) + 1
    return counts
