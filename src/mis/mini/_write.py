"""Render planned MIS-mini items and write them in the MIS layout (via ``mis.data.write_mis_layout``).

Used for what `mis build` does not make by design (it keeps only harmful questions): the ``benign`` and
``white`` controls and the ``general`` set.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mis.data import Sample, write_mis_layout
from mis.mini._dataset import MiniItem
from mis.mini._render import render_object, white_image
from mis.mini._world import World, load_world

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["item_sample", "render_item", "write_items"]


def render_item(item: MiniItem, image_size: int, world: World | None = None) -> list[Image]:
    """The two PIL images of ``item`` (white ones for the white-image control)."""
    world = world or load_world()
    if item.white:
        return [white_image(image_size), white_image(image_size)]
    a, b = item.objects(world)
    return [render_object(a, size=image_size, seed=item.image_seeds[0], world=world),
            render_object(b, size=image_size, seed=item.image_seeds[1], world=world)]


def item_sample(item: MiniItem, images: list[str], world: World | None = None, *, split: str | None = None,
                root: Path | None = None) -> Sample:
    """The ``Sample`` of a planned item: question, target, category and ground truth in metadata."""
    world = world or load_world()
    category, sub_category = item.category(world)
    return Sample(id=item.id, split=split or item.split, question=item.question(world), images=images,
                  category=category, sub_category=sub_category, target=item.target(world),
                  metadata={"mini": item.truth(world)}, root=root)


def _samples(items: Iterable[MiniItem], staging: Path, image_size: int, world: World,
             split: str | None) -> Iterator[Sample]:
    for item in items:
        paths = []
        for k, img in enumerate(render_item(item, image_size, world), start=1):
            path = staging / f"{item.split}-{item.id}-{k}.png"
            img.save(path, format="PNG")
            paths.append(str(path))
        yield item_sample(item, paths, world, split=split)


def write_items(items: list[MiniItem], out: Path, *, image_size: int = 64, split: str | None = None,
                overwrite: bool = False) -> Path:
    """Render ``items`` and write them in the MIS layout at ``out`` (``split`` renames their split)."""
    world = load_world()
    with tempfile.TemporaryDirectory(prefix="mis-mini-") as tmp:
        write_mis_layout(_samples(items, Path(tmp), image_size, world, split), Path(out), overwrite=overwrite)
    return Path(out)
