"""Zero-copy blob bodies (``zot_server/sendfile.py``) under the real uvicorn protocol.

A WSGI app answering with ``FileBody`` runs behind the bridge, as the registry's handlers do,
in uvicorn with the server's own httptools protocol on a loopback socket. The file is larger
than a socket buffer, so both halves of the send run: the non-blocking one on the event loop
and the rest from a thread.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest
import uvicorn

from zot_server import sendfile
from zot_server.bridge import WSGIBridge
from zot_server.timeouts import bounded_protocol

SIZE = 48 << 20


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    path = tmp_path_factory.mktemp("sendfile") / "blob"
    with open(path, "wb") as f:
        for _ in range(SIZE >> 20):
            f.write(os.urandom(1 << 20))
    return path


def _app(path):
    def app(environ, start_response):
        start = int(environ.get("HTTP_X_START", "0"))
        length = int(environ.get("HTTP_X_LENGTH", str(SIZE - start)))
        start_response("200 OK", [("Content-Length", str(length))])
        return environ["wsgi.file_wrapper"](open(path, "rb"), start=start, length=length)

    return app


@pytest.fixture(params=["uvloop", "asyncio"])  # uvloop is what the workers run
def served(blob, monkeypatch, request):
    """(port, calls): uvicorn in a thread; calls counts zero-copy sends and thread hand-offs."""
    calls = {"sendfile": 0, "thread": 0}
    original_send, original_rest = sendfile.ZeroCopyCycle._sendfile, sendfile._send_rest

    async def counting_send(self, *args):
        calls["sendfile"] += 1
        await original_send(self, *args)

    def counting_rest(*args):
        calls["thread"] += 1
        original_rest(*args)

    monkeypatch.setattr(sendfile.ZeroCopyCycle, "_sendfile", counting_send)
    monkeypatch.setattr(sendfile, "_send_rest", counting_rest)
    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        WSGIBridge(_app(blob)), http=bounded_protocol(), loop=request.param, log_level="error",
        lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield listener.getsockname()[1], calls
    server.should_exit = True
    thread.join(10)
    listener.close()


def _get(port: int, headers: str = "", read_delay: float = 0.0) -> tuple[bytes, bytes]:
    """One GET on a fresh connection: (head, body), reading until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = f"GET /blob HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{headers}\r\n"
        conn.sendall(head.encode())
        data = bytearray()
        while chunk := conn.recv(1 << 20):
            data += chunk
            if read_delay:
                time.sleep(read_delay)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return head, body


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_whole_file_by_sendfile(blob, served):
    port, calls = served
    head, body = _get(port)
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == SIZE and _sha(body) == _sha(blob.read_bytes())
    assert calls == {"sendfile": 1, "thread": 1}  # larger than the socket takes at once


def test_offset_and_count(blob, served):
    port, calls = served
    start, length = 1_000_003, 5_000_011
    head, body = _get(port, f"x-start: {start}\r\nx-length: {length}\r\n")
    assert body == blob.read_bytes()[start : start + length]
    assert calls["sendfile"] == 1


def test_slow_reader_gets_every_byte(blob, served):
    port, _ = served
    _, body = _get(port, f"x-length: {8 << 20}\r\n", read_delay=0.002)
    assert body == blob.read_bytes()[: 8 << 20]


def test_client_leaving_midway_frees_the_server(blob, served):
    port, calls = served
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /blob HTTP/1.1\r\nhost: x\r\n\r\n")
            assert conn.recv(1 << 16)
            linger_zero = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        # closed with RST: the send fails at once instead of waiting for room
    _, body = _get(port)
    assert _sha(body) == _sha(blob.read_bytes())
    assert calls["sendfile"] == 4


def test_stalled_client_is_cut_off(blob, served, monkeypatch):
    port, _ = served
    monkeypatch.setattr(sendfile, "STALL", 0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        conn.sendall(b"GET /blob HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(2.0)  # read nothing: the server's thread waits STALL seconds, then gives up
        received = 0
        while chunk := conn.recv(1 << 20):
            received += len(chunk)
    assert received < SIZE  # the connection ended before the whole body
    _, body = _get(port, f"x-length: {1 << 20}\r\n")
    assert len(body) == 1 << 20


def test_not_offered_over_tls():
    class Transport:
        def get_extra_info(self, name):
            return object() if name == "sslcontext" else None

    class Protocol:
        transport = Transport()
        cycle = sendfile.RequestResponseCycle.__new__(sendfile.RequestResponseCycle)

    Protocol.cycle.scope = {}
    sendfile.offer(Protocol)
    assert type(Protocol.cycle) is sendfile.RequestResponseCycle
    assert "extensions" not in Protocol.cycle.scope


def test_event_loop_free_while_thread_sends(blob, served):
    """A big body's rest goes from a thread: a small request on another connection is answered
    while a slow reader holds the big one."""
    port, _ = served
    slow = threading.Thread(target=_get, args=(port, "", 0.01), daemon=True)
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    _, body = _get(port, f"x-length: {1 << 10}\r\n")
    assert len(body) == 1 << 10 and time.monotonic() - started < 2
    slow.join(60)
    assert not slow.is_alive()
