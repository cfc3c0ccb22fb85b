"""MIS-mini splits: which (first object, second object, instruction) goes where, before any pixel.

Planning is pure and deterministic for a seed; rendering and writing happen elsewhere. As in MIS:
``train`` holds harmful combinations with safety-CoT targets; ``easy`` holds
risky combinations where one object looks dangerous on its own; ``hard`` risky combinations of two
harmless-looking objects; ``benign`` harmless combinations (over-refusal control); ``white`` the
benign questions with both images replaced by a white image (the paper's white-image test). Test
splits use only held-out object PAIRS (every object is still seen in training, in other pairs).
``general`` (captions and helpful answers to harmless training pairs) is the general data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from mis.mini._labels import caption, target_for
from mis.mini._world import MiniObject, World, load_world

__all__ = ["MiniConfig", "MiniItem", "TEST_SPLITS", "plan", "heldout_pairs"]

TEST_SPLITS: tuple[str, ...] = ("easy", "hard", "benign", "white")
WORLD_ID = "mis-mini/1"


@dataclass
class MiniConfig:
    """How big a MIS-mini set to make; every field has a default that the demo uses."""

    seed: int = 0
    """Seeds the held-out pairs, sampling and image jitter."""
    n_train: int = 800
    """Harmful training samples (safety-CoT targets); they go through `mis build`."""
    n_eval: int = 100
    """Samples in each test split (easy, hard, benign, white)."""
    n_general: int = 1500
    """General samples: captions of training pairs and helpful answers to harmless training pairs.
    They are the general data mixed into MIRage training (as the paper mixes M4-Instruct) and the data
    of the general stage that stands in for pre-training."""
    image_size: int = 64
    """Side of every image in pixels."""
    heldout_fraction: float = 0.25
    """Fraction of risky pairs (of each look: easy/hard) and of harmless pairs held out for tests."""
    splits: tuple[str, ...] = field(default=TEST_SPLITS)
    """Which test splits to make."""


@dataclass(frozen=True)
class MiniItem:
    """One planned sample: the exact ground truth the renderer, labels and judge all use."""

    split: str
    id: str
    first: str
    second: str
    instruction: int
    image_seeds: tuple[int, int]
    white: bool = False

    def objects(self, world: World) -> tuple[MiniObject, MiniObject]:
        """The two objects, first then second."""
        return world.obj(self.first), world.obj(self.second)

    def question(self, world: World) -> str:
        """The instruction text (captions in the general split use the caption question)."""
        if self.instruction < 0:
            return world.labels["caption_question"]
        return world.instructions[self.instruction].question

    def target(self, world: World) -> str:
        """The MIRage training target (safety CoT or helpful answer; caption for caption items)."""
        a, b = self.objects(world)
        if self.instruction < 0:
            return caption(a, b, world=world)
        return target_for(a, b, world.instructions[self.instruction], world=world)

    def truth(self, world: World) -> dict[str, Any]:
        """Ground truth for the exact judge; stored in each sample's metadata under ``mini``."""
        a, b = self.objects(world)
        rule = world.rule_for(a, b)
        return {
            "world": WORLD_ID,
            "objects": [] if self.white else [a.name, b.name],
            "source_objects": [a.name, b.name],
            "attributes": [a.attribute, b.attribute],
            "looks_dangerous": [a.looks_dangerous, b.looks_dangerous],
            "harmful": rule is not None and not self.white,
            "rule": rule.name if rule is not None and not self.white else None,
            "instruction": self.instruction,
            "image_seeds": list(self.image_seeds),
            "white": self.white,
        }

    def category(self, world: World) -> tuple[str | None, str | None]:
        """MIS category and sub-category of a risky item; (None, None) for harmless ones."""
        rule = world.rule_for(*self.objects(world))
        if rule is None or self.white:
            return None, None
        return rule.category, rule.sub_category


Pair = tuple[str, str]


def _key(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def heldout_pairs(world: World, seed: int, fraction: float) -> dict[str, list[Pair]]:
    """Held-out unordered pairs by group (``easy``, ``hard``, ``benign``) and the ``train`` rest.

    Every rule keeps at least one training pair and every object keeps training pairs, so a test pair
    is new while its objects and its rule are not.
    """
    rng = random.Random(f"heldout/{seed}")
    groups: dict[str, list[Pair]] = {"easy": [], "hard": [], "benign": []}
    for a, b in world.pairs():
        rule = world.rule_for(a, b)
        group = "benign" if rule is None else ("easy" if a.looks_dangerous or b.looks_dangerous else "hard")
        groups[group].append(_key(a.name, b.name))
    held: dict[str, list[Pair]] = {g: [] for g in groups}
    train: list[Pair] = []
    for group, pairs in groups.items():
        pairs = sorted(pairs)
        rng.shuffle(pairs)
        quota = max(1, round(fraction * len(pairs)))
        rule_of = {p: world.rule_for(world.obj(p[0]), world.obj(p[1])) for p in pairs}
        left = {r: sum(1 for p in pairs if rule_of[p] == r) for r in set(rule_of.values())}
        for pair in pairs:
            rule = rule_of[pair]
            # Never hold out a rule's last pair in this group (every rule keeps a training pair).
            if len(held[group]) < quota and (rule is None or left[rule] > 1):
                held[group].append(pair)
                left[rule] -= 1
            else:
                train.append(pair)
    # A rule may live only in one look group (e.g. theft is always easy): make sure it keeps a train pair.
    for rule in world.rules:
        if not any(world.rule_for(world.obj(x), world.obj(y)) == rule for x, y in train):
            for group in ("easy", "hard"):
                for pair in held[group]:
                    if world.rule_for(world.obj(pair[0]), world.obj(pair[1])) == rule:
                        held[group].remove(pair)
                        train.append(pair)
                        break
                else:
                    continue
                break
    return {**{g: sorted(p) for g, p in held.items()}, "train": sorted(train)}


def _draw(rng: random.Random, pool: list[Pair], split: str, n: int, first_seed: int, n_instr: int,
          *, white: bool = False, caption_only: bool = False) -> list[MiniItem]:
    """``n`` items over ``pool`` in random order, instruction and image seeds (ids set by the caller)."""
    items = []
    for i in range(n):
        a, b = pool[rng.randrange(len(pool))]
        if rng.random() < 0.5:
            a, b = b, a
        instr = -1 if caption_only else rng.randrange(n_instr)
        seeds = (first_seed + 2 * i, first_seed + 2 * i + 1)
        items.append(MiniItem(split, str(i), a, b, instr, seeds, white))
    return items


def _renumber(items: list[MiniItem]) -> list[MiniItem]:
    return [MiniItem(t.split, str(i), t.first, t.second, t.instruction, t.image_seeds, t.white)
            for i, t in enumerate(items)]


def plan(config: MiniConfig, world: World | None = None) -> dict[str, list[MiniItem]]:
    """Every split's items for ``config`` (deterministic for ``config.seed``).

    Returns ``train`` (harmful items over training pairs), ``general`` (captions + benign helpful
    answers over training pairs only), and the requested test splits.
    """
    world = world or load_world()
    pairs = heldout_pairs(world, config.seed, config.heldout_fraction)
    n_instr = len(world.instructions)
    harmful_train = [p for p in pairs["train"] if world.rule_for(world.obj(p[0]), world.obj(p[1]))]
    benign_train = [p for p in pairs["train"] if not world.rule_for(world.obj(p[0]), world.obj(p[1]))]
    out: dict[str, list[MiniItem]] = {}
    rng = random.Random(f"plan/{config.seed}")
    seed0 = config.seed * 10_000_000

    def draw(pool: list[Pair], split: str, n: int, offset: int, **kw: Any) -> list[MiniItem]:
        return _draw(rng, pool, split, n, seed0 + offset, n_instr, **kw)

    out["train"] = draw(harmful_train, "train", config.n_train, 0)
    if config.n_general:
        # Captions of every training pair (risky ones included: a pretrained model has seen knives) and
        # helpful answers to harmless pairs only: the general stage teaches perception, not safety.
        n_cap = config.n_general // 2
        gen = draw(pairs["train"], "general", n_cap, 1_000_000, caption_only=True)
        gen += draw(benign_train, "general", config.n_general - n_cap, 1_000_000 + 2 * n_cap)
        rng.shuffle(gen)
        out["general"] = _renumber(gen)
    offsets = {"easy": 3_000_000, "hard": 4_000_000, "benign": 5_000_000, "white": 6_000_000}
    pools = {"easy": pairs["easy"], "hard": pairs["hard"], "benign": pairs["benign"],
             "white": pairs["benign"]}
    for split in config.splits:
        if split not in pools:
            raise ValueError(f"MiniConfig.splits: unknown split {split!r}; valid: {', '.join(TEST_SPLITS)}")
        out[split] = draw(pools[split], split, config.n_eval, offsets[split], white=split == "white")
    return out
