"""Image thumbnails for the report's sample browser: written once per image, reused across builds.

Each source image becomes one small file in ``OUT/thumbs/`` named by the sha256 of its bytes (so the
same picture used by several samples, models or paths is stored once). ``thumbs/cache.json`` maps
(source path, size, mtime, thumbnail size) to that file, so a rebuild re-encodes only images that are
new or changed: decoding 1024 px PNGs is most of a cold build's time. A missing or unreadable image is
recorded with the reason (the page shows a placeholder naming it) and logged once, never raised.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

THUMBS_DIR = "thumbs"
MANIFEST = "cache.json"
_VERSION = 1


@dataclass
class ThumbStats:
    """What one build did: thumbnails encoded, reused from the cache, images that could not be shown."""

    encoded: int = 0
    reused: int = 0
    missing: int = 0
    seconds: float = 0.0


class ThumbCache:
    """Registers the images a report shows, then makes (or reuses) one thumbnail per image.

    PIL releases the GIL while decoding, so a thread pool uses every core the process may use.
    """

    def __init__(self, out: Path, max_px: int = 256, workers: int | None = None) -> None:
        self.folder = Path(out) / THUMBS_DIR
        self.max_px = max_px
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.workers = workers or max(1, min(8, cores))
        self.names: dict[str, str] = {}  # source path -> thumbnail file name
        self.problems: dict[str, str] = {}  # source path -> why it is not shown
        self._where: dict[str, str] = {}  # source path -> first reference, for the warning
        self.stats = ThumbStats()

    def add(self, path: str, where: str) -> None:
        """Note that a sample shows ``path`` (``where`` names the sample for the warning)."""
        self._where.setdefault(path, where)

    def build(self) -> ThumbStats:
        """Make every registered thumbnail that the cache does not already hold."""
        start = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        cache = self._load_manifest()
        todo: list[tuple[str, str]] = []
        for path in self._where:
            try:
                st = Path(path).stat()
            except OSError:
                self._problem(path, "file not found")
                continue
            key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{self.max_px}"
            name = cache.get(key)
            if name and (self.folder / name).is_file():
                self.names[path] = name
                self.stats.reused += 1
            else:
                todo.append((path, key))
        if todo:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                made = list(pool.map(lambda item: self._make(item[0]), todo))
            for (path, key), (name, why) in zip(todo, made, strict=True):
                if name is None:
                    self._problem(path, why)
                else:
                    self.names[path] = cache[key] = name
                    self.stats.encoded += 1
            self._save_manifest(cache)
        self.stats.seconds = round(time.perf_counter() - start, 3)
        return self.stats

    def ref(self, path: str) -> str | None:
        """The thumbnail's path relative to the report folder, or None when the image is not shown."""
        name = self.names.get(path)
        return f"{THUMBS_DIR}/{name}" if name else None

    def _problem(self, path: str, why: str) -> None:
        self.problems[path] = why
        self.stats.missing += 1
        log.warning("%s: image %s: %s; the report shows a placeholder", self._where[path], path, why)

    def _make(self, path: str) -> tuple[str | None, str]:
        from mis.data import ImageGate

        # the one image gate (pixel budget from the header, whole file, allowed format) before decoding; the
        # paths come from run folders whose runs gated them against their dataset, so any folder is allowed
        check = ImageGate(Path(path).parent, allow_outside=True, hash_images=False).check(path)
        if check.code == "not_found":
            return None, "file not found"
        if not check.ok:
            # the gate's message starts with the path, which the warning already names
            return None, f"cannot read image: {check.message.split(': ', 1)[-1]}"
        try:
            data, ext = encode_thumbnail(Path(path), self.max_px)
        except FileNotFoundError:
            return None, "file not found"
        except (OSError, ValueError) as err:  # PIL.UnidentifiedImageError is an OSError
            return None, f"cannot read image: {err}"
        name = f"{hashlib.sha256(data).hexdigest()[:24]}{ext}"
        target = self.folder / name
        if not target.is_file():
            tmp = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        return name, ""

    def _load_manifest(self) -> dict[str, str]:
        path = self.folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return {}
        entries = data.get("entries")
        return {str(k): str(v) for k, v in entries.items()} if isinstance(entries, dict) else {}

    def _save_manifest(self, cache: dict[str, str]) -> None:
        live = {k: v for k, v in cache.items() if (self.folder / v).is_file()}
        tmp = self.folder / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"version": _VERSION, "entries": live}, sort_keys=True), encoding="utf-8")
        tmp.replace(self.folder / MANIFEST)


def encode_thumbnail(path: Path, max_px: int) -> tuple[bytes, str]:
    """A thumbnail's bytes and extension: PNG for flat few-colour images (renders), JPEG for photos."""
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (2 * max_px, 2 * max_px))  # JPEG: decode at reduced size
        im.load()
        if im.mode in ("RGBA", "LA", "P", "PA"):
            rgba = im.convert("RGBA")
            img = Image.new("RGB", rgba.size, "white")
            img.paste(rgba, mask=rgba.getchannel("A"))
        else:
            img = im.convert("RGB")
    img.thumbnail((max_px, max_px), reducing_gap=2.0)
    buf = io.BytesIO()
    if img.getcolors(256) is not None:  # flat, few colours: PNG is small and exact
        img.save(buf, format="PNG", optimize=True)
        return buf.getvalue(), ".png"
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue(), ".jpg"
