"""The benchmarks, one spec per file: MIS and the paper's other benchmarks, and later ones.

Besides the paper's safety, over-refusal and general benchmarks: the cross-modal / multi-image safety
sets published after it (HoliSafe, VLSBench, MIR-SafetyBench).

Importing this package registers every spec with :mod:`mis.eval.spec` (MIS.md sec. 7 for the paper's list).
Each file reads its benchmark's published layout into :class:`mis.data.Sample` records and says how to judge
and summarise them; nothing here imports torch.
"""

import logging
from importlib.metadata import entry_points

from mis.errors import UsageError
from mis.eval.benchmarks import (  # noqa: F401  (each module registers its spec)
    figstep,
    general,
    holisafe,
    jailbreakv,
    mir_safetybench,
    mis,
    mmsafety,
    mossbench,
    mssbench,
    siuo,
    vlguard,
    vlsbench,
    white_image,
)
from mis.eval.benchmarks.figstep import load_figstep, render_typography, typography_text
from mis.eval.benchmarks.general import load_mmmu, load_mmstar, load_mmt_mi, load_muirbench, load_qbench
from mis.eval.benchmarks.holisafe import load_holisafe
from mis.eval.benchmarks.jailbreakv import load_jailbreakv
from mis.eval.benchmarks.mir_safetybench import load_mir_safetybench
from mis.eval.benchmarks.mmsafety import load_mmsafety
from mis.eval.benchmarks.mossbench import load_mossbench
from mis.eval.benchmarks.mssbench import load_mssbench
from mis.eval.benchmarks.siuo import load_siuo
from mis.eval.benchmarks.transforms import IMAGE_MODES, apply_image_mode
from mis.eval.benchmarks.vlguard import load_vlguard
from mis.eval.benchmarks.vlsbench import load_vlsbench
from mis.eval.spec import Benchmark, register, registry

logger = logging.getLogger(__name__)

#: Entry-point group of third-party benchmarks: each entry point names a :class:`Benchmark` (or a module
#: that registers one when imported), so `mis bench run --only NAME` finds it without mis knowing it.
ENTRY_POINT_GROUP = "mis.benchmarks"
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plug-in must not hide the others; it is named
            logger.warning("benchmark plug-in %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if isinstance(obj, Benchmark) and obj.name not in registry():
            register(obj)


def registered() -> dict[str, Benchmark]:
    """Every registered benchmark spec by name: the packaged ones, installed plug-ins, any a program added."""
    _load_plugins()
    return registry()


def get(name: str) -> Benchmark:
    """The registered benchmark ``name`` (a clear error listing the registered ones otherwise)."""
    specs = registered()
    if name not in specs:
        raise UsageError(f"unknown benchmark {name!r}; registered: {', '.join(sorted(specs))}")
    return specs[name]


__all__ = [
    "IMAGE_MODES",
    "get",
    "registered",
    "apply_image_mode",
    "load_figstep",
    "load_holisafe",
    "load_jailbreakv",
    "load_mir_safetybench",
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
    "load_vlsbench",
    "render_typography",
    "typography_text",
]
