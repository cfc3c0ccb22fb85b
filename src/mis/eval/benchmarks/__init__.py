"""The benchmarks, one spec per file: MIS and the paper's other safety, over-refusal and general benchmarks.

Importing this package registers every spec with :mod:`mis.eval.spec` (MIS.md sec. 7 for the paper's list).
Each file reads its benchmark's published layout into :class:`mis.data.Sample` records and says how to judge
and summarise them; nothing here imports torch.
"""

from mis.errors import UsageError
from mis.eval.benchmarks import (  # noqa: F401  (each module registers its spec)
    figstep,
    general,
    jailbreakv,
    mis,
    mmsafety,
    mossbench,
    mssbench,
    siuo,
    vlguard,
    white_image,
)
from mis.eval.benchmarks.figstep import load_figstep, render_typography, typography_text
from mis.eval.benchmarks.general import load_mmmu, load_mmstar, load_mmt_mi, load_muirbench, load_qbench
from mis.eval.benchmarks.jailbreakv import load_jailbreakv
from mis.eval.benchmarks.mmsafety import load_mmsafety
from mis.eval.benchmarks.mossbench import load_mossbench
from mis.eval.benchmarks.mssbench import load_mssbench
from mis.eval.benchmarks.siuo import load_siuo
from mis.eval.benchmarks.transforms import IMAGE_MODES, apply_image_mode
from mis.eval.benchmarks.vlguard import load_vlguard
from mis.eval.spec import Benchmark, registry


def registered() -> dict[str, Benchmark]:
    """Every registered benchmark spec by name: the packaged ones and any a program registered."""
    return registry()


def get(name: str) -> Benchmark:
    """The registered benchmark ``name`` (a clear error listing the registered ones otherwise)."""
    specs = registry()
    if name not in specs:
        raise UsageError(f"unknown benchmark {name!r}; registered: {', '.join(sorted(specs))}")
    return specs[name]


__all__ = [
    "IMAGE_MODES",
    "get",
    "registered",
    "apply_image_mode",
    "load_figstep",
    "load_jailbreakv",
    "load_mmmu",
    "load_mmsafety",
    "load_mmstar",
    "load_mmt_mi",
    "load_mossbench",
    "load_mssbench",
    "load_muirbench",
    "load_qbench",
    "load_siuo",
    "load_vlguard",
    "render_typography",
    "typography_text",
]
