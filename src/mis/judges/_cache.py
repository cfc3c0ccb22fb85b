"""A file-backed cache of judge replies, keyed by the exact request, so identical judgements send nothing.

The key is the sha256 of everything that can change a reply: the judge model (its string and, for a local
server, the base URL that serves it), the decoding config (temperature, budget, top_p, output schema), and
the messages themselves: the rubric text as rendered with the question and the response, and every image's
bytes (the data URIs the judge sees). A changed rubric, response, question, image or decoding therefore
misses by construction. Rerunning into a new folder, a second ``mis judge`` of the same responses or a
report's re-judging reuse the stored replies.

Only replies that the protocol accepted are stored (the caller says so after parsing): a transport failure,
a filtered reply or an unparseable one is never cached, so a rerun asks again exactly as without a cache.
Entries are one small JSON file each under ``cache_root()/judge/``, written atomically (temp file + rename),
so many in-flight samples and several processes can share the cache; a torn or unreadable entry is a miss.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from inspect_ai.model import ChatMessage, ContentImage, ContentText, GenerateConfig

from mis._util.file_media import ENCODED, marked_path
from mis._util.io import cache_root

logger = logging.getLogger(__name__)

#: Bump when the key's recipe changes (old entries then simply miss).
KEY_VERSION = 2


def judge_cache_dir() -> Path:
    """Where judge replies are kept (``MIS_CACHE_DIR``/judge, else ``~/.cache/mis/judge``)."""
    return cache_root() / "judge"


def _image_sha256(ref: str) -> str:
    """sha256 of an image's bytes, whether the request holds them (data URI) or a file marker names them."""
    path = marked_path(ref)
    if path is not None:
        known = ENCODED.sha256(path)  # the image gate read and hashed it already
        if known is not None:
            return known
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while piece := fh.read(1 << 20):
                digest.update(piece)
        return digest.hexdigest()
    if ref.startswith("data:"):
        return hashlib.sha256(base64.b64decode(ref.split(",", 1)[1])).hexdigest()
    return hashlib.sha256(ref.encode("utf-8")).hexdigest()


def _part(part: Any) -> Any:
    if isinstance(part, ContentText):
        return {"text": part.text}
    if isinstance(part, ContentImage):
        return {"image_sha256": _image_sha256(part.image)}
    return {type(part).__name__: part.model_dump(mode="json", exclude_none=True)}


def request_key(model: str, base_url: str | None, messages: list[ChatMessage], config: GenerateConfig) -> str:
    """sha256 of the judge request's content (module docstring says what it covers)."""
    schema = config.response_schema.model_dump(mode="json") if config.response_schema is not None else None
    blob = {
        "v": KEY_VERSION,
        "model": model,
        "base_url": base_url,
        "decoding": {"temperature": config.temperature, "max_tokens": config.max_tokens,
                     "top_p": config.top_p, "response_schema": schema},
        "messages": [
            {"role": m.role,
             "content": m.content if isinstance(m.content, str) else [_part(p) for p in m.content]}
            for m in messages
        ],
    }
    text = json.dumps(blob, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgeCache:
    """Judge replies on disk, one file per request key."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else judge_cache_dir()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The stored reply text for ``key``, or None (missing, torn or unreadable entries are misses)."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring an unreadable judge cache entry %s: %s", path, exc)
            return None
        reply = entry.get("reply") if isinstance(entry, dict) else None
        return reply if isinstance(reply, str) and entry.get("key") == key else None

    def put(self, key: str, reply: str) -> None:
        """Store an accepted reply (atomically; a failure to write only costs a later request)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a temp file of its own per writer: two processes storing the same key never share one
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp",
                                             delete=False) as fh:
                json.dump({"key": key, "reply": reply}, fh, ensure_ascii=False)
            os.replace(fh.name, path)
        except OSError as exc:
            logger.warning("could not store a judge reply in %s: %s", self.root, exc)
