"""MIS-mini: a procedurally rendered multi-image safety world with exact ground truth.

Small enough to build, train on and evaluate on a CPU in minutes (``mis demo``), through the same
code paths as the real pipeline. Its exact judge ``exact/mis-mini`` is installed through the
``mis.exact_judges`` entry point (pyproject.toml), the plug-in path any third-party judge uses.
"""

from mis.mini._build import MiniRenderer, MiniWorldBackend, build_mini
from mis.mini._dataset import TEST_SPLITS, MiniConfig, MiniItem, heldout_pairs, plan
from mis.mini._demo import DemoConfig, demo_table, run_demo
from mis.mini._judge import JUDGE_NAME, judge_mis_mini
from mis.mini._labels import caption, helpful_answer, refusal, safety_cot, target_for
from mis.mini._render import render_object, white_image
from mis.mini._stages import DemoEvent, choose_threads
from mis.mini._world import Instruction, MiniObject, Rule, World, load_world, with_article
from mis.mini._write import item_sample, render_item, write_items

__all__ = [
    "JUDGE_NAME",
    "TEST_SPLITS",
    "DemoConfig",
    "DemoEvent",
    "Instruction",
    "MiniConfig",
    "MiniItem",
    "MiniObject",
    "MiniRenderer",
    "MiniWorldBackend",
    "Rule",
    "World",
    "build_mini",
    "caption",
    "choose_threads",
    "demo_table",
    "heldout_pairs",
    "helpful_answer",
    "item_sample",
    "judge_mis_mini",
    "load_world",
    "plan",
    "refusal",
    "render_item",
    "render_object",
    "run_demo",
    "safety_cot",
    "target_for",
    "white_image",
    "with_article",
    "write_items",
]
