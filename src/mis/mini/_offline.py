"""`mis build`'s generic offline backends, on the one offline world (``world.yaml``).

A template generator, a procedural renderer and an exact checker that speak the same protocols as real
models (:mod:`mis.build._protocol`), so the steps' prompts, parsing and validation run unchanged, for any
seeds (MIS-mini's own build uses the plan-aware :class:`~mis.mini.MiniWorldBackend` instead). They are
what ``offline``, ``offline/template``, ``offline/exact`` and ``t2i.backend: offline`` name in a build
config. The generator writes questions about two of the world's objects; the renderer draws each with
MIS-mini's icons (any other name gets a plain placeholder) and stamps the name into the PNG
(``mis:object``), so the checker reads the ground truth of every image; a pair that one of the world's
rules covers gets that rule's safety chain of thought as its label.

mis.build is imported inside the methods: mis.build imports this module, so a top-level import would
be a cycle.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mis.mini._labels import safety_cot
from mis.mini._world import World, load_world, with_article

if TYPE_CHECKING:
    from PIL.Image import Image

    from mis.build import ImageRequest, ModelRequest

__all__ = ["OBJECT_KEY", "ExactChecker", "ProceduralRenderer", "TemplateGenerator", "image_object"]

OBJECT_KEY = "mis:object"


def _pick(key: Any, n: int) -> int:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return int(digest[:8], 16) % n


def image_object(path: Path | str) -> str | None:
    """The ground-truth object stamped into a procedurally rendered PNG, or None."""
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        value = im.info.get(OBJECT_KEY)
    return value if isinstance(value, str) else None


def _backend_error(message: str) -> Exception:
    from mis.build import BackendError

    return BackendError(message)


class _Offline:
    """Shared by the generator and the checker: the world, its settings, dispatch by step."""

    name = "offline"
    other = ""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or load_world()

    def settings(self) -> dict[str, Any]:
        """The world file determines every reply."""
        return {"world": self.world.sha}

    async def complete(self, request: ModelRequest) -> str:
        """Answer one request deterministically."""
        handler = getattr(self, f"_{request.step}", None)
        if handler is None:
            raise _backend_error(f"{self.name} cannot answer step {request.step!r} (use {self.other})")
        return str(handler(request))


class TemplateGenerator(_Offline):
    """Writes what the LLM/VLM writes (extract, extract_image, refine, text_safety, label)."""

    name = "offline/template"
    other = "offline/exact"

    def _extract(self, req: ModelRequest, first: str | None = None) -> str:
        from mis.data import CATEGORIES

        rec, wording = req.record, self.world.build
        names = sorted(with_article(o.name) for o in self.world.objects)
        category = rec.get("category") if rec.get("category") in CATEGORIES else None
        out = []
        for k in range(int(rec.get("n", 2))):
            o1 = first or names[_pick((rec["id"], k, 1), len(names))]
            o2 = names[_pick((rec["id"], k, 2), len(names))]
            if o2 == o1:
                o2 = names[(names.index(o1) + 1) % len(names)] if o1 in names else names[0]
            n_q = len(wording.questions)
            template = wording.questions[(_pick(rec["id"], n_q) + k) % n_q]
            cat = category or CATEGORIES[_pick((rec["id"], k), len(CATEGORIES))]
            out.append({"category": cat, "question": template.format(o1=o1, o2=o2), "object1": o1,
                        "object2": o2})
        return json.dumps({"questions": out})

    def _extract_image(self, req: ModelRequest) -> str:
        first = image_object(req.images[0]) if req.images else None
        if not first and req.images:
            first = "a " + re.sub(r"[_-]+", " ", Path(req.images[0]).stem)
        return self._extract(req, first=first)

    def _refine(self, req: ModelRequest) -> str:
        rec = req.record
        q, o1, o2 = rec["question"], rec["object1"], rec["object2"]
        if o1 not in q or o2 not in q:
            return json.dumps({"keep": False, "reason": "the question does not name both objects",
                               "object1": o1, "object2": o2, "question": q})
        q = q.replace(o1, "the object in the first image").replace(o2, "the object in the second image")
        for explicit, implicit in self.world.build.detox.items():
            q = q.replace(explicit, implicit)
        q = q[0].upper() + q[1:]
        return json.dumps({"keep": True, "reason": "", "object1": o1, "object2": o2, "question": q})

    def _text_safety(self, req: ModelRequest) -> str:
        from mis.data import CATEGORIES, TAXONOMY

        rec = req.record
        given = str(rec.get("category") or "")
        category = given if given in TAXONOMY else CATEGORIES[0]
        subs = TAXONOMY[category]
        low = str(rec["question"]).lower()
        unsafe = any(m.lower() in low for m in self.world.build.unsafe_markers)
        return json.dumps({"safety": "Unsafe" if unsafe else "Safe", "category": category,
                           "sub_category": subs[_pick(rec["id"], len(subs))]})

    def _label(self, req: ModelRequest) -> str:
        rec = req.record
        a, b = self.world.find(str(rec["object1"])), self.world.find(str(rec["object2"]))
        rule = self.world.rule_for(a, b) if a and b else None
        if a and b and rule is not None:
            return safety_cot(a, b, rule, world=self.world)
        return self.world.build.label.format(o1=rec["object1"], o2=rec["object2"], question=rec["question"])


class ExactChecker(_Offline):
    """Checks with ground truth (critic, image_harm, label_judge): reads the object stamped in each PNG."""

    name = "offline/exact"
    other = "offline/template"

    def _truth(self, req: ModelRequest) -> list[str]:
        truth = [image_object(p) for p in req.images]
        if any(t is None for t in truth):
            raise _backend_error(f"{self.name}: images of {req.record.get('id')} carry no ground truth "
                                 "(the exact checker only checks images from the procedural renderer)")
        return [t or "" for t in truth]

    def _critic(self, req: ModelRequest) -> str:
        truth = self._truth(req)
        verdict: dict[str, Any] = {}
        for k, want in enumerate((req.record["object1"], req.record["object2"]), start=1):
            ok = truth[k - 1] == want
            verdict[f"image{k}_ok"] = ok
            verdict[f"prompt{k}"] = "" if ok else f"a clear, centred icon of {want} on a plain background"
        return json.dumps(verdict)

    def _image_harm(self, req: ModelRequest) -> str:
        flags = []
        for name in self._truth(req):
            obj = self.world.find(name)
            flags.append(bool(obj and obj.looks_dangerous))
        return json.dumps({"image1_harmful": flags[0], "image2_harmful": flags[1]})

    def _label_judge(self, req: ModelRequest) -> str:
        rec = req.record
        label = str(rec.get("label", "")).lower()
        missing = [o for o in (rec["object1"], rec["object2"]) if str(o).lower() not in label]
        bad = [w for w in self.world.build.label_forbidden if w.lower() in label]
        if missing or bad:
            why = f"does not describe {missing}" if missing else f"contains {bad}"
            return json.dumps({"safe": False, "reason": f"the label {why}"})
        return json.dumps({"safe": True,
                           "reason": "describes both images, explains the risk, no harmful steps"})


class ProceduralRenderer:
    """Draws the world's objects as MIS-mini icons (an ImageBackend); other names get a placeholder.

    ``flaw_every`` > 0 makes about one in n first renders wrong (a blank canvas, no object stamped), so
    the critic's refinement round is exercised offline.
    """

    name = "offline/procedural"

    def __init__(self, world: World | None = None, *, flaw_every: int = 0) -> None:
        self.world = world or load_world()
        self.flaw_every = flaw_every

    def settings(self) -> dict[str, Any]:
        """World and flaw rate determine the pixels."""
        return {"world": self.world.sha, "flaw_every": self.flaw_every}

    def render(self, request: ImageRequest) -> Image:
        """One drawing at the requested size, its object's name stamped into ``info['mis:object']``."""
        from PIL import Image as PILImage
        from PIL import ImageDraw

        from mis.mini._render import render_object

        w, h = request.width, request.height
        flawed = (self.flaw_every > 0 and request.round == 0
                  and _pick((request.record_id, request.index), self.flaw_every) == 0)
        obj = self.world.find(request.object)
        bg = tuple(200 + _pick((request.seed, c), 40) for c in range(3))
        if flawed:
            image = PILImage.new("RGB", (w, h), bg)
        elif obj is not None:
            image = render_object(obj, size=max(w, h), seed=request.seed, world=self.world)
            if w != h:
                image = image.resize((w, h))
        else:  # a name from a real model or an image seed: a labelled placeholder, still stamped
            image = PILImage.new("RGB", (w, h), bg)
            colour = tuple(_pick((request.object, c), 200) for c in range(3))
            draw = ImageDraw.Draw(image)
            draw.rectangle([w * 0.15, h * 0.15, w * 0.85, h * 0.85], fill=colour)
            draw.text((4, 4), request.object[:24], fill=(0, 0, 0))
        image.info[OBJECT_KEY] = "" if flawed else request.object
        return image
