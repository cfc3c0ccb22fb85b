"""The image gate: may an image path, as written in a dataset, be read and sent to a model.

Every command that opens dataset images (eval, judge, bench, build, train, report, ``mis data``) asks
the same question, so it is answered once, here:

1. **Where**: the path must resolve (symlinks followed) inside the dataset root, unless the caller
   explicitly allows outside paths. A hub snapshot's links into its own ``blobs/`` folder count as inside.
2. **What**: the file must be an image of an allowed format (PNG, JPEG, WebP, GIF, BMP by default).
3. **How big**: width x height from the header must fit the pixel budget *before* anything is decoded,
   so a decompression bomb is refused without allocating it (PIL's own bomb checks are caught too).
4. **Whole**: the image must decode completely. PNG is checked by streaming: every chunk CRC, the
   zlib stream inflated in 64 KB pieces to exactly the length the header implies, each row's filter
   byte, and the IEND chunk, so no pixel buffer is ever allocated. JPEG is decoded at 1/8 scale
   (``Image.draft``), which still reads every entropy-coded byte, so truncation is caught at 1/64 of the
   memory. Other formats are decoded once and released.

Only one image is decoded at a time and nothing decoded outlives the check. Results are
:class:`ImageCheck` values with a stable ``code``; :class:`GateCache` remembers them per
(path, size, mtime) so a resumed run does not decode everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mis._util.paths import RealPaths
from mis.data._errors import Problem

log = logging.getLogger(__name__)

#: Stable problem codes of the gate, in the order they are checked.
GATE_CODES: tuple[str, ...] = ("outside_root", "not_found", "unreadable", "not_an_image", "bad_format",
                               "too_many_pixels", "truncated", "corrupt")
#: Formats (PIL names) a model may be sent by default.
DEFAULT_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})
#: Default pixel budget (width x height): 64 MP, e.g. 8000 x 8000. MIS renders are 1024 x 1024.
DEFAULT_MAX_PIXELS = 64_000_000
#: Bump when a check changes, so cached verdicts of older gates are not trusted.
GATE_VERSION = 1
_PIECE = 1 << 16  # bytes read / inflated per step: the PNG check's memory does not grow with the image
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


@dataclass(frozen=True)
class ImageCheck:
    """The gate's answer for one image path: ``code`` is None when the image may be used."""

    path: str
    """The path as written in the dataset."""
    code: str | None = None
    """None (ok) or one of :data:`GATE_CODES`."""
    message: str = ""
    """One line naming the path and what is wrong (empty when ok)."""
    resolved: str | None = None
    """The real path (symlinks resolved), when it could be worked out."""
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    """File size in bytes."""
    sha256: str | None = None
    """Hex digest of the file's bytes (when the gate hashes)."""

    @property
    def ok(self) -> bool:
        """True when the image passed every check."""
        return self.code is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (results, caches)."""
        return asdict(self)

    def problem(
        self, file: str, sample_id: str | None, field: str | None, code: str | None = None
    ) -> Problem:
        """The failure as a :class:`mis.data.Problem` naming the file, sample and field."""
        return Problem(file, sample_id, field, self.message, code or self.code or "invalid")


@dataclass(frozen=True)
class ImageRef:
    """How run folders reference an image instead of embedding its bytes (path + sha256 + size)."""

    path: str
    sha256: str
    size: int


def image_ref(path: str | Path) -> ImageRef:
    """The image's real path, sha256 and size, read in 64 KB pieces (never the whole file at once)."""
    real = os.path.realpath(path)
    digest = hashlib.sha256()
    size = 0
    with open(real, "rb") as fh:
        while piece := fh.read(_PIECE):
            digest.update(piece)
            size += len(piece)
    return ImageRef(real, digest.hexdigest(), size)


def trusted_roots(root: str | Path) -> list[str]:
    """Real folders an image under ``root`` may live in: the root, plus a hub snapshot's ``blobs/``.

    Hugging Face cache snapshots (``.../datasets--o--n/snapshots/<rev>/``) hold symlinks into
    ``.../datasets--o--n/blobs/``; following them must not count as leaving the dataset.
    """
    real = Path(os.path.realpath(root))
    roots = [str(real)]
    parts = real.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].split("--")[0] in ("datasets", "models"):
        roots.append(str(real.parent.parent / "blobs"))
    return roots


def _inside(real: str, roots: Iterable[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class _Refused(Exception):
    def __init__(self, code: str, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


# -- PNG: a streaming check that never allocates the pixels ---------------------------------------------
try:  # ISA-L's inflate (the `isal` package) is about twice zlib's speed; same API and the same errors
    from isal import isal_zlib

    _INFLATE: Any = isal_zlib
    _INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _INFLATE.error)
except ImportError:  # a platform without its wheel: zlib, slower, same verdicts
    _INFLATE = zlib
    _INFLATE_ERRORS = (zlib.error,)


def _decompressobj() -> Any:
    return _INFLATE.decompressobj()


def _read(fh: BinaryIO, n: int, digest: Any, what: str) -> bytes:
    data = fh.read(n)
    if digest is not None:
        digest.update(data)
    if len(data) != n:
        raise _Refused("truncated", f"file ends inside the {what}")
    return data


def _png_rows(width: int, height: int, depth: int, channels: int, interlaced: bool) -> list[tuple[int, int]]:
    """(rows, bytes per row including the filter byte) of each pass (one pass unless interlaced)."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    out = []
    for x0, y0, dx, dy in passes:
        w = (width - x0 + dx - 1) // dx if width > x0 else 0
        h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if w and h:
            out.append((h, 1 + (w * depth * channels + 7) // 8))
    return out


def _check_png(fh: BinaryIO, max_pixels: int, digest: Any) -> tuple[int, int]:
    """Walk every chunk of a PNG; raise _Refused unless it decodes completely. Returns (width, height)."""
    if _read(fh, 8, digest, "signature") != _PNG_SIGNATURE:
        raise _Refused("not_an_image", "not a PNG file")
    width = height = color = 0
    rows: list[tuple[int, int]] = []
    expected = produced = 0
    inflater = _decompressobj()
    stride = 0  # bytes per row when not interlaced (filter bytes are checked then)
    seen_idat = done_idat = has_plte = False
    first = True
    while True:
        header = _read(fh, 8, digest, "chunk header")
        length, kind = struct.unpack(">I4s", header)
        name = kind.decode("latin-1")
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _Refused("corrupt", f"bad chunk header ({name!r}, {length} bytes)")
        if first and kind != b"IHDR":
            raise _Refused("corrupt", "first chunk is not IHDR")
        if kind == b"IDAT" and done_idat:
            raise _Refused("corrupt", "IDAT chunks are not consecutive")
        if seen_idat and kind != b"IDAT":
            done_idat = True
        crc = zlib.crc32(kind)
        remaining = length
        ihdr = b""
        while remaining:
            piece = _read(fh, min(remaining, _PIECE), digest, f"{name} chunk")
            remaining -= len(piece)
            crc = zlib.crc32(piece, crc)
            if kind == b"IHDR":
                ihdr += piece[: 13 - len(ihdr)]
            elif kind == b"IDAT":
                if not rows:
                    raise _Refused("corrupt", "IDAT before IHDR")
                seen_idat = True
                data = piece
                # until the chunk's input is used up AND no output is pending: ISA-L takes all the input at
                # once and hands out what is over max_length on later calls (zlib keeps it as unconsumed_tail)
                while not inflater.eof:
                    try:
                        out = inflater.decompress(data, _PIECE)
                    except _INFLATE_ERRORS as exc:
                        raise _Refused("corrupt", f"pixel data does not inflate ({exc})") from exc
                    data = inflater.unconsumed_tail
                    if not out and not data:
                        break
                    if produced + len(out) > expected:
                        raise _Refused("corrupt", "more pixel data than the header declares")
                    if stride:  # every row starts with a filter type 0-4
                        start = (-produced) % stride
                        if out[start::stride] and max(out[start::stride]) > 4:
                            raise _Refused("corrupt", "bad row filter byte in the pixel data")
                    produced += len(out)
        (stored,) = struct.unpack(">I", _read(fh, 4, digest, f"{name} chunk CRC"))
        if stored != crc & 0xFFFFFFFF:
            raise _Refused("corrupt", f"CRC mismatch in the {name} chunk")
        if kind == b"IHDR":
            if length != 13:
                raise _Refused("corrupt", "IHDR chunk has the wrong length")
            width, height, depth, color, _comp, _filt, interlace = struct.unpack(">IIBBBBB", ihdr)
            if width * height > max_pixels:
                raise _Refused("too_many_pixels", f"{width} x {height} = {width * height:,} pixels, over the "
                               f"budget of {max_pixels:,}")
            if not width or not height or depth not in _PNG_DEPTHS.get(color, set()) or interlace > 1:
                raise _Refused("corrupt", f"invalid IHDR ({width}x{height}, depth {depth}, colour {color})")
            rows = _png_rows(width, height, depth, _PNG_CHANNELS[color], interlace == 1)
            expected = sum(h * row for h, row in rows)
            stride = rows[0][1] if interlace == 0 else 0
        elif kind == b"PLTE":
            has_plte = True
        elif kind == b"IEND":
            if not seen_idat:
                raise _Refused("truncated", "no pixel data (no IDAT chunk)")
            if produced < expected or not inflater.eof:
                raise _Refused("truncated", f"pixel data ends early ({produced:,} of {expected:,} bytes)")
            if color == 3 and not has_plte:
                raise _Refused("corrupt", "palette image without a PLTE chunk")
            return width, height
        first = False


# -- the gate ------------------------------------------------------------------------------------------
def _pil_check(path: str, max_pixels: int, formats: frozenset[str], decode: bool) -> tuple[str, int, int]:
    """Open with PIL (header only), apply the budget and format rules, then (``decode``) decode once."""
    from PIL import Image, UnidentifiedImageError

    try:
        # record=True keeps PIL's bomb warning off stderr; it is turned into a refusal below.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _Refused("too_many_pixels", f"PIL refuses it as a decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise _Refused("not_an_image", "not an image file PIL can identify") from exc
    except OSError as exc:
        code = "truncated" if "runcated" in str(exc) else "corrupt"
        raise _Refused(code, f"header does not parse ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - header parsers raise many types on crafted input
        raise _Refused("corrupt", f"header does not parse ({type(exc).__name__}: {exc})") from exc
    with im:
        fmt, (width, height) = str(im.format), im.size
        if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught) \
                or width * height > max_pixels:
            raise _Refused("too_many_pixels", f"{width} x {height} = {width * height:,} pixels, over the "
                           f"budget of {max_pixels:,}")
        if fmt not in formats:
            raise _Refused("bad_format", f"{fmt} image; allowed formats: {', '.join(sorted(formats))}")
        if not decode:
            return fmt, width, height
        try:
            if fmt == "JPEG":
                im.draft("RGB", ((width + 7) // 8, (height + 7) // 8))  # 1/8 scale: every byte still read
            im.load()
        except OSError as exc:
            code = "truncated" if "truncated" in str(exc) else "corrupt"
            raise _Refused(code, f"does not decode completely ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - any decoder failure means the image is unusable
            raise _Refused("corrupt", f"does not decode ({type(exc).__name__}: {exc})") from exc
    return fmt, width, height


def _content_check(real: str, max_pixels: int, formats: frozenset[str], want_hash: bool) -> dict[str, Any]:
    """Checks that depend only on the file's bytes (what :class:`GateCache` stores)."""
    try:
        size = os.path.getsize(real)
        if size == 0:
            raise _Refused("not_an_image", "empty file (0 bytes)")
        with open(real, "rb") as fh:
            png = fh.read(8) == _PNG_SIGNATURE
        if png:  # stream it first: budget from IHDR before PIL sees it, then PIL's header rules only
            digest = hashlib.sha256() if want_hash else None
            with open(real, "rb") as fh:
                _check_png(fh, max_pixels, digest)
                if digest is not None:
                    while piece := fh.read(_PIECE):
                        digest.update(piece)
            sha = digest.hexdigest() if digest is not None else None
        fmt, width, height = _pil_check(real, max_pixels, formats, decode=not png)
        if not png:
            sha = image_ref(real).sha256 if want_hash else None
    except _Refused as refused:
        return {"code": refused.code, "why": refused.why}
    except PermissionError as exc:
        return {"code": "unreadable", "why": f"cannot be read ({exc.strerror})"}
    return {"code": None, "why": "", "format": fmt, "width": width, "height": height, "size": size,
            "sha256": sha}


class GateCache:
    """Remembered content verdicts, keyed by (real path, size, mtime_ns, inode) and the gate's settings.

    A small JSON file per dataset folder (eval, bench and judge keep it under ``~/.cache/mis/image_gate/``)
    lets every later run on the same data (a resumed run, the next model) skip decoding images that did not
    change; saving merges with what another run saved meanwhile. Path rules (root, symlinks) are never
    cached: they are re-checked on every call because they are cheap and depend on the caller's root.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0
        self._dirty = False
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("version") == GATE_VERSION:
                    self.entries = dict(data.get("entries", {}))
            except (OSError, ValueError, AttributeError) as exc:  # a damaged cache is only a slower run
                log.warning("ignoring unreadable image-gate cache %s (%s)", self.path, exc)

    @staticmethod
    def _stamp(st: os.stat_result, settings: str) -> list[Any]:
        return [st.st_size, st.st_mtime_ns, st.st_ino, settings]

    def get(self, real: str, st: os.stat_result, settings: str) -> dict[str, Any] | None:
        """The stored verdict when the file and the settings are unchanged, else None."""
        entry = self.entries.get(real)
        if entry is not None and entry.get("stamp") == self._stamp(st, settings):
            self.hits += 1
            return dict(entry["result"])
        self.misses += 1
        return None

    def peek(self, real: str, st: os.stat_result, settings: str) -> dict[str, Any] | None:
        """:meth:`get` without counting a hit or a miss."""
        entry = self.entries.get(real)
        fresh = entry is not None and entry.get("stamp") == self._stamp(st, settings)
        return dict(entry["result"]) if fresh and entry is not None else None

    def put(self, real: str, st: os.stat_result, settings: str, result: dict[str, Any]) -> None:
        """Remember a verdict (call :meth:`save` to write the file)."""
        self.entries[real] = {"stamp": self._stamp(st, settings), "result": result}
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically (a crash leaves the old file or the new one, never half of one)."""
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = dict(self.entries)
        try:  # another run on the same data may have saved meanwhile: keep its verdicts too
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == GATE_VERSION:
                entries = {**data.get("entries", {}), **entries}
        except (OSError, ValueError, AttributeError):
            pass
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"version": GATE_VERSION, "entries": entries}), encoding="utf-8")
        os.replace(tmp, self.path)
        self._dirty = False


def shared_cache_path(root: str | Path) -> Path:
    """The gate's verdicts for one dataset folder, shared by every command and run on this machine.

    Under :func:`mis._util.io.cache_root` (``MIS_CACHE_DIR``), one file per folder. Verdicts are keyed by
    each file's real path, size, mtime and inode, so a changed file is checked again.
    """
    from mis._util.io import cache_root

    key = hashlib.sha256(os.path.realpath(root).encode("utf-8")).hexdigest()[:20]
    return cache_root() / "image_gate" / f"{key}.json"


class ImageGate:
    """The gate for one dataset root: ``gate.check("hard_image/1/object1.png") -> ImageCheck``.

    Args:
        root: the dataset root that relative paths resolve against and resolved paths must stay in.
        allow_outside: accept absolute paths, ``../`` and symlinks that lead outside ``root``
            (the user's explicit choice; e.g. ``--allow-outside-root``).
        max_pixels: width x height budget, checked from the header before decoding.
        formats: allowed PIL format names.
        cache: a :class:`GateCache` (or the path of its JSON file) to skip unchanged files.
        hash_images: also compute each image's sha256 (read in the same pass for PNG).

    """

    def __init__(
        self,
        root: str | Path,
        *,
        allow_outside: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        formats: Iterable[str] = DEFAULT_FORMATS,
        cache: GateCache | str | Path | None = None,
        hash_images: bool = True,
    ) -> None:
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        self.root = Path(root)
        self.roots = trusted_roots(root)
        self.allow_outside = allow_outside
        self.max_pixels = max_pixels
        self.formats = frozenset(f.upper() for f in formats)
        self.cache = cache if isinstance(cache, GateCache) or cache is None else GateCache(cache)
        self.hash_images = hash_images
        self._real = RealPaths()  # each image folder resolved once per gate (a gate lives for one run)
        self._settings = f"v{GATE_VERSION}:{max_pixels}:{','.join(sorted(self.formats))}:{int(hash_images)}"

    def resolve(self, raw: str) -> str:
        """The real path of ``raw`` (relative to the root unless absolute), symlinks followed."""
        path = os.path.expanduser(raw)
        return self._real(path if os.path.isabs(path) else os.path.join(self.root, path))

    def locate(self, raw: str | Path) -> ImageCheck:
        """Only the path rules: inside the root (symlinks followed) and an existing file; nothing is read."""
        raw = str(raw)
        if not raw.strip():
            return ImageCheck(raw, "not_found", "empty image path")
        real = self.resolve(raw)
        shown = raw if raw == real else f"{raw} (-> {real})"
        if not self.allow_outside and not _inside(real, self.roots):
            lexical = os.path.normpath(os.path.join(os.path.abspath(self.root), raw))
            how = ("an absolute path" if os.path.isabs(raw) else
                   "a path that climbs" if not _inside(lexical, [os.path.abspath(self.root)]) else
                   "a symlink that leads")
            return ImageCheck(raw, "outside_root", f"{shown}: {how} outside the dataset root "
                              f"{self.roots[0]}; images must stay inside it (pass --allow-outside-root to "
                              "accept)", real)
        if not os.path.isfile(real):
            what = "not a file" if os.path.exists(real) else "image file not found"
            return ImageCheck(raw, "not_found", f"{shown}: {what}", real)
        return ImageCheck(raw, None, "", real)

    def check(self, raw: str | Path) -> ImageCheck:
        """Decide whether the image at ``raw`` (as written in the dataset) may be used."""
        located = self.locate(raw)
        if not located.ok or located.resolved is None:
            return located
        raw, real = located.path, located.resolved
        shown = raw if raw == real else f"{raw} (-> {real})"
        try:
            st = os.stat(real)
        except OSError:
            return ImageCheck(raw, "not_found", f"{shown}: image file not found", real)
        result = self.cache.get(real, st, self._settings) if self.cache is not None else None
        if result is None:
            result = _content_check(real, self.max_pixels, self.formats, self.hash_images)
            if self.cache is not None and result["code"] != "unreadable":
                self.cache.put(real, st, self._settings, result)
        if result["code"] is not None:
            return ImageCheck(raw, result["code"], f"{shown}: {result['why']}", real, size=st.st_size)
        return ImageCheck(raw, None, "", real, result["format"], result["width"], result["height"],
                          result["size"], result["sha256"])

    def quick(self, raw: str | Path) -> tuple[ImageCheck, bool]:
        """The checks that read no pixel data: ``(check, final)``; not ``final``: :meth:`check` is still due.

        Path rules, then a remembered verdict (final either way), then the header: format and pixel budget
        (a PNG's IHDR in 33 bytes, else PIL's header parser). A run does these for every image before its
        first request and leaves the full decode to :meth:`check`, ahead of each sample's own request.
        """
        located = self.locate(raw)
        if not located.ok or located.resolved is None:
            return located, True
        raw, real = located.path, located.resolved
        shown = raw if raw == real else f"{raw} (-> {real})"
        try:
            st = os.stat(real)
        except OSError:
            return ImageCheck(raw, "not_found", f"{shown}: image file not found", real), True
        cached = self.cache.peek(real, st, self._settings) if self.cache is not None else None
        if cached is not None:
            return self.check(raw), True  # counted as a hit, answered from memory
        try:
            if st.st_size == 0:
                raise _Refused("not_an_image", "empty file (0 bytes)")
            with open(real, "rb") as fh:
                head = fh.read(33)
            if head[:8] == _PNG_SIGNATURE:
                if len(head) < 33 or head[12:16] != b"IHDR":
                    raise _Refused("truncated" if len(head) < 33 else "corrupt", "PNG header is incomplete")
                width, height = struct.unpack(">II", head[16:24])
                if width * height > self.max_pixels:
                    raise _Refused("too_many_pixels", f"{width} x {height} = {width * height:,} pixels, over "
                                   f"the budget of {self.max_pixels:,}")
                if "PNG" not in self.formats:
                    allowed = ", ".join(sorted(self.formats))
                    raise _Refused("bad_format", f"PNG image; allowed formats: {allowed}")
                fmt = "PNG"
            else:
                fmt, width, height = _pil_check(real, self.max_pixels, self.formats, decode=False)
        except _Refused as refused:
            return ImageCheck(raw, refused.code, f"{shown}: {refused.why}", real, size=st.st_size), True
        except PermissionError as exc:
            return ImageCheck(raw, "unreadable", f"{shown}: cannot be read ({exc.strerror})", real), True
        return ImageCheck(raw, None, "", real, fmt, width, height, st.st_size), False

    def save(self) -> None:
        """Write the cache, if any."""
        if self.cache is not None:
            self.cache.save()


def check_image(
    raw: str | Path,
    root: str | Path,
    *,
    allow_outside: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: Iterable[str] = DEFAULT_FORMATS,
) -> ImageCheck:
    """One-off form of :meth:`ImageGate.check` (build an :class:`ImageGate` to check many images)."""
    return ImageGate(root, allow_outside=allow_outside, max_pixels=max_pixels, formats=formats).check(raw)


__all__ = ["DEFAULT_FORMATS", "DEFAULT_MAX_PIXELS", "GATE_CODES", "GateCache", "ImageCheck", "ImageGate",
           "ImageRef", "check_image", "image_ref", "shared_cache_path", "trusted_roots"]
