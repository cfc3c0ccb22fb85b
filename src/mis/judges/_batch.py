"""Batch judging: the judge's requests go through the provider's batch API (inspect's ``batch`` setting).

inspect gathers the requests of every sample in flight into batches (one JSONL file per batch: ``POST
/v1/files``, ``POST /v1/batches``, polled with ``GET /v1/batches/{id}``, results from ``GET
/v1/files/{id}/content``) and hands each request its own reply, so a judge protocol does not change: the
request, its parse, the failure policy and the verdict's identity are those of one-by-one judging. A request
whose batch fails, expires or returns an error line for it is a transport failure like any other: retried
(``--judge-attempts``, in a later batch), then ``unknown``, and a rerun retries it.

Resume: a sample's judgement is checkpointed when its batch's results come back. A run killed with a batch
in flight loses nothing finished; the rerun sends the unfinished samples again in new batches (the batch left
at the provider is still billed; cancel it there). No sample is counted twice.

One repair of inspect (0.3.285): an OpenAI batch reports a request the API refused (HTTP 4xx/5xx) as a line
of its error file with ``error: null`` and the refusal in ``response`` (``status_code``, ``body.error``);
inspect reads such a line as a completion, fails to, and fails every request of the batch; and a line with an
``error`` object becomes an exception whose message is only "The request instance has not been set on this
response" (the HTTP response it builds has no request). :func:`prepare`
gives OpenAI judges (chat completions) a batcher that reads such a line as that request's own HTTP error, so
one refused request is one ``transport`` failure (retried under ``--judge-attempts``), not a lost batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from inspect_ai.model import GenerateConfig, Model

logger = logging.getLogger(__name__)


def prepare(model: Model, config: GenerateConfig) -> None:
    """Give an OpenAI judge model a batcher of this event loop, line-tolerant (other providers: inspect's).

    inspect memoizes a model, and its batcher runs a task on the event loop it was made in; a second run in
    the same process (``mis bench run`` over several benchmarks, a campaign's cells, a test) has a new loop,
    where the old batcher's requests would wait forever. So each loop gets its own batcher.
    """
    try:
        from inspect_ai.model._generate_config import normalized_batch_config
        from inspect_ai.model._providers.openai import OpenAIAPI
        from inspect_ai.model._retry import batch_admin_retry_config
        from openai.types.chat import ChatCompletion
    except ImportError:  # another inspect: its own batcher, without the repair
        logger.debug("inspect's OpenAI batcher internals moved; using it unrepaired")
        return
    api = model.api
    batch = normalized_batch_config(config.batch)
    if not isinstance(api, OpenAIAPI) or batch is None:
        return
    loop = asyncio.get_running_loop()
    if getattr(api, "_mis_batcher_loop", None) is loop:
        return
    retry = batch_admin_retry_config(
        api.model_name,
        config,
        api.should_retry,
        qualified_model_name=getattr(api, "qualified_model_name", None),
    )
    api._completions_batcher = _batcher_class()(api.client, batch, retry, ChatCompletion)
    api._responses_batcher = None  # inspect makes its own in this loop when the Responses API is used
    api._mis_batcher_loop = loop  # type: ignore[attr-defined]
    logger.debug("judge %s: line-tolerant OpenAI batcher (size %s)", api.model_name, batch.size)


_BATCHER: Any = None


def _batcher_class() -> Any:
    """The OpenAI batcher that reads a refused request's line as that request's error (module docstring)."""
    global _BATCHER
    if _BATCHER is not None:
        return _BATCHER
    import httpx2
    from inspect_ai.model._providers._openai_batch import OpenAIBatcher

    class LineTolerantBatcher(OpenAIBatcher):  # type: ignore[type-arg,misc]
        def _parse_jsonl_line(self, line_data: dict[str, Any]) -> tuple[str, Any]:
            custom_id = str(line_data.get("custom_id") or "")
            response = line_data.get("response")
            status = response.get("status_code") if isinstance(response, dict) else None
            error = line_data.get("error")
            if error is None and isinstance(status, int) and status >= 400:
                body = response.get("body") if isinstance(response, dict) else None
                detail = body.get("error") if isinstance(body, dict) else None
                message = detail.get("message") if isinstance(detail, dict) else None
                return custom_id, self._status_error(
                    status, str(message or f"HTTP {status} in the error file")
                )
            if isinstance(
                error, dict
            ):  # a request that failed before any HTTP status (OpenAI's `error` object)
                code = error.get("code")
                return custom_id, self._status_error(
                    code if isinstance(code, int) else 500,
                    str(error.get("message") or code or "batch request failed"),
                )
            return super()._parse_jsonl_line(line_data)  # type: ignore[no-any-return]

        def _status_error(self, status: int, message: str) -> Exception:
            # the client's status errors need the request on the response (inspect's own lines lack it and
            # raise "The request instance has not been set on this response" instead)
            request = httpx2.Request("POST", f"{self._openai_client.base_url}{self.endpoint.lstrip('/')}")
            response = httpx2.Response(status_code=status, text=message, request=request)
            return self._openai_client._make_status_error_from_response(response)  # type: ignore[no-any-return]

    _BATCHER = LineTolerantBatcher
    return _BATCHER
