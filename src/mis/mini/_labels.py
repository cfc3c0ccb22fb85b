"""Training targets for MIS-mini: the safety chain of thought, helpful answers, captions, refusals.

The safety CoT has the paper's three parts in one short paragraph: what each image shows, why the
combination is risky, and a safe, still helpful answer. Benign combinations get the same perception
sentence, a harmless verdict and a helpful answer, so a model cannot tell harmful from benign by the
first words of its answer.
"""

from __future__ import annotations

from mis.mini._world import Instruction, MiniObject, Rule, World, load_world

__all__ = ["safety_cot", "helpful_answer", "caption", "refusal", "target_for"]


def _perception(world: World, first: MiniObject, second: MiniObject) -> str:
    return world.perception(first, second)


def safety_cot(first: MiniObject, second: MiniObject, rule: Rule, *, world: World | None = None) -> str:
    """Perception of both images, the rule's generic risk sentence, and a safe helpful answer."""
    world = world or load_world()
    return f"{_perception(world, first, second)} {rule.reason} {rule.safe_answer}"


def helpful_answer(
    first: MiniObject, second: MiniObject, instruction: Instruction, *, world: World | None = None
) -> str:
    """Perception, a harmless verdict and the instruction's helpful answer (benign combinations)."""
    world = world or load_world()
    return f"{_perception(world, first, second)} {world.labels['harmless']} {instruction.helpful}"


def caption(first: MiniObject, second: MiniObject, *, world: World | None = None) -> str:
    """Just the perception sentence: the target of the general (captioning) stage."""
    return _perception(world or load_world(), first, second)


def refusal(*, world: World | None = None) -> str:
    """The refusal-only label (VLGuard-P style) for harmful samples."""
    return (world or load_world()).labels["refusal"]


def target_for(
    first: MiniObject, second: MiniObject, instruction: Instruction, *, world: World | None = None
) -> str:
    """The MIRage target for any combination: safety CoT when a rule applies, else helpful."""
    world = world or load_world()
    rule = world.rule_for(first, second)
    if rule is not None:
        return safety_cot(first, second, rule, world=world)
    return helpful_answer(first, second, instruction, world=world)
