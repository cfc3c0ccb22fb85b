"""`hfvlm/<path or hub id>`: an inspect model provider for in-process transformers VLMs.

Any checkpoint that loads with `AutoModelForImageTextToText` + `AutoProcessor` works (a local folder,
a hub id, a `mis train` output). Messages keep their structured content blocks, so several images per
turn reach the processor's chat template in the order they appear (MIS: image, image, question).
Concurrent `generate()` calls are gathered into one left-padded batched forward pass of up to
`batch_size` requests (the pattern of inspect's own `hf` provider); retries, concurrency limits and
logging stay inspect's. torch and transformers are imported only when a model is created. Loading and
the batched forward pass live in `mis.models._engine`, which needs no inspect.

The paper's protocol by default: the checkpoint's `config.model_type` picks its preset
(`mis.models.presets`), whose processor settings (InternVL's tile limit, Qwen's pixel bounds) and
user-turn layout (the authors' `Image-k:` labels for InternVL / Idefics3) apply without the user naming
a family; decoding is plain greedy: none of the checkpoint's `generation_config` sampling or penalty
defaults (repetition_penalty, top_k, ...) leak in. `generate_kwargs(config)` and `settings()` say
exactly what was used, so a run can record it.

Model args (`-M key=value`, or `--model-arg` in `mis eval`): `batch_size` (default 8), `device`
(`cuda`, `mps`, `cpu`; default: the best available, and under torchrun / accelerate launch each rank's
own `cuda:LOCAL_RANK`), `dtype` (`auto`, `bfloat16`, `float16`,
`float32`; default bfloat16 on cuda, float32 elsewhere), `trust_remote_code` (default false),
`family` (`auto`, the default: the preset of the checkpoint's model_type; a preset name; or `none`:
the checkpoint's own processor settings and no image labels), `processor_kwargs` (a dict merged over
the preset's), `batch_wait_s` (how long to wait for more requests before a batch runs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from mis.models._decoding import DEFAULT_MAX_TOKENS, gen_kwargs, generate_kwargs
from mis.models._engine import TINY_MARKER, LoadedVLM, generate_batch, load_vlm
from mis.models._layout import TurnLayout
from mis.models._messages import neutralise, to_hf_message
from mis.models.presets import Preset

# Private names kept for callers and tests that import them from here.
_gen_kwargs = gen_kwargs
_to_hf_message = to_hf_message
_neutralise = neutralise

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
__all__ = ["DEFAULT_BATCH_SIZE", "HFVLMAPI", "TINY_MARKER", "hfvlm"]


@dataclass
class _Request:
    conversation: list[dict[str, Any]]
    gen_kwargs: dict[str, Any]
    future: asyncio.Future[tuple[str, int, int]] = field(repr=False)

    @property
    def key(self) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted(self.gen_kwargs.items()))


class HFVLMAPI(ModelAPI):
    """In-process multi-image generation with a transformers image-text-to-text model."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 - inspect's ModelAPI signature
        **model_args: Any,
    ) -> None:
        from inspect_ai.model._model_info import MODEL_INFO_LOOKUP_API_KEY

        lookup_only = api_key == MODEL_INFO_LOOKUP_API_KEY
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key,
                         api_key_vars=["HF_TOKEN"], config=config)
        self.batch_size = int(model_args.pop("batch_size", DEFAULT_BATCH_SIZE))
        self._pending: list[_Request] = []
        self._worker: asyncio.Task[None] | None = None
        self.model: Any = None
        self.processor: Any = None
        self._reserved: dict[str, str] = {}
        if lookup_only:  # inspect instantiates providers just to resolve a model name: skip the weights
            return
        self.batch_wait_s = float(model_args.pop("batch_wait_s", 0.05))
        family_name = str(model_args.pop("family", None) or "auto")

        def tiny(preset: Preset) -> None:
            logger.info("hfvlm: %s is a tiny model: its processor sizes are kept (preset %s: layout only)",
                        model_name, preset.name)

        self.engine: LoadedVLM = load_vlm(
            model_name, device=model_args.pop("device", None), dtype=str(model_args.pop("dtype", "auto")),
            trust_remote_code=_as_bool(model_args.pop("trust_remote_code", False)), family=family_name,
            processor_kwargs=dict(model_args.pop("processor_kwargs", {}) or {}),
            token=self.api_key,  # only ever from the environment (HF_TOKEN), via inspect
            on_tiny=tiny, **model_args)
        engine = self.engine
        self.device = engine.device
        self.model_type: str | None = engine.model_type
        self.preset = engine.preset
        self.layout: TurnLayout = engine.layout
        self.processor_kwargs: dict[str, Any] = engine.processor_kwargs
        self.processor = engine.processor
        self.model = engine.model
        self._reserved = engine.reserved
        self._image_suffix = engine.image_suffix
        self._neutral = engine.neutral
        logger.info("hfvlm: %s on %s (%s), batch size %d, preset %s", model_name, self.device,
                    self.model.dtype, self.batch_size, self.preset.name if self.preset else "none")

    # -- what this provider does with a request (for results.json) ------------------------------
    def generate_kwargs(self, config: GenerateConfig | None = None) -> dict[str, Any]:
        """Exactly the options `model.generate` gets for ``config`` (besides the inputs and pad id).

        Greedy unless a positive temperature is asked for; every sampling and penalty option is set
        explicitly to its neutral value, so the checkpoint's generation_config adds nothing.
        """
        return generate_kwargs(config or GenerateConfig(), self._neutral, self.max_tokens())

    def ignored_checkpoint_defaults(self) -> dict[str, Any]:
        """The checkpoint's generation_config sampling/penalty values that plain greedy overrides."""
        saved = self.model.generation_config.to_diff_dict() if self.model is not None else {}
        neutral = self._neutral
        return {k: v for k, v in saved.items() if k in neutral and v is not None and v != neutral[k]}

    def settings(self, config: GenerateConfig | None = None) -> dict[str, Any]:
        """JSON-able record of the preset, processor settings, layout and decoding a run used."""
        return {
            "model_type": self.model_type,
            "preset": self.preset.name if self.preset is not None else None,
            "layout": self.layout.name,
            "processor_kwargs": self.processor_kwargs,
            "generate_kwargs": {k: v for k, v in self.generate_kwargs(config).items() if v is not None},
            "ignored_checkpoint_defaults": self.ignored_checkpoint_defaults(),
        }

    async def prompt_text(self, input: list[ChatMessage]) -> str:
        """The prompt exactly as the chat template renders it for ``input`` (images as markers)."""
        conversation = await self._conversation(input)
        text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        return str(text)

    async def _conversation(self, input: list[ChatMessage]) -> list[dict[str, Any]]:
        messages = [await to_hf_message(m) for m in input]
        # `_neutralise` is looked up at call time so a test can switch marker neutralising off
        return self.engine.conversation(messages, _neutralise)

    # -- inspect hooks ---------------------------------------------------------------------------
    def max_tokens(self) -> int | None:
        """Default new-token budget (the paper's 1024)."""
        return DEFAULT_MAX_TOKENS

    def max_connections(self) -> int:
        """Enough concurrent requests to fill a batch."""
        return self.batch_size

    def collapse_user_messages(self) -> bool:
        """Consecutive user turns merge into one (keeping every content block in order)."""
        return True

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.model = None
        self.processor = None
        engine: LoadedVLM | None = getattr(self, "engine", None)
        if engine is not None:
            engine.model = engine.processor = None

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        """Queue this conversation for the next batched forward pass and await its completion."""
        if tools:
            raise ValueError("hfvlm does not support tool calling")
        conversation = await self._conversation(input)
        loop = asyncio.get_running_loop()
        request = _Request(conversation, self.generate_kwargs(config), loop.create_future())
        self._pending.append(request)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        start = time.monotonic()
        text, n_in, n_out = await request.future
        return ModelOutput(
            model=self.model_name,
            choices=[ChatCompletionChoice(
                message=ChatMessageAssistant(content=text, model=self.model_name, source="generate"),
                stop_reason="max_tokens" if n_out >= request.gen_kwargs["max_new_tokens"] else "stop",
            )],
            usage=ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out),
            time=time.monotonic() - start,
        )

    # -- batching --------------------------------------------------------------------------------
    async def _drain(self) -> None:
        """Run batches while requests are pending (one forward pass at a time, off the event loop)."""
        while self._pending:
            if len(self._pending) < self.batch_size:
                await asyncio.sleep(self.batch_wait_s)  # let concurrent samples join the batch
            key = self._pending[0].key
            batch = [r for r in self._pending if r.key == key][: self.batch_size]
            for r in batch:
                self._pending.remove(r)
            try:
                results = await asyncio.to_thread(self._generate_batch, batch)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting sample(s)
                if len(batch) == 1:
                    if not batch[0].future.done():
                        batch[0].future.set_exception(exc)
                    continue
                # One bad request must not fail its batch-mates: rerun each alone, so only it fails.
                logger.warning("hfvlm: a batch of %d failed (%s); retrying its requests one by one",
                               len(batch), str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                for r in batch:
                    try:
                        (result,) = await asyncio.to_thread(self._generate_batch, [r])
                    except Exception as single_exc:  # noqa: BLE001 - this request's own failure
                        if not r.future.done():
                            r.future.set_exception(single_exc)
                    else:
                        if not r.future.done():
                            r.future.set_result(result)
                continue
            for r, result in zip(batch, results, strict=True):
                if not r.future.done():
                    r.future.set_result(result)

    def _generate_batch(self, batch: list[_Request]) -> list[tuple[str, int, int]]:
        return generate_batch(self.model, self.processor, self.device, [r.conversation for r in batch],
                              batch[0].gen_kwargs)


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


@modelapi(name="hfvlm")
def hfvlm() -> type[ModelAPI]:
    """Register `hfvlm/...` with inspect (torch loads only when a model is created)."""
    return HFVLMAPI
