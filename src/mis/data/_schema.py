"""The one record type that flows through mis: loaders, exporters, tasks, the build pipeline, training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # PIL is light, but keep `import mis.data` free of image decoding work.
    from PIL.Image import Image

#: Splits of MIS (train/easy/hard/real) plus the controls used by MIS-mini and other benchmarks.
KNOWN_SPLITS: tuple[str, ...] = ("train", "easy", "hard", "real", "benign", "white")


class Sample(BaseModel):
    """One multi-image safety sample.

    ``images`` are paths as written in the source file (normally relative to ``root``); images are
    opened only on demand by :meth:`open_images`, so a 10k-sample set costs a few MB of memory.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Sample id, unique within its split (MIS uses integers; kept as text).")
    split: str = Field(description="train, easy, hard, real, or another named split.")
    question: str = Field(description="The user instruction shown after the images.")
    images: list[str] = Field(description="Image paths (1..n), relative to `root` unless absolute.")
    category: str | None = Field(default=None, description="One of the 6 MIS categories.")
    sub_category: str | None = Field(
        default=None, description="One of the 14 MIS sub-category names (the paper says 12)."
    )
    target: str | None = Field(default=None, description="Training target (e.g. the safety CoT label).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Anything else the source carried.")
    root: Path | None = Field(default=None, description="Folder that relative image paths resolve against.")

    @property
    def uid(self) -> str:
        """Identifier unique across splits: ``split/id``."""
        return f"{self.split}/{self.id}"

    def image_paths(self) -> list[Path]:
        """Absolute paths of the images (relative ones resolved against ``root``)."""
        out = []
        for p in self.images:
            path = Path(p)
            if not path.is_absolute() and self.root is not None:
                path = self.root / path
            out.append(path)
        return out

    def open_images(self) -> list[Image]:
        """Decode the images now (RGB). Raises with the sample id and path when one is unreadable."""
        from PIL import Image as PILImage

        images = []
        for path in self.image_paths():
            try:
                with PILImage.open(path) as im:
                    images.append(im.convert("RGB"))
            except Exception as exc:  # noqa: BLE001 - re-raised with context
                raise ValueError(f"sample {self.uid}: cannot open image {path}: {exc}") from exc
        return images
