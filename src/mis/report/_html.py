"""The self-contained report.html: every sample with its images, question, response and verdict.

Images are downscaled with PIL and embedded once each as data URIs in a JSON block (the same image
is shared by every model's card), and inline JS fills ``<img>`` sources only for the cards shown,
so a report over thousands of samples stays usable. All model and judge text goes through jinja2
autoescaping: responses are untrusted. A missing or unreadable image becomes a placeholder box that
names the path, with a warning in the log, never an exception.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from mis.report._load import Run, row_model, row_split

log = logging.getLogger(__name__)

#: Outcomes in display order (the MIS enum's values); others seen in the data follow.
OUTCOMES: tuple[str, ...] = ("attack_success", "safe_reasoning", "refusal", "hallucination", "unknown")
_SHOWN = {"uid", "id", "split", "category", "sub_category", "question", "images", "response",
          "perception", "safety", "outcome", "label", "explanation", "judge", "model", "task"}
_TEMPLATE = "report.html.jinja"


class ImageStore:
    """Thumbnails keyed by path, each encoded once (in threads: PIL decodes without the GIL).

    Images are registered while the cards are built, then encoded together; a missing or broken one
    is remembered with the reason and logged once, naming where it was first referenced.
    """

    def __init__(self, max_px: int = 256, workers: int | None = None) -> None:
        self.max_px = max_px
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.uris: dict[str, str] = {}  # key -> data URI
        self.problems: dict[str, str] = {}  # path -> why it is not shown
        self._keys: dict[str, str] = {}  # path -> key
        self._where: dict[str, str] = {}  # path -> first reference, for the warning

    def register(self, path: str, where: str) -> None:
        """Note that a card shows ``path`` (``where`` names the sample for the warning)."""
        if path not in self._keys:
            self._keys[path] = f"i{len(self._keys)}"
            self._where[path] = where

    def encode_all(self) -> None:
        """Encode every registered image that is not encoded yet."""
        todo = [p for p in self._keys if self._keys[p] not in self.uris and p not in self.problems]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            outcomes = list(pool.map(self._try_encode, todo))
        for path, (uri, why) in zip(todo, outcomes, strict=True):
            if uri is not None:
                self.uris[self._keys[path]] = uri
            else:
                self.problems[path] = why
                log.warning("%s: image %s: %s; the report shows a placeholder", self._where[path], path, why)

    def ref(self, path: str) -> dict[str, str]:
        """``{"key"}`` for the template, or ``{"missing", "why"}`` for a placeholder box."""
        if path in self.problems:
            return {"missing": path, "why": self.problems[path]}
        return {"key": self._keys[path]}

    def _try_encode(self, path: str) -> tuple[str | None, str]:
        try:
            return self._encode(Path(path)), ""
        except FileNotFoundError:
            return None, "file not found"
        except (OSError, ValueError) as err:  # PIL.UnidentifiedImageError is an OSError
            return None, f"cannot read image: {err}"

    def _encode(self, path: Path) -> str:
        from PIL import Image

        with Image.open(path) as im:
            im.draft("RGB", (2 * self.max_px, 2 * self.max_px))  # JPEG: decode at reduced size
            im.load()
            if im.mode in ("RGBA", "LA", "P", "PA"):
                rgba = im.convert("RGBA")
                img = Image.new("RGB", rgba.size, "white")
                img.paste(rgba, mask=rgba.getchannel("A"))
            else:
                img = im.convert("RGB")
        img.thumbnail((self.max_px, self.max_px), reducing_gap=2.0)
        buf = io.BytesIO()
        if img.getcolors(256) is not None:  # flat, few colours (renders, charts): PNG is small and exact
            img.save(buf, format="PNG", optimize=True)
            mime = "image/png"
        else:  # photos and generated images
            img.save(buf, format="JPEG", quality=82)
            mime = "image/jpeg"
        return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def file_data_uri(path: Path) -> str:
    """A PNG file (one of our charts) as a data URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def build_cards(runs: Sequence[Run], store: ImageStore) -> list[dict[str, Any]]:
    """One card per (run, sample row) with everything the template shows."""
    cards: list[dict[str, Any]] = []
    for run in runs:
        samples_file = run.path / "samples.jsonl"
        for row in run.samples:
            uid = _text(row.get("uid") or row.get("id") or f"line {row['_line']}")
            where = f"{samples_file}:{row['_line']} (sample {uid})"
            extra = [(k, _text(v)[:2000]) for k, v in row.items()
                     if k not in _SHOWN and not k.startswith("_")]
            for path in row.get("images", []):
                store.register(path, where)
            cards.append({
                "model": row_model(run, row),
                "split": row_split(run, row),
                "uid": uid,
                "category": _text(row.get("category")) or "-",
                "sub_category": _text(row.get("sub_category")),
                # MIS rows carry an outcome; other benchmarks' rows a label (unsafe, refusal, C ...)
                "outcome": _text(row.get("outcome") or row.get("label")) or "n/a",
                "question": _text(row.get("question")),
                "response": _text(row.get("response")),
                "perception": _text(row.get("perception")),
                "safety": _text(row.get("safety")),
                "mis": "perception" in row or "safety" in row,
                "explanation": _text(row.get("explanation")),
                "judge": _text(row.get("judge")),
                "image_paths": list(row.get("images", [])),
                "extra": extra,
            })
    store.encode_all()
    for card in cards:
        card["images"] = [store.ref(p) for p in card.pop("image_paths")]
    return cards


def _ordered(values: Sequence[str], first: Sequence[str] = ()) -> list[str]:
    seen = set(values)
    return [v for v in first if v in seen] + sorted(seen - set(first))


def outcome_counts(cards: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]], Counter[str]]:
    """Outcome order, per (model, split) count rows, and overall counts."""
    outcomes = _ordered([c["outcome"] for c in cards], OUTCOMES)
    total: Counter[str] = Counter(c["outcome"] for c in cards)
    groups: dict[tuple[str, str], Counter[str]] = {}
    for c in cards:
        groups.setdefault((c["model"], c["split"]), Counter())[c["outcome"]] += 1
    rows = [{"model": m, "split": s, "n": sum(cnt.values()), "counts": cnt} for (m, s), cnt in groups.items()]
    return outcomes, rows, total


def render_html(*, path: Path, title: str, runs: Sequence[Run], thumb_px: int,
                tables: Sequence[dict[str, Any]], charts: Sequence[tuple[str, Path]]) -> Path:
    """Render report.html; ``tables`` are {title, columns, rows(cells as text)}, ``charts`` (caption, png)."""
    from jinja2 import Environment, select_autoescape

    store = ImageStore(max_px=thumb_px)
    cards = build_cards(runs, store)
    outcomes, count_rows, total = outcome_counts(cards)
    template_text = resources.files("mis").joinpath("templates", "report", _TEMPLATE).read_text("utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    html = env.from_string(template_text).render(
        title=title,
        tables=tables,
        charts=[(caption, file_data_uri(p)) for caption, p in charts],
        cards=cards,
        outcomes=outcomes,
        outcome_total=total,
        count_rows=count_rows,
        models=_ordered([c["model"] for c in cards]),
        splits=_ordered([c["split"] for c in cards], ("easy", "hard", "real")),
        categories=_ordered([c["category"] for c in cards]),
        # base64 data URIs hold no '<', so this JSON cannot close the <script> block early
        images_json=json.dumps(store.uris),
        missing_images=sorted(store.problems.items()),
    )
    path.write_text(html, encoding="utf-8")
    return path
