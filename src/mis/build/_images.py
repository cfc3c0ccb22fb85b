"""Text-to-image backends: diffusers pipelines (local path or hub id) and OpenAI-compatible images APIs."""

from __future__ import annotations

import base64
import io
import os
import threading
from typing import TYPE_CHECKING, Any

from mis.build._config import T2IConfig
from mis.build._protocol import BackendError, ImageRequest

if TYPE_CHECKING:
    from PIL.Image import Image


class DiffusersImageBackend:
    """Any ``DiffusionPipeline`` (Stable Diffusion 3.5 Large by default), loaded on first use.

    Renders one image at a time (a pipeline is not thread-safe); the seed of each image is recorded
    in the request, so a render can be reproduced exactly.
    """

    def __init__(self, config: T2IConfig) -> None:
        self.name = f"diffusers/{config.model}"
        self._config = config
        self._pipe: Any = None
        self._device = "cpu"
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """Everything that determines the pixels."""
        c = self._config
        return {
            "model": c.model,
            "steps": c.steps,
            "guidance": c.guidance,
            "width": c.width,
            "height": c.height,
            "seed": c.seed,
            "dtype": c.dtype,
            "load_kwargs": {k: v for k, v in c.load_kwargs.items()},
        }

    def _load(self) -> Any:
        try:
            import torch
            from diffusers import DiffusionPipeline
        except ImportError as exc:  # pragma: no cover - diffusers is a core dependency
            raise BackendError(
                "the diffusers backend needs diffusers and torch: pip install diffusers torch"
            ) from exc
        c = self._config
        self._device = c.device if c.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        if c.dtype == "auto":
            dtype = torch.bfloat16 if self._device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, c.dtype)
        try:
            pipe = DiffusionPipeline.from_pretrained(c.model, dtype=dtype, **c.load_kwargs)
        except Exception as exc:  # noqa: BLE001 - named, then the run stops the stage
            raise BackendError(f"cannot load diffusers pipeline {c.model!r}: {exc}") from exc
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(self._device)

    def render(self, request: ImageRequest) -> Image:
        """Render one image with the request's seed."""
        import torch

        with self._lock:
            if self._pipe is None:
                self._pipe = self._load()
            generator = torch.Generator(device=self._device).manual_seed(request.seed)
            try:
                result = self._pipe(
                    request.prompt,
                    num_inference_steps=self._config.steps,
                    guidance_scale=self._config.guidance,
                    height=request.height,
                    width=request.width,
                    generator=generator,
                )
            except Exception as exc:  # noqa: BLE001 - retriable error for this record
                raise BackendError(f"{self.name}: render failed for {request.record_id}: {exc}") from exc
        return result.images[0].convert("RGB")


class OpenAIImagesBackend:
    """``POST {base_url}/images/generations`` with ``response_format=b64_json``."""

    def __init__(self, config: T2IConfig) -> None:
        self.name = f"openai-images/{config.model}"
        self._config = config
        self._client: Any = None

    def settings(self) -> dict[str, Any]:
        """Model and size (the API's own sampling is not seedable)."""
        c = self._config
        return {"model": c.model, "width": c.width, "height": c.height, "base_url": c.base_url}

    def render(self, request: ImageRequest) -> Image:
        """Request one image and decode it."""
        from openai import OpenAI
        from PIL import Image as PILImage

        c = self._config
        if self._client is None:
            api_key = os.environ.get(c.api_key_env)
            if not api_key:
                raise BackendError(f"{self.name}: env var {c.api_key_env} (t2i.api_key_env) is not set")
            base_url = c.base_url or os.environ.get("OPENAI_BASE_URL")
            self._client = OpenAI(api_key=api_key, base_url=base_url, max_retries=2)
        try:
            result = self._client.images.generate(
                model=c.model,
                prompt=request.prompt,
                n=1,
                size=f"{request.width}x{request.height}",
                response_format="b64_json",
            )
            data = base64.b64decode(result.data[0].b64_json)
            return PILImage.open(io.BytesIO(data)).convert("RGB")
        except Exception as exc:  # noqa: BLE001 - retriable error for this record
            raise BackendError(f"{self.name}: image request failed for {request.record_id}: {exc}") from exc
