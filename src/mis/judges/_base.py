"""What every judge shares: settings, identity, the one model factory and the one failure policy.

Failure policy: a judgement that cannot be obtained is ``unknown`` with its reason recorded, counted in the
denominator, never silent. Transport failures (connection errors, timeouts, HTTP 408/429/5xx, empty or
undecodable bodies) are retried with exponential backoff up to ``attempts`` times; a 4xx the server will
answer the same way again is not retried. Only then does the sample become ``unknown`` (reason
``transport: ...``), so one flaky judge never aborts a run, and a rerun on the same folder retries exactly
those samples (see :mod:`mis.eval.runner`).

Batch judging (``JudgeSettings.batch``) changes how a request travels, not what it asks: inspect gathers the
requests of the samples in flight into the provider's batch API (:mod:`mis.judges._batch`), each request
still gets its own reply, parse and failure policy, and neither the verdict's identity nor the judge cache
key depends on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from inspect_ai.model import BatchConfig, ChatMessage, GenerateConfig, Model, get_model
from inspect_ai.scorer import Score, Scorer, Target
from inspect_ai.solver import TaskState

from mis._util import fast_json
from mis._util.file_media import inline_at_the_boundary
from mis._util.providers import key_args
from mis.judges._cache import JudgeCache, request_key

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
#: Prefix of the ``judge_error`` of a judgement lost to transport failures (a rerun retries these).
TRANSPORT = "transport"
#: A judge reply's budget when neither the user nor the protocol sets one.
DEFAULT_MAX_TOKENS = 512
#: HTTP statuses a retry can fix.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class JudgeSettings:
    """Which model judges and how it is called (the same for every protocol)."""

    model: str | None = None
    """inspect model string of the judge; None: the model bound to inspect's ``grader`` role."""
    base_url: str | None = None
    """OpenAI-compatible base URL (a vLLM server, any local server)."""
    max_tokens: int | None = None
    """Decoding budget of a judge reply (None: the protocol's: MIS paper 128, Llama Guard 20, others 512)."""
    temperature: float = 0.0
    """0 = greedy, as every protocol here prescribes."""
    max_connections: int | None = None
    """Concurrent judge requests (default: the provider's)."""
    request_timeout: float = 120.0
    """Seconds one judge request may take before it is abandoned and retried."""
    attempts: int = 4
    """Tries per request before a transport failure makes the sample ``unknown``."""
    cache: bool = True
    """Reuse a stored accepted reply for an identical request (:mod:`mis.judges._cache`)."""
    batch: bool = False
    """Send the requests through the provider's batch API (inspect's ``batch``; :mod:`mis.judges._batch`)."""
    batch_size: int = 100
    """Batch mode: a batch is sent once it holds this many requests (or after ``batch_delay``)."""
    batch_delay: float = 15.0
    """Batch mode: seconds a partly filled batch waits for more requests before it is sent."""
    batch_poll: float = 15.0
    """Batch mode: seconds between two status checks of the batches in flight."""

    def generate_config(self, max_tokens: int | None = None, **extra: Any) -> GenerateConfig:
        """The decoding config of a judge request: one bounded attempt per call (:func:`ask` retries).

        In batch mode a request waits for its batch (the provider's window is 24 h), so it has no timeout:
        abandoning it would leave it billed in its batch and send it again in another.
        """
        seconds = None if self.batch else max(1, round(self.request_timeout))
        return GenerateConfig(
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens or DEFAULT_MAX_TOKENS,
            max_connections=self.max_connections,
            attempt_timeout=seconds,
            timeout=seconds,
            max_retries=0,
            batch=self.batch_config(),
            **extra,
        )

    def batch_config(self) -> BatchConfig | None:
        """Inspect's batch settings of these judge settings (None: one request at a time)."""
        if not self.batch:
            return None
        return BatchConfig(
            size=self.batch_size, max_size=self.batch_size, send_delay=self.batch_delay, tick=self.batch_poll
        )


@dataclass(frozen=True)
class Judge:
    """A judge bound to its settings: what made the verdicts (identity), and the scorer that makes them.

    ``identity`` holds ``judge`` (model string or a fixed name), ``judge_protocol``, ``judge_prompt_sha256``
    (sha256 of the exact template texts, None for rule-based judges) and ``judge_config`` (decoding).
    """

    identity: dict[str, Any]
    scorer: Scorer
    metadata_keys: tuple[str, ...] = field(default=())
    """Protocol-specific score metadata copied into each samples.jsonl row."""

    @property
    def protocol(self) -> str:
        """The protocol name (``mis-v1``, ``llama-guard-3`` ...)."""
        return str(self.identity["judge_protocol"])


def identity(judge: str | None, protocol: str, prompt_sha256: str | None, **config: Any) -> dict[str, Any]:
    """The identity shape every judge records (results.json and each sample row carry it)."""
    return {
        "judge": judge,
        "judge_protocol": protocol,
        "judge_prompt_sha256": prompt_sha256,
        "judge_config": config,
    }


def settings_config(settings: JudgeSettings, **overrides: Any) -> dict[str, Any]:
    """The decoding part of the identity (what changes a verdict), from the settings."""
    data = asdict(settings)
    return {k: data[k] for k in ("temperature", "max_tokens")} | overrides


def judge_model(settings: JudgeSettings, config: GenerateConfig) -> Model:
    """The judge model: ``settings.model`` (placeholder key for a keyless local server) or the grader role."""
    fast_json.install()  # the client's request bodies (two base64 images each): same bytes, less CPU
    if settings.model is None:
        model = get_model(role="grader", required=True, config=config)
    else:
        model = get_model(
            settings.model,
            config=config,
            base_url=settings.base_url,
            memoize=True,
            **key_args(settings.model, settings.base_url),
        )
    if config.batch:
        from mis.judges._batch import prepare

        prepare(model, config)
    return inline_at_the_boundary(model)  # the run's file markers become data URIs for the provider only


@dataclass(frozen=True)
class Reply:
    """A judge's reply text, or why there is none."""

    text: str | None
    error: str = ""
    attempts: int = 1
    stop_reason: str | None = None
    cache_key: str | None = None
    """The request's judge-cache key (None: the cache is off)."""
    cached: bool = False
    """True when the text came from the judge cache (nothing was sent)."""

    def accept(self) -> None:
        """The protocol accepted this reply: keep it for identical requests (a no-op when cached or off)."""
        if self.cache_key is not None and not self.cached and self.text is not None:
            JudgeCache().put(self.cache_key, self.text)


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def describe(exc: BaseException) -> str:
    """``ErrorType (HTTP 400): first line of the provider's message``; never the request (it holds images)."""
    cause = exc.__cause__ if exc.__cause__ is not None and hasattr(exc, "provider_message") else None
    name = type(cause or exc).__name__
    message = getattr(exc, "provider_message", None) or str(cause or exc)
    first = next((line.strip() for line in str(message).splitlines() if line.strip()), "")[:200]
    status = _status(exc)
    return f"{name}{f' (HTTP {status})' if status else ''}{': ' + first if first else ''}"


def retryable(exc: BaseException) -> bool:
    """Whether a retry can fix this failure (4xx other than 408/409/425/429 cannot)."""
    status = _status(exc)
    return status is None or status in RETRYABLE_STATUS


async def ask(
    model: Model,
    messages: list[ChatMessage],
    config: GenerateConfig,
    attempts: int,
    *,
    backoff_s: float = 0.5,
) -> Reply:
    """Send one judge request under the failure policy (module docstring); never raises for transport."""
    error = ""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            output = await model.generate(messages, config=config)
        except Exception as exc:  # noqa: BLE001 - every transport failure becomes a reason, then unknown
            error = f"{TRANSPORT}: {describe(exc)}"
            logger.debug("judge attempt %d/%d failed: %s", attempt, attempts, error)
            if not retryable(exc) or attempt == attempts:
                return Reply(None, error, attempt)
            await asyncio.sleep(min(backoff_s * 2 ** (attempt - 1), 8.0))
            continue
        if output.error:
            error = f"{TRANSPORT}: {output.error}"
            if attempt == attempts:
                return Reply(None, error, attempt)
            await asyncio.sleep(min(backoff_s * 2 ** (attempt - 1), 8.0))
            continue
        if output.stop_reason == "content_filter":
            return Reply(
                None, "the judge's provider filtered the reply (content_filter)", attempt, output.stop_reason
            )
        return Reply(output.completion, "", attempt, output.stop_reason)
    return Reply(None, error or f"{TRANSPORT}: no reply", attempts)


async def ask_judge(
    settings: JudgeSettings, model: Model, messages: list[ChatMessage], config: GenerateConfig
) -> Reply:
    """:func:`ask`, unless the judge cache holds an accepted reply to this exact request.

    The caller calls ``reply.accept()`` once the reply parsed under its protocol, so only accepted replies
    are ever stored (transport failures, filtered and malformed replies are asked again on a rerun).
    """
    if not settings.cache:
        return await ask(model, messages, config, settings.attempts)
    # the server that actually answers (a base URL from --judge-base-url or the provider's env variable)
    served_by = getattr(model.api, "base_url", None) or settings.base_url
    key = request_key(settings.model or str(model), served_by, messages, config)
    text = JudgeCache().get(key)
    if text is not None:
        logger.debug("judge cache hit %s", key[:12])
        return Reply(text, "", 0, cache_key=key, cached=True)
    reply = await ask(model, messages, config, settings.attempts)
    return replace(reply, cache_key=key)


def score(
    value: float | str,
    label: str,
    response: str,
    ident: dict[str, Any],
    *,
    raw: Any = None,
    error: str = "",
    explanation: str | None = None,
    **extra: Any,
) -> Score:
    """The Score every judge returns: a numeric (or C/I) value for inspect, the label and identity for mis."""
    return Score(
        value=value,
        answer=response,
        explanation=explanation if explanation is not None else (raw if isinstance(raw, str) else error),
        metadata={"label": label, "judge_raw": raw, "judge_error": error or None, **ident, **extra},
    )


MessagesOf = Callable[[TaskState], Awaitable[list[ChatMessage]]]
LabelOf = Callable[[str | None], tuple[str, dict[str, Any]]]


def labelled_judge(
    settings: JudgeSettings,
    protocol: str,
    prompt_sha256: str | None,
    *,
    messages: MessagesOf,
    parse: LabelOf,
    value: Callable[[str, TaskState], float],
    expect: str,
    empty: str | None = None,
    max_tokens: int | None = None,
    metadata_keys: tuple[str, ...] = (),
    **config: Any,
) -> Judge:
    """A protocol of one judge request whose reply parses into a label (every benchmark judge but MIS's).

    ``messages`` builds the request from the sample, ``parse`` turns the reply into ``(label, extra
    metadata)`` (``unknown`` when it does not follow the protocol, with ``expect`` saying what was expected),
    ``value`` is the number inspect shows for a label, and ``empty`` is the label an empty response gets
    without a call (the SIUO and MOSSBench authors' rule).
    """
    budget = settings.max_tokens or max_tokens or DEFAULT_MAX_TOKENS
    ident = identity(
        settings.model, protocol, prompt_sha256, temperature=settings.temperature, max_tokens=budget, **config
    )
    generate_config = settings.generate_config(max_tokens=budget)

    async def run(state: TaskState, target: Target) -> Score:
        response = state.output.completion
        if empty is not None and not response.strip():
            return score(
                value(empty, state), empty, response, ident, rule=f"an empty response counts as {empty}"
            )
        model = judge_model(settings, generate_config)
        reply = await ask_judge(settings, model, await messages(state), generate_config)
        label, extra = parse(reply.text) if reply.text is not None else (UNKNOWN, {})
        if label != UNKNOWN:
            reply.accept()
        error = reply.error or ("" if label != UNKNOWN else f"reply does not follow the protocol ({expect})")
        return score(
            value(label, state),
            label,
            response,
            {**ident, "judge": settings.model or str(model)},
            raw=reply.text,
            error=error,
            **extra,
        )

    return Judge(identity=ident, scorer=run, metadata_keys=metadata_keys)
