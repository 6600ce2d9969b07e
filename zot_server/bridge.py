"""Flask (WSGI) under the ASGI middleware stack, with as few thread hand-offs as possible.

Connexion runs Flask through a2wsgi, which blocks the handler thread on a round trip to the
event loop for the status line, for every body block and for the end of the body (see
STACK-NOTES: with 8 KiB blocks a blob moves at 26 MB/s). This bridge takes its place as the
innermost ASGI layer -- every middleware (auth, contract validation) still sees every request
and every response message -- and changes only how bytes cross between the threads:

- a small answer (manifests, errors, JSON) is gathered in the handler thread and sent by the
  event loop in one go after the handler returns: one hand-off per request;
- a blob answer is a :class:`FileBody` (offered to handlers as ``wsgi.file_wrapper``), which
  goes to the server as one ``http.response.zerocopysend`` where the server offers it (ours
  does on plain TCP: ``sendfile.py``), else the event loop streams it in 1 MiB blocks itself;
- any other large or streamed answer is sent block by block from the thread;
- the request body is pumped by the event loop into a bounded buffer (8 MiB) that the handler
  thread reads from, so an upload never waits on a loop round trip per block.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ

FILE_BLOCK = 1 << 20  # 1 MiB blocks pulled faster than 4 MiB here (cache-sized copies)
GATHER_LIMIT = 1 << 20  # answers up to this size are sent whole after the handler returns
BODY_BUFFER = 8 << 20  # request bytes read ahead of the handler, at most
THREADS = 32  # concurrent handlers per worker (a long upload holds one)
ZEROCOPY = "http.response.zerocopysend"  # the ASGI extension for file bodies


class FileBody:
    """``wsgi.file_wrapper``: ``length`` bytes of an open file from ``start``."""

    def __init__(self, file, block: int = FILE_BLOCK, start: int = 0, length: int | None = None):
        self.file = file
        self.block = block
        self.start = start
        self.length = length if length is not None else os.fstat(file.fileno()).st_size - start

    def __iter__(self):  # the plain WSGI way, for servers other than this bridge
        self.file.seek(self.start)
        remaining = self.length
        while remaining > 0:
            data = self.file.read(min(self.block, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data

    def close(self) -> None:
        self.file.close()


class RequestBody:
    """``wsgi.input`` fed by the event loop; read by the handler thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, receive: Callable) -> None:
        self._loop = loop
        self._receive = receive
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._cond = threading.Condition()
        self._room = asyncio.Event()
        self._room.set()

    async def pump(self) -> None:
        """Receive until the body ends (or the client leaves), never more than BODY_BUFFER ahead."""
        try:
            while True:
                await self._room.wait()
                message = await self._receive()
                more = message["type"] == "http.request" and message.get("more_body", False)
                chunk = message.get("body", b"") if message["type"] == "http.request" else b""
                with self._cond:
                    if chunk:
                        self._chunks.append(chunk)
                        self._buffered += len(chunk)
                        if self._buffered >= BODY_BUFFER:
                            self._room.clear()
                    if not more:
                        self._done = True
                    self._cond.notify_all()
                if not more:
                    return
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _take(self, size: int) -> bytes:
        with self._cond:
            while not self._chunks and not self._done:
                self._cond.wait()
            if not self._chunks:
                return b""
            if size < 0:
                data = b"".join(self._chunks)
                self._chunks.clear()
            elif size == 0:  # one whole piece, whatever its size
                data = self._chunks.popleft()
            else:
                first = self._chunks.popleft()
                if len(first) > size:
                    self._chunks.appendleft(first[size:])
                    first = first[:size]
                data = first
            self._buffered -= len(data)
            if self._buffered < BODY_BUFFER // 2 and not self._room.is_set():
                self._loop.call_soon_threadsafe(self._room.set)
            return data

    def pieces(self) -> Iterator[bytes]:
        """The body as the event loop received it, piece by piece: no re-slicing, no joins
        (a blob push used to join 1 MiB out of the pieces only to hash and write them)."""
        while data := self._take(0):
            yield data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while data := self._take(-1):
                parts.append(data)
            return b"".join(parts)
        parts, wanted = [], size
        while wanted > 0:
            data = self._take(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)

    def readline(self, limit: int = -1) -> bytes:
        line = bytearray()
        while limit < 0 or len(line) < limit:
            data = self._take(1)
            if not data:
                break
            line += data
            if data == b"\n":
                break
        return bytes(line)

    def __iter__(self):
        while line := self.readline():
            yield line


class _Answer:
    """What the handler thread produced: status line, headers, and a body or a file."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, send: Callable, zerocopy: bool, inline: bool
    ) -> None:
        self.loop = loop
        self.send = send
        self.zerocopy = zerocopy  # the server takes http.response.zerocopysend
        # Run on the event loop itself: gather the whole answer (a send from here would wait
        # on the loop it blocks).
        self.gather_limit = float("inf") if inline else GATHER_LIMIT
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.file: FileBody | None = None
        self.streaming = False  # the thread has started sending itself
        self.started = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info=None):
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = int(status.split(" ", 1)[0])
        self.headers = [
            (name.strip().lower().encode("latin1"), value.strip().encode("latin1"))
            for name, value in headers
        ]
        return self._write

    def _write(self, data: bytes) -> None:  # the legacy write() callable
        if data:
            self.chunks.append(data)
            if sum(map(len, self.chunks)) > self.gather_limit:
                self._flush()

    def _call(self, message: dict) -> None:
        asyncio.run_coroutine_threadsafe(self.send(message), self.loop).result()

    def _flush(self) -> None:
        """Too large to gather: from here on the thread sends block by block."""
        if not self.started:
            self.started = self.streaming = True
            self._call(
                {"type": "http.response.start", "status": self.status, "headers": self.headers}
            )
        for chunk in self.chunks:
            self._call({"type": "http.response.body", "body": chunk, "more_body": True})
        self.chunks = []

    def run(self, app: Callable, environ: dict) -> None:
        """In a handler thread: call the app and gather (or stream) its answer."""
        iterable = app(environ, self.start_response)
        if isinstance(iterable, FileBody):
            self.file = iterable  # streamed by the event loop, closed there
            return
        try:
            gathered = sum(map(len, self.chunks))
            for chunk in iterable:
                if not chunk:
                    continue
                self.chunks.append(chunk)
                gathered += len(chunk)
                if self.streaming or gathered > self.gather_limit:
                    self._flush()
            if self.streaming:
                self._flush()
                self._call({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    async def finish(self) -> None:
        """On the event loop: send what the thread gathered, or stream the file."""
        if self.streaming:
            return
        await self.send(
            {"type": "http.response.start", "status": self.status, "headers": self.headers}
        )
        if self.file is None:
            await self.send({"type": "http.response.body", "body": b"".join(self.chunks)})
            return
        body = self.file
        try:
            if self.zerocopy:  # the kernel copies page cache to socket (zot_server/sendfile.py)
                await self.send(
                    {
                        "type": ZEROCOPY,
                        "file": body.file,
                        "offset": body.start,
                        "count": body.length,
                        "more_body": True,  # the end comes as a body message, as middlewares expect
                    }
                )
                await self.send({"type": "http.response.body", "body": b""})
                return
            for data in body:  # blocks read by the loop itself: page-cache reads, no hand-off
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
            await self.send({"type": "http.response.body", "body": b""})
        finally:
            body.close()


def _bodyless(scope: dict) -> bool:
    """No Content-Length (or 0) and no Transfer-Encoding: nothing to pump, nothing to wait for."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return False
    return True


async def _lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class WSGIBridge:
    """The ASGI app that runs ``app`` (a WSGI callable) in a pool of handler threads.

    ``app`` is an attribute read per request, so ``FlaskApp.add_wsgi_middleware`` keeps working.
    A request without a body for one of the ``inline`` operation ids (quick handlers over
    local storage: manifest and blob HEAD/GET, tags) runs on the event loop instead: measured,
    the hand-off to a thread and back was a large share of such a request's cost.
    """

    def __init__(
        self, app: Callable, threads: int = THREADS, inline: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.inline = inline
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="zot-handler")

    def _runs_inline(self, scope: dict) -> bool:
        routing = (scope.get("extensions") or {}).get("connexion_routing") or {}
        return routing.get("operation_id") in self.inline

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop here: say so
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # no websockets in this API
            return
        loop = asyncio.get_running_loop()
        bodyless = _bodyless(scope)
        body = io.BytesIO() if bodyless else RequestBody(loop, receive)
        environ = build_environ(scope, body)  # type: ignore[arg-type]
        environ["wsgi.file_wrapper"] = FileBody
        inline = bodyless and self._runs_inline(scope)
        answer = _Answer(loop, send, ZEROCOPY in (scope.get("extensions") or {}), inline)
        pump = None if bodyless else loop.create_task(body.pump())  # type: ignore[union-attr]
        try:
            context = contextvars.copy_context()
            if inline:
                context.run(answer.run, self.app, environ)
            else:
                await loop.run_in_executor(
                    self.executor, context.run, answer.run, self.app, environ
                )
            await answer.finish()
        finally:
            if pump is not None and not pump.done():
                pump.cancel()


def install(connexion_app: Any, inline: frozenset[str] = frozenset()) -> None:
    """Put the bridge in place of a2wsgi in a ``connexion.FlaskApp``, keeping its WSGI chain."""
    inner = connexion_app._middleware_app
    inner.asgi_app = WSGIBridge(inner.asgi_app.app, inline=inline)
