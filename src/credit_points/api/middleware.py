"""The guard in front of every request (pure ASGI): request id, body-size limit, concurrency limit, metrics.

- **Request id**: a client's ``X-Request-ID`` (when it is short and plain) or a fresh one; echoed back and
  used as the correlation id of errors and log lines.
- **Body size**: a ``Content-Length`` above the limit is answered 413 before any byte of the body is read;
  a body sent without a length is counted as it streams and cut off with 413 at the limit. Batch paths
  have their own, larger limit.
- **Body deadline**: a request must have sent its whole body within ``body_timeout_s`` of arriving; a
  client that stalls is answered 408 (``Connection: close``) and its slot is freed.
- **Overload**: more concurrent ``/v1`` and ``/admin`` requests than the limit are answered 503 at once
  (``Retry-After``), before authentication or any work, so an overloaded instance fails fast and stores
  nothing; health and metrics endpoints are never refused.
- **Per-key share**: more concurrent ``/v1`` and ``/admin`` requests presenting one key (by its public id
  ``cpk_<id>_…``) than ``max_concurrency_per_key`` are answered 429 at once, so one client (stalled or
  flooding) cannot hold every slot; other keys keep being decided.
- **Metrics**: count and latency by route template (never by raw path).
- **Micro-batching**: each ``POST /v1/decisions`` is announced to the batcher as it arrives, so a batch
  waits for requests already being read (see ``api.batcher``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_points.api.batcher import MicroBatcher
from credit_points.api.metrics import ApiMetrics

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEY_ID_RE = re.compile(r"^cpk_([0-9a-f]{12})_")
LIMITED_PREFIXES: tuple[str, ...] = ("/v1/", "/admin/")
BATCH_PATHS: frozenset[str] = frozenset({"/v1/decisions/batch"})
#: single requests the micro-batcher gathers (each is announced on arrival, see ``api.batcher``)
BATCHED_PATHS: frozenset[str] = frozenset({"/v1/decisions"})


class BodyTooLargeError(HTTPException):
    """The body grew past the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class BodyTimeoutError(HTTPException):
    """The client did not send its whole body in time."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408, f"the request body was not received within {timeout_s:g} s", headers={"Connection": "close"}
        )


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class GuardMiddleware:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_concurrency: int,
        metrics: ApiMetrics,
        max_batch_body_bytes: int | None = None,
        batcher: MicroBatcher[Any, Any] | None = None,
        body_timeout_s: float = 10.0,
        max_concurrency_per_key: int | None = None,
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.max_per_key = max_concurrency_per_key or max_concurrency
        self.per_key: dict[str, int] = {}
        self.batcher = batcher
        self.max_body_bytes = max_body_bytes
        self.max_batch_body_bytes = max_batch_body_bytes or max_body_bytes
        self.max_concurrency = max_concurrency
        self.metrics = metrics
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        status = 500
        limited = scope["path"].startswith(LIMITED_PREFIXES)
        body_limit = self.max_batch_body_bytes if scope["path"] in BATCH_PATHS else self.max_body_bytes

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            length = self._content_length(scope)
            if length is not None and length > body_limit:
                status = 413
                await _send_json(
                    send,
                    413,
                    {
                        "error": "body_too_large",
                        "message": f"the request body exceeds {body_limit} bytes",
                        "correlation_id": request_id,
                    },
                    [id_header, (b"connection", b"close")],
                )
                return
            if limited and self.in_flight >= self.max_concurrency:
                status = 503
                self.metrics.overload.inc()
                await _send_json(
                    send,
                    503,
                    {
                        "error": "overloaded",
                        "message": "too many concurrent requests; retry shortly",
                        "correlation_id": request_id,
                    },
                    [id_header, (b"retry-after", b"1")],
                )
                return
            bucket = self._key_bucket(scope) if limited else None
            if bucket is not None and self.per_key.get(bucket, 0) >= self.max_per_key:
                status = 429
                self.metrics.overload.inc()
                await _send_json(
                    send,
                    429,
                    {
                        "error": "too_many_concurrent_requests",
                        "message": f"this API key already has {self.max_per_key} requests in flight; "
                        "retry shortly",
                        "correlation_id": request_id,
                    },
                    [id_header, (b"retry-after", b"1")],
                )
                return
            if limited:
                self.in_flight += 1
            if bucket is not None:
                self.per_key[bucket] = self.per_key.get(bucket, 0) + 1
            self.metrics.in_flight.inc()
            arrival = None
            if self.batcher is not None and scope["path"] in BATCHED_PATHS and scope["method"] == "POST":
                arrival = scope["state"]["arrival"] = self.batcher.arrive()
            try:
                deadline = asyncio.get_running_loop().time() + self.body_timeout_s
                await self.app(scope, self._limited_receive(receive, body_limit, deadline), send_with_id)
            finally:
                if arrival is not None:
                    arrival.close()
                self.metrics.in_flight.dec()
                if limited:
                    self.in_flight -= 1
                if bucket is not None:
                    left = self.per_key[bucket] - 1
                    if left:
                        self.per_key[bucket] = left
                    else:
                        del self.per_key[bucket]
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                text = value.decode("latin-1")
                if _REQUEST_ID_RE.match(text):
                    return text
                break
        return uuid.uuid4().hex

    @staticmethod
    def _content_length(scope: Scope) -> int | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    @staticmethod
    def _key_bucket(scope: Scope) -> str | None:
        """Which key a request presents (its public id, or a digest of an unparseable credential); None
        without one (such a request is refused 401 before its body is read)."""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    continue
            elif name == b"x-api-key":
                credential = value.decode("latin-1")
            else:
                continue
            credential = credential.strip()
            match = _KEY_ID_RE.match(credential)
            if match:
                return match[1]
            return (
                hashlib.sha256(credential.encode("utf-8", "replace")).hexdigest()[:16] if credential else None
            )
        return None

    def _limited_receive(self, receive: Receive, limit: int, deadline: float) -> Receive:
        received = 0
        body_done = False
        timeout_s = self.body_timeout_s

        async def wrapped() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):  # the event loop's clock; no task per read
                    message = await receive()
            except TimeoutError:
                raise BodyTimeoutError(timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        return wrapped
