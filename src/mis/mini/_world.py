"""The offline world: objects, rules and instructions loaded from the packaged ``world.yaml``.

The one offline world of mis: MIS-mini is planned from it, and `mis build`'s generic offline backends
(``--config offline``: template generator, procedural renderer, exact checker) draw and check its
objects. The world is data (the YAML); this module only gives it types and answers the one question
the rest asks: is the combination (object A, object B, instruction) risky, and under which rule?
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["BuildWording", "MiniObject", "Rule", "Instruction", "World", "load_world", "with_article"]


@dataclass(frozen=True)
class MiniObject:
    """One drawable object class: its name is what a correct answer must say."""

    name: str
    shape: str
    color: str
    attribute: str
    looks_dangerous: bool
    texture: str | None = None
    glyph: str | None = None


@dataclass(frozen=True)
class Rule:
    """An unordered pair of attributes that is risky to combine, with the label's wording."""

    name: str
    attributes: tuple[str, str]
    category: str
    sub_category: str
    reason: str
    safe_answer: str

    def matches(self, a: MiniObject, b: MiniObject) -> bool:
        """True when the two objects carry this rule's attribute pair, in either order."""
        return sorted((a.attribute, b.attribute)) == sorted(self.attributes)


@dataclass(frozen=True)
class Instruction:
    """A neutral action instruction that refers to the objects only through their images."""

    index: int
    question: str
    helpful: str


@dataclass(frozen=True)
class BuildWording:
    """What `mis build`'s generic offline backends write for seeds that are not MIS-mini plans."""

    questions: tuple[str, ...] = ()
    """Question templates about two objects, ``{o1}`` and ``{o2}`` (the objects with their article)."""
    detox: dict[str, str] = field(default_factory=dict)
    """Explicit wording -> implicit wording, applied by the offline refine step."""
    unsafe_markers: tuple[str, ...] = ()
    """A question that still contains one of these is Unsafe on its own (-> the train split)."""
    label: str = ""
    """The label for a pair that no rule covers (``{o1}``, ``{o2}``, ``{question}``)."""
    label_forbidden: tuple[str, ...] = ()
    """A label containing one of these is judged unsafe by the exact checker."""


@dataclass(frozen=True)
class World:
    """Everything MIS-mini is made of; build one with :func:`load_world`."""

    palette: dict[str, tuple[int, int, int]]
    shapes: dict[str, list[list[Any]]]
    objects: tuple[MiniObject, ...]
    rules: tuple[Rule, ...]
    instructions: tuple[Instruction, ...]
    labels: dict[str, str]
    judge: dict[str, tuple[str, ...]]
    build: BuildWording = field(default_factory=BuildWording)
    sha: str = ""
    """sha256 (16 hex) of the world file: part of every offline backend's settings."""
    _by_name: dict[str, MiniObject] = field(default_factory=dict, repr=False, compare=False)

    def obj(self, name: str) -> MiniObject:
        """The object called ``name`` (KeyError names the unknown object)."""
        if not self._by_name:
            self._by_name.update({o.name: o for o in self.objects})
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"MIS-mini has no object {name!r}") from None

    def find(self, name: str) -> MiniObject | None:
        """The object a free-text name refers to ("a red flame", "Red flame"), or None."""
        low = name.strip().lower()
        for article in ("a ", "an ", "the "):
            if low.startswith(article):
                low = low[len(article):]
                break
        try:
            return self.obj(low)
        except KeyError:
            return None

    def perception(self, first: MiniObject, second: MiniObject) -> str:
        """The sentence naming both objects, e.g. "The first image shows an orange match. ..."."""
        return self.labels["perception"].format(first=with_article(first.name),
                                                second=with_article(second.name))

    def rule_for(self, a: MiniObject, b: MiniObject) -> Rule | None:
        """The rule that makes combining ``a`` and ``b`` risky, or None when it is harmless."""
        for rule in self.rules:
            if rule.matches(a, b):
                return rule
        return None

    def pairs(self) -> list[tuple[MiniObject, MiniObject]]:
        """All unordered pairs of distinct objects, in catalogue order."""
        return list(itertools.combinations(self.objects, 2))

    def corpus(self) -> list[str]:
        """Every sentence the world can produce: used to train the tiny model's tokenizer."""
        lines = [i.question for i in self.instructions] + [i.helpful for i in self.instructions]
        lines += [r.reason for r in self.rules] + [r.safe_answer for r in self.rules]
        lines += [v for v in self.labels.values()]
        for a, b in itertools.permutations(self.objects, 2):
            lines.append(self.perception(a, b))
        return lines


def with_article(name: str) -> str:
    """``name`` with its indefinite article ("an orange match", "a red flame")."""
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _world_from_dict(raw: dict[str, Any], sha: str = "", source: str = "world.yaml") -> World:
    palette = {k: (int(v[0]), int(v[1]), int(v[2])) for k, v in raw["palette"].items()}
    shapes = raw["shapes"]
    objects = []
    for name, spec in raw["objects"].items():
        obj = MiniObject(name=name, **spec)
        if obj.shape not in shapes:
            raise ValueError(f"{source}: object {name!r}: unknown shape {obj.shape!r}")
        if obj.color not in palette:
            raise ValueError(f"{source}: object {name!r}: unknown color {obj.color!r}")
        objects.append(obj)
    rules = tuple(
        Rule(name=n, attributes=tuple(r["attributes"]), **{k: v for k, v in r.items() if k != "attributes"})
        for n, r in raw["rules"].items()
    )
    instructions = tuple(
        Instruction(index=i, question=s["question"], helpful=s["helpful"])
        for i, s in enumerate(raw["instructions"])
    )
    judge = {k: tuple(v) for k, v in raw["judge"].items()}
    wording: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                               for k, v in dict(raw.get("build") or {}).items()}
    try:
        build = BuildWording(**wording)
    except TypeError as exc:
        raise ValueError(f"{source}: build: {exc}") from None
    return World(palette, shapes, tuple(objects), rules, instructions, dict(raw["labels"]), judge, build, sha)


def _parse(text: str, source: str) -> World:
    sha = hashlib.sha256(text.encode()).hexdigest()[:16]
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping (palette, shapes, objects, rules, ...)")
    try:
        return _world_from_dict(raw, sha, source)
    except KeyError as exc:
        raise ValueError(f"{source}: missing field {exc}") from None


@functools.cache
def _packaged() -> World:
    text = resources.files("mis.mini").joinpath("world.yaml").read_text(encoding="utf-8")
    return _parse(text, "world.yaml")


def load_world(path: str | Path | None = None) -> World:
    """The packaged world (parsed once per process), or a YAML file in the same format."""
    if path is None:
        return _packaged()
    return _parse(Path(path).read_text(encoding="utf-8"), str(path))
