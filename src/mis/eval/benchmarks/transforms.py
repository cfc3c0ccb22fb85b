"""The white-image test (MIS.md sec. 7) as a transform of any image task's samples.

``white`` replaces every image by a plain white image of the same size; ``none`` removes the
images (text only). The paper compares refusal rates across original / white / none: a model that
refuses a safe instruction more often with a blank white image has learned "image -> refuse",
not safety reasoning.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mis.data._schema import Sample
from mis.eval.benchmarks._common import cache_root

IMAGE_MODES = ("original", "white", "none")
#: Size used when the original image cannot be read (e.g. absent while testing text-only).
DEFAULT_WHITE_SIZE = (512, 512)


def white_image(size: tuple[int, int] = DEFAULT_WHITE_SIZE, folder: Path | None = None) -> Path:
    """Path of a white RGB PNG of ``size`` (written once, then reused)."""
    from PIL import Image

    folder = folder or cache_root() / "white"
    path = folder / f"white_{size[0]}x{size[1]}.png"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        Image.new("RGB", size, (255, 255, 255)).save(tmp)
        tmp.replace(path)
    return path


def _size_of(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return DEFAULT_WHITE_SIZE


def apply_image_mode(samples: Iterable[Sample], mode: str, *, folder: Path | None = None) -> list[Sample]:
    """Samples with their images kept (``original``), whitened (``white``) or removed (``none``).

    The sample's split and id stay the same; ``metadata["image_mode"]`` records the transform, and
    ``metadata["original_images"]`` the images that were replaced.
    """
    if mode not in IMAGE_MODES:
        raise ValueError(f"image_mode={mode!r}: expected one of {', '.join(IMAGE_MODES)}")
    out = []
    for s in samples:
        if mode == "original":
            out.append(s)
            continue
        originals = [str(p) for p in s.image_paths()]
        images = [str(white_image(_size_of(Path(p)), folder)) for p in originals] if mode == "white" else []
        meta = {**s.metadata, "image_mode": mode, "original_images": originals}
        out.append(s.model_copy(update={"images": images, "metadata": meta}))
    return out
