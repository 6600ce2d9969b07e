"""Zero-copy blob bodies: the ASGI ``http.response.zerocopysend`` extension for uvicorn.

uvicorn offers no zero-copy send, so a blob GET read every 1 MiB block into Python and wrote
it to the socket (two memory copies; measured at 46 % of what ``os.sendfile`` moves over
loopback here). This module gives uvicorn's httptools cycle the extension the ASGI spec
names: the bridge hands over an open file, an offset and a count, and the kernel copies the
bytes from the page cache to the socket.

What it must never do is write where it should not. The first ``sendfile`` runs on the event
loop, non-blocking, and sends whatever the socket takes (a 1 MiB blob, usually all of it);
the rest goes from a worker thread that holds its *own* duplicate of the socket's descriptor,
so a connection the loop closes meanwhile cannot hand the number to another client. A client
that stops reading for :data:`STALL` seconds loses its connection, and the thread with it.
Plain TCP only: over TLS the extension is not offered and bodies go the usual way.
"""

from __future__ import annotations

import asyncio
import os
import select
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

EXTENSION = "http.response.zerocopysend"
STALL = 60.0  # seconds a client may take no bytes at all before its connection is closed
# Large bodies still being sent at once, per worker; one more waits for a free thread. A thread
# holds a body only while its client reads (or for STALL seconds if it stops): 64 readers that
# stall together delay the next large pull of that worker by up to STALL.
SENDERS = 64
_POOL = ThreadPoolExecutor(SENDERS, thread_name_prefix="zot-sendfile")


class _Stalled(Exception):
    pass


def _send_rest(fd: int, file_fd: int, offset: int, count: int) -> None:
    """In a thread: send ``count`` bytes, waiting for room with poll (fd is non-blocking)."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    try:
        while count > 0:
            try:
                sent = os.sendfile(fd, file_fd, offset, count)
            except BlockingIOError:
                sent = None
            if sent == 0:
                raise BrokenPipeError("blob file ended early")
            if sent:
                offset += sent
                count -= sent
                continue
            events = poller.poll(STALL * 1000)
            if not events:
                raise _Stalled
            if events[0][1] & (select.POLLERR | select.POLLHUP):
                raise BrokenPipeError("client went away")
    finally:
        os.close(fd)


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that also takes ``http.response.zerocopysend``."""

    async def send(self, message: Any) -> None:
        if message["type"] != EXTENSION:
            await super().send(message)
            return
        if self.disconnected:
            return
        if not self.response_started or self.response_complete:
            raise RuntimeError(f"'{EXTENSION}' outside a response body")
        file = message["file"]
        offset = message.get("offset") or 0
        count = message.get("count")
        if count is None:
            count = os.fstat(file.fileno()).st_size - offset
        if self.scope["method"] != "HEAD" and count > 0:
            if self.chunked_encoding or count > self.expected_content_length:
                raise RuntimeError("zero-copy body needs a Content-Length that covers it")
            self.expected_content_length -= count
            await self._sendfile(file, offset, count)
        if not message.get("more_body", False):
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _sendfile(self, file, offset: int, count: int) -> None:
        if self.flow.write_paused:
            await self.flow.drain()
        if self.disconnected:
            return
        if self.transport.get_write_buffer_size():  # the head is still queued: keep order
            await self._copy(file, offset, count)
            return
        fd = self.transport.get_extra_info("socket").fileno()
        try:
            sent = os.sendfile(fd, file.fileno(), offset, count)  # on the loop: what fits now
        except BlockingIOError:
            sent = 0
        except OSError:  # EPIPE, ECONNRESET: the client is gone
            self._lost()
            return
        if sent == count:
            return
        loop = asyncio.get_running_loop()
        own = os.dup(fd)  # closed by the thread; the loop may close its own meanwhile
        try:
            await loop.run_in_executor(
                _POOL, _send_rest, own, file.fileno(), offset + sent, count - sent
            )
        except (OSError, _Stalled):
            self._lost()

    async def _copy(self, file, offset: int, count: int) -> None:
        """The ordinary way, for the rare answer whose head the socket has not taken yet."""
        while count > 0 and not self.disconnected:
            data = os.pread(file.fileno(), min(count, 1 << 20), offset)
            if not data:
                raise RuntimeError("blob file ended early")
            self.transport.write(data)
            offset += len(data)
            count -= len(data)
            if self.flow.write_paused:
                await self.flow.drain()

    def _lost(self) -> None:
        self.disconnected = True
        self.keep_alive = False
        self.transport.close()


def offer(protocol: Any) -> None:
    """After uvicorn built a request's cycle: make it a ZeroCopyCycle on plain TCP."""
    cycle = protocol.cycle
    if cycle is None or type(cycle) is not RequestResponseCycle:
        return
    if protocol.transport.get_extra_info("sslcontext") is not None:
        return
    cycle.__class__ = ZeroCopyCycle
    cycle.scope.setdefault("extensions", {})[EXTENSION] = {}
