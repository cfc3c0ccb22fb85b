"""Any inspect model as a build text backend (LLM or VLM), with a per-step concurrency limit."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

from mis.build._config import StepModel
from mis.build._protocol import BackendError, ModelRequest


def data_uri(path: Path) -> str:
    """A file as a base64 data URI (images travel inside the request; no shared file system needed)."""
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


class InspectTextBackend:
    """Calls ``get_model(model).generate(...)`` with image blocks before the prompt text.

    Images are labelled in order ("Image-1:", "Image-2:") so the prompts' "first image" / "second
    image" match what the model sees, as in MIS's own prompt layout.
    """

    def __init__(self, model: str, spec: StepModel) -> None:
        self.name = model
        self._spec = spec
        self._model: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def settings(self) -> dict[str, Any]:
        """Decoding settings that shape replies."""
        return {"temperature": self._spec.temperature, "max_tokens": self._spec.max_tokens}

    def _get(self) -> Any:
        from inspect_ai.model import GenerateConfig, get_model

        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # one semaphore per event loop (asyncio.run creates a new one per stage)
            self._loop, self._sem = loop, asyncio.Semaphore(self._spec.concurrency)
        if self._model is None:
            api_key = None
            if self._spec.api_key_env:
                api_key = os.environ.get(self._spec.api_key_env)
                if not api_key:
                    raise BackendError(
                        f"{self.name}: env var {self._spec.api_key_env} (api_key_env) is not set"
                    )
            try:
                self._model = get_model(
                    self.name,
                    base_url=self._spec.base_url,
                    api_key=api_key,
                    memoize=False,
                    config=GenerateConfig(
                        max_connections=self._spec.concurrency,
                        max_retries=self._spec.max_retries,
                        # `timeout` bounds one request; inspect's own `timeout` is the whole retry window
                        attempt_timeout=self._spec.timeout,
                        timeout=self._spec.timeout * (self._spec.max_retries + 1),
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - reported with the model named, no secrets
                raise BackendError(f"cannot create model {self.name!r}: {exc}") from exc
        return self._model

    async def complete(self, request: ModelRequest) -> str:
        """One user turn: labelled images, then the prompt; returns the completion text."""
        from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig

        model = self._get()
        content: list[Any] = []
        for k, path in enumerate(request.images, start=1):
            content += [ContentText(text=f"Image-{k}:"), ContentImage(image=data_uri(path))]
        content.append(ContentText(text=request.prompt))
        assert self._sem is not None
        async with self._sem:
            try:
                output = await model.generate(
                    [ChatMessageUser(content=content)],
                    config=GenerateConfig(
                        temperature=self._spec.temperature, max_tokens=self._spec.max_tokens
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - becomes a retriable record error
                raise BackendError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if output.error:
            raise BackendError(f"{self.name}: {output.error}")
        return output.completion
