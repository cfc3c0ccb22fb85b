"""The offline backends of `mis build` come from the one offline world, :mod:`mis.mini`.

``offline`` / ``offline/template`` / ``offline/exact`` (step models) and ``t2i.backend: offline`` resolve
to the classes of ``mis.mini._offline`` through the same ``package.module:name`` plug-in path as any
other backend (:mod:`mis.build._backends`), so no module of mis.build imports mis.mini (mis.mini runs
`mis build`, and the dependency goes that way). ``world: PATH`` in a build config swaps in another world
file in the format of ``mis/mini/world.yaml``. The names below stay importable from here (and from
``mis.build``) for existing code; they are looked up on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each offline name lives (``package.module:attribute``).
PLUGINS = {
    "ExactChecker": "mis.mini._offline:ExactChecker",
    "ProceduralRenderer": "mis.mini._offline:ProceduralRenderer",
    "TemplateGenerator": "mis.mini._offline:TemplateGenerator",
    "OBJECT_KEY": "mis.mini._offline:OBJECT_KEY",
    "image_object": "mis.mini._offline:image_object",
    "OfflineWorld": "mis.mini._world:World",
    "load_world": "mis.mini._world:load_world",
}

__all__ = sorted(PLUGINS)


def plugin(name: str) -> Any:
    """The object ``PLUGINS[name]`` names."""
    module, _, attr = PLUGINS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def __getattr__(name: str) -> Any:
    if name in PLUGINS:
        return plugin(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
