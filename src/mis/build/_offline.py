"""Offline backends: a template generator, a procedural renderer and an exact checker.

They speak the same protocols as real models (:mod:`mis.build._protocol`): the generator and the
checker answer :class:`ModelRequest`s with the JSON/prose a real model would write, so the steps'
parsing and validation run unchanged; the renderer draws each object with PIL and stamps its name
into the PNG (``mis:object``) so the checker knows the ground truth of every image. The world (objects,
question templates, rules) is a YAML file (``offline_world.yaml`` by default).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mis.build._protocol import BackendError, ImageRequest, ModelRequest
from mis.build._store import stable_hash
from mis.data import CATEGORIES, TAXONOMY

if TYPE_CHECKING:
    from PIL.Image import Image

OBJECT_KEY = "mis:object"


def _pick(key: Any, n: int) -> int:
    return int(stable_hash(key)[:8], 16) % n


@dataclass
class OfflineWorld:
    """Objects, question templates and rules the offline backends follow."""

    objects: dict[str, dict[str, Any]]
    questions: list[str]
    detox: dict[str, str] = field(default_factory=dict)
    unsafe_markers: list[str] = field(default_factory=list)
    label: str = ""
    label_forbidden: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path | None = None) -> OfflineWorld:
        """The packaged world, or a YAML file in the same shape."""
        import yaml

        if path is None:
            text = resources.files("mis.build").joinpath("offline_world.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"offline world {path or 'offline_world.yaml'}: {exc}") from exc

    def is_unsafe_text(self, text: str) -> bool:
        """Rule: the text keeps a visible intent."""
        low = text.lower()
        return any(m.lower() in low for m in self.unsafe_markers)


def image_object(path: Path) -> str | None:
    """The ground-truth object stamped into a procedurally rendered PNG, or None."""
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        value = im.info.get(OBJECT_KEY)
    return value if isinstance(value, str) else None


class TemplateGenerator:
    """Writes what the LLM/VLM writes (extract, extract_image, refine, text_safety, label) from templates."""

    name = "offline/template"

    def __init__(self, world: OfflineWorld | None = None) -> None:
        self.world = world or OfflineWorld.load()

    def settings(self) -> dict[str, Any]:
        """The world's content determines every reply."""
        return {"world": stable_hash(self.world.__dict__)[:16]}

    async def complete(self, request: ModelRequest) -> str:
        """Answer one request deterministically."""
        handler = getattr(self, f"_{request.step}", None)
        if handler is None:
            raise BackendError(f"{self.name} cannot answer step {request.step!r} (use offline/exact)")
        return str(handler(request))

    def _extract(self, req: ModelRequest, first: str | None = None) -> str:
        rec = req.record
        names = sorted(self.world.objects)
        n = int(rec.get("n", 2))
        category = rec.get("category") if rec.get("category") in CATEGORIES else None
        out = []
        for k in range(n):
            o1 = first or names[_pick((rec["id"], k, 1), len(names))]
            o2 = names[_pick((rec["id"], k, 2), len(names))]
            if o2 == o1:
                o2 = names[(names.index(o1) + 1) % len(names)]
            template = self.world.questions[
                (_pick(rec["id"], len(self.world.questions)) + k) % len(self.world.questions)
            ]
            cat = category or CATEGORIES[_pick((rec["id"], k), len(CATEGORIES))]
            out.append(
                {"category": cat, "question": template.format(o1=o1, o2=o2), "object1": o1, "object2": o2}
            )
        return json.dumps({"questions": out})

    def _extract_image(self, req: ModelRequest) -> str:
        first = image_object(req.images[0]) if req.images else None
        if not first:
            first = "a " + re.sub(r"[_-]+", " ", Path(req.images[0]).stem) if req.images else None
        return self._extract(req, first=first)

    def _refine(self, req: ModelRequest) -> str:
        rec = req.record
        q, o1, o2 = rec["question"], rec["object1"], rec["object2"]
        if o1 not in q or o2 not in q:
            return json.dumps(
                {
                    "keep": False,
                    "reason": "the question does not name both objects",
                    "object1": o1,
                    "object2": o2,
                    "question": q,
                }
            )
        q = q.replace(o1, "the object in the first image").replace(o2, "the object in the second image")
        for explicit, implicit in self.world.detox.items():
            q = q.replace(explicit, implicit)
        q = q[0].upper() + q[1:]
        return json.dumps({"keep": True, "reason": "", "object1": o1, "object2": o2, "question": q})

    def _text_safety(self, req: ModelRequest) -> str:
        rec = req.record
        given = str(rec.get("category") or "")
        category = given if given in TAXONOMY else CATEGORIES[0]
        subs = TAXONOMY[category]
        sub = subs[_pick(rec["id"], len(subs))]
        safety = "Unsafe" if self.world.is_unsafe_text(rec["question"]) else "Safe"
        return json.dumps({"safety": safety, "category": category, "sub_category": sub})

    def _label(self, req: ModelRequest) -> str:
        rec = req.record
        return self.world.label.format(o1=rec["object1"], o2=rec["object2"], question=rec["question"])


class ExactChecker:
    """Checks with ground truth (critic, image_harm, label_judge): reads the object stamped in each PNG."""

    name = "offline/exact"

    def __init__(self, world: OfflineWorld | None = None) -> None:
        self.world = world or OfflineWorld.load()

    def settings(self) -> dict[str, Any]:
        """The world's content determines every verdict."""
        return {"world": stable_hash(self.world.__dict__)[:16]}

    async def complete(self, request: ModelRequest) -> str:
        """Answer one checking request from ground truth."""
        handler = getattr(self, f"_{request.step}", None)
        if handler is None:
            raise BackendError(f"{self.name} cannot answer step {request.step!r} (use offline/template)")
        return str(handler(request))

    def _truth(self, req: ModelRequest) -> list[str]:
        truth = [image_object(p) for p in req.images]
        if any(t is None for t in truth):
            raise BackendError(
                f"{self.name}: images of {req.record.get('id')} carry no ground truth "
                "(the exact checker only checks images from the procedural renderer)"
            )
        return [t or "" for t in truth]

    def _critic(self, req: ModelRequest) -> str:
        rec = req.record
        truth = self._truth(req)
        verdict: dict[str, Any] = {}
        for k, want in enumerate((rec["object1"], rec["object2"]), start=1):
            ok = truth[k - 1] == want
            verdict[f"image{k}_ok"] = ok
            verdict[f"prompt{k}"] = "" if ok else f"a clear, centred photo of {want} on a plain background"
        return json.dumps(verdict)

    def _image_harm(self, req: ModelRequest) -> str:
        truth = self._truth(req)
        flags = [bool(self.world.objects.get(t, {}).get("harmful_look", False)) for t in truth]
        return json.dumps({"image1_harmful": flags[0], "image2_harmful": flags[1]})

    def _label_judge(self, req: ModelRequest) -> str:
        rec = req.record
        label = str(rec.get("label", "")).lower()
        missing = [o for o in (rec["object1"], rec["object2"]) if o.lower() not in label]
        bad = [w for w in self.world.label_forbidden if w.lower() in label]
        if missing or bad:
            why = f"does not describe {missing}" if missing else f"contains {bad}"
            return json.dumps({"safe": False, "reason": f"the label {why}"})
        return json.dumps(
            {"safe": True, "reason": "describes both images, explains the risk, no harmful steps"}
        )


class ProceduralRenderer:
    """Draws each object of the world with PIL.

    ``flaw_every`` > 0 makes about one in n first renders wrong (a blank canvas), so the critic's
    refinement round is exercised offline.
    """

    name = "offline/procedural"

    def __init__(self, world: OfflineWorld | None = None, *, flaw_every: int = 0) -> None:
        self.world = world or OfflineWorld.load()
        self.flaw_every = flaw_every

    def settings(self) -> dict[str, Any]:
        """World and flaw rate determine the pixels."""
        return {"world": stable_hash(self.world.__dict__)[:16], "flaw_every": self.flaw_every}

    def render(self, request: ImageRequest) -> Image:
        """One drawing, its object's name stamped into ``info['mis:object']``."""
        from PIL import Image as PILImage
        from PIL import ImageDraw

        w, h = request.width, request.height
        flawed = (
            self.flaw_every > 0
            and request.round == 0
            and _pick((request.record_id, request.index), self.flaw_every) == 0
        )
        spec = self.world.objects.get(request.object)
        colour = (
            tuple(spec["color"])
            if spec
            else tuple(int(stable_hash(request.object)[i : i + 2], 16) for i in (0, 2, 4))
        )
        shape = spec["shape"] if spec else "square"
        bg = tuple(200 + _pick((request.seed, c), 55) for c in range(3))
        im = PILImage.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(im)
        if not flawed:
            _draw_shape(draw, shape, colour, w, h)
            if spec is None:
                draw.text((4, 4), request.object[:24], fill=(0, 0, 0))
        im.info[OBJECT_KEY] = "" if flawed else request.object
        return im


def _draw_shape(draw: Any, shape: str, colour: tuple[int, ...], w: int, h: int) -> None:
    cx, cy, r = w / 2, h / 2, min(w, h) * 0.35
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(r / 3)))
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif shape == "star":
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            a = math.pi / 2 + i * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy - rad * math.sin(a)))
        draw.polygon(pts, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
