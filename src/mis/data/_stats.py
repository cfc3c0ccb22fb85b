"""`stats`: sample counts per split x category x sub-category, laid out like the paper's Table 3."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from mis.data._schema import KNOWN_SPLITS, Sample
from mis.data._taxonomy import TAXONOMY

#: Bucket for samples without a category / sub-category (e.g. general-ability data).
NONE = "(none)"


def _split_order(splits: Iterable[str]) -> list[str]:
    known = [s for s in KNOWN_SPLITS if s in splits]
    return known + sorted(set(splits) - set(known))


def stats(dataset: Iterable[Sample]) -> dict[str, Any]:
    """Counts of a dataset (a MISDataset or any iterable of Samples), JSON-able.

    Every taxonomy category and sub-category is listed in the paper's order, zeros included, so two
    datasets' tables line up; labels outside the taxonomy (and missing ones, as ``"(none)"``) follow.
    Shape::

        {"splits": ["easy", "hard"], "total": 9, "by_split": {"easy": 4, "hard": 5},
         "categories": [{"category": "Illegal Activity", "counts": {"easy": 2, "hard": 1}, "total": 3,
                         "sub_categories": [{"sub_category": "Property Crimes",
                                             "counts": {...}, "total": 2}, ...]}, ...]}
    """
    cells: Counter[tuple[str, str, str]] = Counter()
    for s in dataset:
        cells[(s.split, s.category or NONE, s.sub_category or NONE)] += 1
    splits = _split_order({split for split, _, _ in cells})

    layout: dict[str, list[str]] = {c: list(subs) for c, subs in TAXONOMY.items()}
    for _, category, sub in sorted(cells, key=lambda k: (k[1], k[2])):
        subs = layout.setdefault(category, [])
        if sub not in subs:
            subs.append(sub)

    def counts(category: str, sub: str | None) -> dict[str, int]:
        return {split: sum(n for (sp, c, sc), n in cells.items()
                           if sp == split and c == category and (sub is None or sc == sub))
                for split in splits}

    categories = []
    for category, subs in layout.items():
        rows = []
        for sub in subs:
            sub_counts = counts(category, sub)
            rows.append({"sub_category": sub, "counts": sub_counts, "total": sum(sub_counts.values())})
        cat_counts = counts(category, None)
        categories.append({"category": category, "counts": cat_counts, "total": sum(cat_counts.values()),
                           "sub_categories": rows})
    by_split = {split: sum(n for (sp, _, _), n in cells.items() if sp == split) for split in splits}
    return {"splits": splits, "total": sum(by_split.values()), "by_split": by_split, "categories": categories}
