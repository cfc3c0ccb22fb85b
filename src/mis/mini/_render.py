"""Procedural renderer: draws a MIS-mini object as a small icon image with random jitter.

Each image is a pure function of (object, size, seed): the same seed gives the same pixels, so a
dataset is reproducible and a rerun of the build rewrites identical files.
"""

from __future__ import annotations

import math
import random
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mis.mini._world import MiniObject, World, load_world

__all__ = ["render_object", "white_image"]

_SUPERSAMPLE = 2  # draw at twice the size, then downscale: smooth edges at 64 px


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    if factor < 1:
        return tuple(int(c * factor) for c in rgb)  # type: ignore[return-value]
    return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)  # type: ignore[return-value]


def _colour(world: World, obj: MiniObject, name: str) -> tuple[int, int, int]:
    base = world.palette[obj.color]
    if name == "fill":
        return base
    if name == "dark":
        return _shade(base, 0.55)
    if name == "light":
        return _shade(base, 1.6)
    return world.palette[name]


def _draw_primitive(
    draw: ImageDraw.ImageDraw, prim: list[Any], colour: tuple[int, int, int], s: float
) -> None:
    """Draw one primitive from world.yaml (coordinates 0..100) scaled by ``s`` pixels per unit."""
    kind, args = prim[0], [float(a) for a in prim[1]]
    if kind == "poly":
        draw.polygon([(args[i] * s, args[i + 1] * s) for i in range(0, len(args), 2)], fill=colour)
    elif kind == "rect":
        draw.rectangle([a * s for a in args], fill=colour)
    elif kind == "ellipse":
        draw.ellipse([a * s for a in args], fill=colour)
    elif kind == "ring":
        draw.ellipse([a * s for a in args[:4]], outline=colour, width=max(1, int(args[4] * s)))
    elif kind == "line":
        pts = [(args[i] * s, args[i + 1] * s) for i in range(0, len(args) - 1, 2)]
        draw.line(pts, fill=colour, width=max(1, int(args[-1] * s)), joint="curve")
    elif kind == "star":
        cx, cy, r_out, r_in, n = args
        pts = []
        for k in range(int(n) * 2):
            r = r_out if k % 2 == 0 else r_in
            ang = math.pi * k / n
            pts.append(((cx + r * math.cos(ang)) * s, (cy + r * math.sin(ang)) * s))
        draw.polygon(pts, fill=colour)
    elif kind == "pie":
        draw.pieslice([a * s for a in args[:4]], args[4], args[5], fill=colour)
    else:
        raise ValueError(f"world.yaml: unknown primitive kind {kind!r}")


_ICONS: dict[tuple[int, str, int], Image.Image] = {}


def _icon(world: World, obj: MiniObject, px: int) -> Image.Image:
    """The object's icon (cached per world, object and size: drawing is the slow part)."""
    key = (id(world), obj.name, px)
    if key not in _ICONS:
        _ICONS[key] = _draw_icon(world, obj, px)
    return _ICONS[key]


def _draw_icon(world: World, obj: MiniObject, px: int) -> Image.Image:
    """The object's icon on a transparent canvas of ``px`` pixels (before jitter)."""
    icon = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    s = px / 100.0
    for prim in world.shapes[obj.shape]:
        _draw_primitive(draw, prim, _colour(world, obj, prim[2]), s)
    if obj.texture is not None:
        tex = Image.new("RGBA", (px, px), (0, 0, 0, 0))
        tdraw = ImageDraw.Draw(tex)
        dark = (*_colour(world, obj, "dark"), 255)
        step = max(2, px // 8)
        if obj.texture == "stripes":
            for x in range(-px, px, step):
                tdraw.line([(x, px), (x + px, 0)], fill=dark, width=max(1, step // 3))
        else:  # dots
            for x in range(step // 2, px, step):
                for y in range(step // 2, px, step):
                    r = max(1, step // 5)
                    tdraw.ellipse([x - r, y - r, x + r, y + r], fill=dark)
        alpha = icon.getchannel("A")
        icon.alpha_composite(Image.composite(tex, Image.new("RGBA", (px, px)), alpha))
    if obj.glyph is not None:
        font = ImageFont.load_default(size=int(px * 0.3))
        ImageDraw.Draw(icon).text((px * 0.5, px * 0.62), obj.glyph, fill=(20, 20, 20, 255), font=font,
                                  anchor="mm")
    return icon


def render_object(
    obj: MiniObject | str, *, size: int = 64, seed: int = 0, world: World | None = None
) -> Image.Image:
    """An RGB image of ``obj`` with jitter in position, scale, rotation and background tint.

    The background is a light, slightly noisy tint, never pure white, so the white-image control is
    distinct from every object image.
    """
    world = world or load_world()
    if isinstance(obj, str):
        obj = world.obj(obj)
    rng = random.Random(f"{obj.name}/{size}/{seed}")
    big = size * _SUPERSAMPLE
    bg = tuple(rng.randint(200, 240) for _ in range(3))
    canvas = Image.new("RGB", (big, big), bg)  # type: ignore[arg-type]
    scale = rng.uniform(0.70, 0.92)
    icon = _icon(world, obj, big).resize((int(big * scale),) * 2, Image.Resampling.BILINEAR)
    icon = icon.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR, expand=False)
    slack = big - icon.width
    x = int(slack / 2 + rng.uniform(-0.4, 0.4) * slack)
    y = int(slack / 2 + rng.uniform(-0.4, 0.4) * slack)
    canvas.paste(icon, (x, y), icon)
    img = canvas.resize((size, size), Image.Resampling.BOX)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.2, 0.6)))
    return img


def white_image(size: int = 64) -> Image.Image:
    """The white-image control: pure white (255), which image processors normalise to a non-zero value."""
    return Image.new("RGB", (size, size), (255, 255, 255))
