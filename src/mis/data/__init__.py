"""MIS data: the Sample type, the taxonomy, loaders, validation, statistics and exporters."""

from mis.data._errors import DataError, Problem
from mis.data._export import FORMATS, export
from mis.data._gate import (
    DEFAULT_FORMATS,
    DEFAULT_MAX_PIXELS,
    GATE_CODES,
    GateCache,
    ImageCheck,
    ImageGate,
    ImageRef,
    check_image,
    image_ref,
    shared_cache_path,
)
from mis.data._loader import MISDataset, load
from mis.data._records import internvl_prompt, strip_placeholders
from mis.data._schema import KNOWN_SPLITS, Sample
from mis.data._stats import stats
from mis.data._taxonomy import CATEGORIES, PARENT, SUB_CATEGORIES, TAXONOMY, category_problem
from mis.data._validate import validate
from mis.data._writer import write_mis_layout

__all__ = [
    "CATEGORIES",
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "GATE_CODES",
    "KNOWN_SPLITS",
    "PARENT",
    "SUB_CATEGORIES",
    "TAXONOMY",
    "DataError",
    "GateCache",
    "ImageCheck",
    "ImageGate",
    "shared_cache_path",
    "ImageRef",
    "MISDataset",
    "Problem",
    "Sample",
    "category_problem",
    "check_image",
    "export",
    "image_ref",
    "internvl_prompt",
    "load",
    "stats",
    "strip_placeholders",
    "validate",
    "write_mis_layout",
]
