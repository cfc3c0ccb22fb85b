"""The offline backends of `mis build` come from the one offline world, :mod:`mis.mini`.

``offline`` / ``offline/template`` / ``offline/exact`` (step models) and ``t2i.backend: offline`` resolve
to these classes in :mod:`mis.build._backends`; ``world: PATH`` in a build config swaps in another
world file in the format of ``mis/mini/world.yaml``. Kept here so ``mis.build`` exports them as before.
"""

from __future__ import annotations

from mis.mini._offline import OBJECT_KEY, ExactChecker, ProceduralRenderer, TemplateGenerator, image_object
from mis.mini._world import World as OfflineWorld
from mis.mini._world import load_world

__all__ = [
    "OBJECT_KEY", "ExactChecker", "OfflineWorld", "ProceduralRenderer", "TemplateGenerator", "image_object",
    "load_world",
]
