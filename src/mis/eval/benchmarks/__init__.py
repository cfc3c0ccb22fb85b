"""The paper's other benchmarks: safety attacks, over-refusal and general ability (MIS.md sec. 7).

Loaders read each benchmark's published layout into :class:`mis.data.Sample` records; tasks (in
:mod:`mis.eval.benchmarks.tasks`, registered with inspect) pair them with each benchmark's judge
protocol (:mod:`mis.eval.benchmarks.scorers`); :func:`run_suite` runs a named suite for one model
and writes ``OUT/<benchmark>/results.json`` + ``samples.jsonl``. Importing this package does not
import inspect_ai or torch.
"""

from mis.eval.benchmarks._common import BenchmarkDataError
from mis.eval.benchmarks.figstep import load_figstep, render_typography, typography_text
from mis.eval.benchmarks.general import load_mmmu, load_mmstar, load_mmt_mi, load_muirbench, load_qbench
from mis.eval.benchmarks.jailbreakv import load_jailbreakv
from mis.eval.benchmarks.judges import (
    is_refusal,
    llama_guard_prompt,
    parse_llama_guard,
    parse_mossbench,
    parse_mssbench,
    parse_siuo,
)
from mis.eval.benchmarks.mcq import extract_letter, mcq_prompt
from mis.eval.benchmarks.mmsafety import load_mmsafety
from mis.eval.benchmarks.mossbench import load_mossbench
from mis.eval.benchmarks.mssbench import load_mssbench
from mis.eval.benchmarks.siuo import load_siuo
from mis.eval.benchmarks.suite import SUITES, SuiteConfig, run_benchmarks, run_suite
from mis.eval.benchmarks.transforms import IMAGE_MODES, apply_image_mode, white_image
from mis.eval.benchmarks.vlguard import load_vlguard

__all__ = [
    "IMAGE_MODES",
    "SUITES",
    "BenchmarkDataError",
    "SuiteConfig",
    "apply_image_mode",
    "extract_letter",
    "is_refusal",
    "llama_guard_prompt",
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
    "mcq_prompt",
    "parse_llama_guard",
    "parse_mossbench",
    "parse_mssbench",
    "parse_siuo",
    "render_typography",
    "run_benchmarks",
    "run_suite",
    "typography_text",
    "white_image",
]
