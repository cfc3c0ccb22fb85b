"""`hfvlm/<path or hub id>`: an inspect model provider for in-process transformers VLMs.

Any checkpoint that loads with `AutoModelForImageTextToText` + `AutoProcessor` works (a local folder,
a hub id, a `mis train` output). Messages keep their structured content blocks, so several images per
turn reach the processor's chat template in the order they appear (MIS: image, image, question).
Concurrent `generate()` calls are gathered into one left-padded batched forward pass of up to
`batch_size` requests (the pattern of inspect's own `hf` provider); retries, concurrency limits and
logging stay inspect's. torch and transformers are imported only when a model is created.

Model args (`-M key=value`, or `--model-arg` in `mis eval`): `batch_size` (default 8), `device`
(`cuda`, `mps`, `cpu`; default: the best available), `dtype` (`auto`, `bfloat16`, `float16`,
`float32`; default bfloat16 on cuda, float32 elsewhere), `trust_remote_code` (default false),
`family` (`auto` or a name from `mis.models.families`: apply that family's processor settings, e.g.
Qwen's pixel bounds), `batch_wait_s` (how long to wait for more requests before a batch runs).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ContentImage,
    ContentText,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
DEFAULT_MAX_TOKENS = 1024


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
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        from mis.models.families import FAMILIES, family_of

        self.batch_wait_s = float(model_args.pop("batch_wait_s", 0.05))
        self.device = str(model_args.pop("device", None) or _best_device(torch))
        dtype_name = str(model_args.pop("dtype", "auto"))
        trust = _as_bool(model_args.pop("trust_remote_code", False))
        family_name = model_args.pop("family", None)
        token = self.api_key  # only ever from the environment (HF_TOKEN), via inspect

        try:
            hf_config = AutoConfig.from_pretrained(model_name, trust_remote_code=trust, token=token)
        except OSError as exc:
            raise ValueError(f"hfvlm: cannot load {model_name!r}: not a model folder, and not found on the "
                             f"hub or in its cache ({str(exc).splitlines()[0]})") from exc
        processor_kwargs: dict[str, Any] = {}
        if family_name:
            family = family_of(hf_config.model_type) if family_name == "auto" else FAMILIES.get(family_name)
            if family is None and family_name != "auto":
                raise ValueError(f"hfvlm: unknown family {family_name!r}; known: {', '.join(FAMILIES)}")
            if family is not None:
                processor_kwargs.update(family.processor_kwargs)
        processor_kwargs.update(model_args.pop("processor_kwargs", {}) or {})
        self.processor = AutoProcessor.from_pretrained(model_name, trust_remote_code=trust, token=token,
                                                       **processor_kwargs)
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"  # decoder-only generation: pad on the left
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        dtype = _dtype(torch, dtype_name, self.device)
        model = AutoModelForImageTextToText.from_pretrained(
            model_name, dtype=dtype, trust_remote_code=trust, token=token, **model_args
        )
        self.model = model.to(torch.device(self.device))  # type: ignore[arg-type]  # transformers stub
        self.model.eval()
        self._reserved = _reserved_markers(self.processor)
        logger.info("hfvlm: %s on %s (%s), batch size %d", model_name, self.device, dtype, self.batch_size)

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
        conversation = [_neutralise(await _to_hf_message(m), self._reserved) for m in input]
        loop = asyncio.get_running_loop()
        request = _Request(conversation, _gen_kwargs(config, self.max_tokens()), loop.create_future())
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
        import torch

        inputs = self.processor.apply_chat_template(
            [r.conversation for r in batch],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            processor_kwargs={"padding": True},
        ).to(self.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        pad_id = self.processor.tokenizer.pad_token_id
        with torch.inference_mode():
            sequences = self.model.generate(**inputs, **batch[0].gen_kwargs, pad_token_id=pad_id)
        prompt_len = inputs["input_ids"].shape[1]
        new_tokens = sequences[:, prompt_len:]  # (batch, new) - left padding aligns every prompt end
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        out = []
        for i, text in enumerate(texts):
            n_in = int(inputs["attention_mask"][i].sum())
            n_out = int(_count_generated(new_tokens[i], self.model.generation_config, pad_id))
            out.append((text.strip(), n_in, n_out))
        return out


def _count_generated(tokens: Any, generation_config: Any, pad_id: int | None) -> int:
    """Generated tokens up to and including the first stop token (the rest is batch padding)."""
    eos = generation_config.eos_token_id
    stop = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    n = 0
    for tok in tokens.tolist():
        n += 1
        if tok in stop:
            break
    return n


def _gen_kwargs(config: GenerateConfig, default_max_tokens: int | None) -> dict[str, Any]:
    """Greedy unless a positive temperature is asked for; always a bounded number of new tokens."""
    kwargs: dict[str, Any] = {"max_new_tokens": config.max_tokens or default_max_tokens or DEFAULT_MAX_TOKENS}
    if config.temperature is not None and config.temperature > 0:
        kwargs.update(do_sample=True, temperature=config.temperature)
        if config.top_p is not None:
            kwargs["top_p"] = config.top_p
        if config.top_k is not None:
            kwargs["top_k"] = config.top_k
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


async def _to_hf_message(message: ChatMessage) -> dict[str, Any]:
    """An inspect message as a transformers chat message with structured content blocks (order kept)."""
    if isinstance(message.content, str):
        return {"role": message.role, "content": [{"type": "text", "text": message.content}]}
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ContentText):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ContentImage):
            blocks.append({"type": "image", "image": _load_image(part.image)})
        else:
            raise ValueError(f"hfvlm: unsupported content type {part.type!r} (text and images only)")
    return {"role": message.role, "content": blocks}


def _reserved_markers(processor: Any) -> dict[str, str]:
    """The processor's image/video marker strings, each mapped to an inert spelling.

    A literal marker such as ``<image>`` inside user text would be expanded by the processor into
    image tokens with no image behind them ("image features and image tokens do not match"), so text
    parts never carry them verbatim: ``<image>`` becomes ``[image]``.
    """
    names = ("image_token", "video_token", "fake_image_token", "global_image_tag", "vision_start_token",
             "vision_end_token", "image_start_token", "image_end_token")
    markers = {getattr(processor, n, None) for n in names} | {
        getattr(processor.tokenizer, n, None) for n in names}
    return {m: "[" + m.strip("<>|") + "]" for m in markers if isinstance(m, str) and m.strip()}


def _neutralise(message: dict[str, Any], reserved: dict[str, str]) -> dict[str, Any]:
    """``message`` with reserved image markers in its text blocks replaced by inert text."""
    for block in message["content"]:
        if block["type"] == "text":
            for marker, inert in reserved.items():
                if marker in block["text"]:
                    block["text"] = block["text"].replace(marker, inert)
    return message


def _load_image(ref: str) -> Any:
    """A PIL RGB image from a data URI or a local path (remote URLs are not fetched)."""
    from PIL import Image

    if ref.startswith("data:"):
        data = base64.b64decode(ref.split(",", 1)[1])
        return Image.open(io.BytesIO(data)).convert("RGB")
    if ref.startswith(("http://", "https://")):
        raise ValueError(f"hfvlm: remote image URLs are not fetched: {ref[:80]}")
    with Image.open(ref) as im:
        return im.convert("RGB")


def _best_device(torch: Any) -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _dtype(torch: Any, name: str, device: str) -> Any:
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]
    except KeyError:
        raise ValueError(f"hfvlm: dtype must be auto, bfloat16, float16 or float32, got {name!r}") from None


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


@modelapi(name="hfvlm")
def hfvlm() -> type[ModelAPI]:
    """Register `hfvlm/...` with inspect (torch loads only when a model is created)."""
    return HFVLMAPI
