"""The scripted loopback server, with OpenAI's Batch API on top: what ``--judge-batch`` talks to in tests.

It speaks the endpoints inspect's OpenAI batcher uses (``POST /v1/files`` multipart upload with
``purpose=batch``, ``POST /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``,
``GET /v1/files/{id}/content``) with OpenAI's documented shapes: a batch is ``validating`` when created,
``in_progress`` while polled, then ``completed`` with an output file (HTTP 200 lines) and an error file (lines
whose request the API refused: ``response.status_code`` >= 400 and ``error: null``, as OpenAI writes them).
Each line's body is answered by the same chat script as a direct request, so a batch run and a direct run of
the same script give the same replies. A test can hold batches ``in_progress`` (to kill a client mid-batch)
or fail chosen batches outright (``status: failed``, OpenAI's whole-batch rejection).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mis.testing._openai_server import ChatResponder, ScriptedOpenAIServer


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    number: int
    created_at: int
    lines: list[dict[str, Any]]
    status: str = "validating"
    polls: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: dict[str, Any] | None = None


class BatchOpenAIServer(ScriptedOpenAIServer):
    """:class:`ScriptedOpenAIServer` plus the Batch API (module docstring).

    ``polls_to_finish``: status checks a batch answers ``in_progress`` before it completes. ``fail_batches``:
    numbers (from 1, in creation order) of batches rejected as a whole. ``hold()`` keeps every batch in
    progress until ``release()``.
    """

    def __init__(
        self,
        chat: ChatResponder,
        *,
        model_ids: tuple[str, ...] = ("scripted",),
        api_key: str | None = None,
        polls_to_finish: int = 1,
        fail_batches: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(chat=chat, model_ids=model_ids, api_key=api_key)
        self.polls_to_finish = polls_to_finish
        self.fail_batches = fail_batches
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self._held = threading.Event()

    # -- what a test reads ------------------------------------------------------------------------
    def hold(self) -> None:
        """Keep every batch ``in_progress`` (nothing completes) until :meth:`release`."""
        self._held.set()

    def release(self) -> None:
        """Let held batches complete at their next status check."""
        self._held.clear()

    def batch_bodies(self) -> list[list[dict[str, Any]]]:
        """The chat-completion bodies of each batch created, in creation order."""
        with self._lock:
            ordered = sorted(self.batches.values(), key=lambda b: b.number)
            return [[line["body"] for line in b.lines] for b in ordered]

    def batch_statuses(self) -> list[str]:
        """Each created batch's status, in creation order."""
        with self._lock:
            return [b.status for b in sorted(self.batches.values(), key=lambda b: b.number)]

    # -- the Batch API --------------------------------------------------------------------------------
    def _upload(self, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in parts or "purpose" not in parts:
            return 400, {"error": {"message": "a file upload needs 'file' and 'purpose' parts"}}
        purpose = parts["purpose"].get_content().strip()
        payload = parts["file"].get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": parts["file"].get_filename() or "batch.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = str(body.get("input_file_id"))
        with self._lock:
            data = self.files.get(file_id)
            if data is None:
                return 404, {"error": {"message": f"no file {file_id}"}}
            number = len(self.batches) + 1
            batch = _Batch(
                id=f"batch_{number}",
                input_file_id=file_id,
                endpoint=str(body.get("endpoint")),
                number=number,
                created_at=int(time.time()),
                lines=[json.loads(line) for line in data.splitlines() if line.strip()],
            )
            batch.counts["total"] = len(batch.lines)
            self.batches[batch.id] = batch
        return 200, self._batch_object(batch)

    def _retrieve(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {"error": {"message": f"no batch {batch_id}"}}
        if batch.status in ("validating", "in_progress"):
            batch.polls += 1
            batch.status = "in_progress"
            if batch.polls >= self.polls_to_finish and not self._held.is_set():
                self._finish(batch)
        return 200, self._batch_object(batch)

    def _finish(self, batch: _Batch) -> None:
        """Answer every line with the chat script (or reject the batch as a whole)."""
        if batch.number in self.fail_batches:
            batch.status = "failed"
            batch.errors = {
                "object": "list",
                "data": [
                    {
                        "code": "scripted_failure",
                        "message": f"batch {batch.number} rejected by the test",
                        "line": i + 1,
                    }
                    for i in range(len(batch.lines))
                ],
            }
            return
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for i, line in enumerate(batch.lines):
            reply = self.chat_reply(line["body"])
            ok = reply.status == 200
            payload = (
                self.completion(line["body"], reply.content, reply.finish_reason)
                if ok
                else {"error": {"message": reply.content or "scripted error", "type": "scripted"}}
            )
            (output if ok else errors).append(
                {
                    "id": f"batch_req_{batch.number}_{i}",
                    "custom_id": line["custom_id"],
                    "response": {
                        "status_code": reply.status,
                        "request_id": f"req_{batch.number}_{i}",
                        "body": payload,
                    },
                    "error": None,
                }
            )
        with self._lock:
            for kind, rows in (("output", output), ("error", errors)):
                if rows:
                    file_id = f"file-{len(self.files) + 1}"
                    self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                    setattr(batch, f"{kind}_file_id", file_id)
            batch.counts.update(completed=len(output), failed=len(errors))
            batch.status = "completed"

    def _cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, {"error": {"message": f"no batch {batch_id}"}}
            if batch.status in ("validating", "in_progress"):
                batch.status = "cancelled"
        return 200, self._batch_object(batch)

    @staticmethod
    def _batch_object(batch: _Batch) -> dict[str, Any]:
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": batch.errors,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created_at,
            "request_counts": dict(batch.counts),
            "metadata": None,
        }

    # -- routing -----------------------------------------------------------------------------------
    def _handler_class(self) -> type[Any]:
        base = super()._handler_class()
        server = self

        class BatchHandler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                path = urlparse(self.path).path.rstrip("/")
                parts = path.split("/")
                if "/batches/" in path or (path.startswith("/v1/files/") and path.endswith("/content")):
                    if not self._authorised():
                        return
                    if parts[-2] == "batches":
                        self._send(*server._retrieve(parts[-1]))
                        return
                    with server._lock:
                        data = server.files.get(parts[-2])
                    if data is None:
                        self._send(404, {"error": {"message": f"no file {parts[-2]}"}})
                    else:
                        self.send_raw(200, data)
                    return
                super().do_GET()

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                path = urlparse(self.path).path.rstrip("/")
                if not (path.endswith("/files") or "/batches" in path):
                    super().do_POST()
                    return
                if not self._authorised():
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "body": None, "raw": raw, "headers": dict(self.headers.items())}
                    )
                if path.endswith("/files"):
                    self._send(*server._upload(self.headers.get("Content-Type", ""), raw))
                elif path.endswith("/cancel"):
                    self._send(*server._cancel(path.split("/")[-2]))
                else:
                    try:
                        body = json.loads(raw or b"{}")
                    except ValueError:
                        self._send(400, {"error": {"message": "request body is not a JSON object"}})
                        return
                    self._send(*server._create(body))

        return BatchHandler
