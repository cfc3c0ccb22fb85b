"""MIS data: the Sample type, the taxonomy, loaders, validation, statistics and exporters."""

from mis.data._schema import KNOWN_SPLITS, Sample
from mis.data._taxonomy import CATEGORIES, PARENT, SUB_CATEGORIES, TAXONOMY, category_problem

__all__ = [
    "CATEGORIES",
    "KNOWN_SPLITS",
    "PARENT",
    "SUB_CATEGORIES",
    "TAXONOMY",
    "Sample",
    "category_problem",
]
