"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose replies a test scripts.

It speaks the parts of the API that inspect's `openai-api/...` provider, the `openai` client and our
own backends use: `GET /v1/models`, `POST /v1/chat/completions` (non-streaming) and
`POST /v1/images/generations` (b64_json); ``file://`` image URLs are read inside ``allowed_local_media_path``
only, as vLLM's option of that name does. Every request is recorded, parsed body and raw bytes, so a
test can assert what a judge or a pipeline step actually sent (both images, the rubric, delimiters,
and that no byte of some file ever arrived). :class:`mis.testing.FaultyOpenAIServer` adds faults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class ScriptedReply:
    """A scripted answer: text content, or an HTTP error status (e.g. 500 for a transient failure)."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    finish_reason: str = "stop"


ChatResponder = Callable[[dict[str, Any]], "str | ScriptedReply"]
ImageResponder = Callable[[dict[str, Any]], bytes]


def message_text(body: dict[str, Any]) -> str:
    """All text of a chat request's messages joined by newlines (image parts skipped)."""
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
    return "\n".join(parts)


def count_images(body: dict[str, Any]) -> int:
    """Number of image parts in a chat request."""
    n = 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            n += sum(1 for p in content if p.get("type") == "image_url")
    return n


class _QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that does not print tracebacks when a client (or a fault) drops a socket."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: D102 - stdlib hook
        return


class ScriptedOpenAIServer:
    """Serve scripted OpenAI-style replies on 127.0.0.1 from a background thread.

    Use as a context manager; ``base_url`` ends in ``/v1`` as the OpenAI client expects.
    """

    def __init__(
        self,
        chat: ChatResponder | None = None,
        images: ImageResponder | None = None,
        model_ids: tuple[str, ...] = ("scripted",),
        api_key: str | None = None,
        allowed_local_media_path: str | Path | None = None,
    ) -> None:
        self.chat = chat
        self.allowed_local_media_path = (Path(os.path.realpath(allowed_local_media_path))
                                         if allowed_local_media_path is not None else None)
        self.local_media: list[tuple[str, str]] = []
        """(path, sha256) of every ``file://`` image a chat request named and the server read, in order."""
        self.images = images
        self.model_ids = model_ids
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        """Bind an ephemeral port on 127.0.0.1 and serve until :meth:`stop`."""
        self._stopping.clear()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._stopping.set()  # releases handlers that hang on purpose
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        """Recorded chat-completion request bodies, in arrival order."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def received_bytes(self) -> bytes:
        """Every request body as received on the wire, concatenated (for "did X ever arrive?" checks)."""
        with self._lock:
            return b"".join(r["raw"] for r in self.requests)

    def read_local_media(self, body: dict[str, Any]) -> str | None:
        """Read each ``file://`` image of a chat request as vLLM does; the refusal message, or None.

        Like ``vllm serve --allowed-local-media-path DIR``: a local file is read only when it lies inside DIR
        (symlinks resolved); without the option, or outside it, the request is a 400.
        """
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else []:
                url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
                if not isinstance(url, str) or not url.startswith("file://"):
                    continue
                if self.allowed_local_media_path is None:
                    return "Cannot load local files without `--allowed-local-media-path`."
                real = Path(os.path.realpath(unquote(urlparse(url).path)))
                if not real.is_relative_to(self.allowed_local_media_path):
                    return f"The file path {real} must be a subpath of `--allowed-local-media-path` " \
                           f"{self.allowed_local_media_path}."
                try:
                    data = real.read_bytes()
                except OSError as exc:
                    return f"Cannot read local file {real}: {exc.strerror}"
                with self._lock:
                    self.local_media.append((str(real), hashlib.sha256(data).hexdigest()))
        return None

    # -- responding (subclasses hook in here) --------------------------------------------------------
    def respond_chat(self, handler: Any, body: dict[str, Any], index: int) -> None:
        """Answer one chat request (``index`` counts chat requests from 1) through ``handler``."""
        handler.send_chat(self.chat_reply(body), body)

    def chat_reply(self, body: dict[str, Any]) -> ScriptedReply:
        """The scripted reply to ``body`` (a script that raises is a 500, like a real server)."""
        assert self.chat is not None
        try:
            reply = self.chat(body)
        except Exception as exc:  # noqa: BLE001 - a broken script is a 500, like a real server
            return ScriptedReply(f"script error: {exc}", status=500)
        return ScriptedReply(content=reply) if isinstance(reply, str) else reply

    def completion(self, body: dict[str, Any], content: str, finish_reason: str = "stop") -> dict[str, Any]:
        """An OpenAI chat.completion object answering ``body`` with ``content``."""
        prompt_tokens = len(message_text(body).split())
        completion_tokens = len(content.split())
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    # -- handler ---------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return  # quiet: tests read `server.requests` instead

            def _send(self, status: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_raw(status, data, headers=headers)

            def send_raw(self, status: int, data: bytes, *, length: int | None = None,
                         headers: dict[str, str] | None = None) -> None:
                """Send ``data`` with a Content-Length of ``length`` (default: the true length)."""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data) if length is None else length))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def send_chat(self, reply: ScriptedReply, body: dict[str, Any]) -> None:
                """Send a scripted reply (after its delay): an error status, or a completion."""
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.content or "scripted error"}})
                    return
                self._send(200, server.completion(body, reply.content, reply.finish_reason))

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, {"error": {"message": "invalid api key", "type": "auth"}})
                return False

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "mis"} for m in server.model_ids]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                if not self._authorised():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "raw": raw,
                                            "headers": dict(self.headers.items())})
                    index = sum(1 for r in server.requests if r["path"].endswith("/chat/completions"))
                if not isinstance(body, dict):
                    self._send(400, {"error": {"message": "request body is not a JSON object"}})
                elif self.path.endswith("/chat/completions") and server.chat is not None:
                    refused = server.read_local_media(body)
                    if refused:
                        self._send(400, {"error": {"message": refused, "type": "BadRequestError"}})
                    else:
                        server.respond_chat(self, body, index)
                elif self.path.endswith("/images/generations") and server.images is not None:
                    png = server.images(body)
                    n = int(body.get("n") or 1)
                    item = {"b64_json": base64.b64encode(png).decode()}
                    self._send(200, {"created": int(time.time()), "data": [item] * n})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

        return Handler
