"""Render planned MIS-mini items and write them in the MIS layout (via ``mis.data.write_mis_layout``)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mis.data import Sample, write_mis_layout
from mis.mini._dataset import MiniConfig, MiniItem, plan
from mis.mini._render import render_object, white_image
from mis.mini._world import World, load_world

__all__ = ["item_sample", "render_item", "write_mini"]

logger = logging.getLogger(__name__)


def render_item(item: MiniItem, image_size: int, world: World | None = None) -> list:
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


def write_mini(config: MiniConfig, out: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write MIS-mini for ``config`` under ``out`` and return the dataset folders.

    ``out/mis_mini`` holds ``train`` and the test splits; ``out/general`` holds the general stage
    (captions + benign helpful answers) as its own ``train`` split, so ``mis train`` reads either.
    """
    world = load_world()
    planned = plan(config, world)
    folders = {"mis_mini": Path(out) / "mis_mini"}
    with tempfile.TemporaryDirectory(prefix="mis-mini-") as tmp:
        staging = Path(tmp)
        main = [it for split, items in planned.items() if split != "general" for it in items]
        write_mis_layout(_samples(main, staging, config.image_size, world, None), folders["mis_mini"],
                         overwrite=overwrite)
        if planned.get("general"):
            folders["general"] = Path(out) / "general"
            write_mis_layout(_samples(planned["general"], staging, config.image_size, world, "train"),
                             folders["general"], overwrite=overwrite)
    logger.info("MIS-mini written: %s", {k: len(v) for k, v in planned.items()})
    return folders
