"""The WSGI bridge's choice of thread: quick bodyless requests on the event loop, others not.

Driven as ASGI, as uvicorn drives it; the WSGI app reports the thread it ran on.
"""

from __future__ import annotations

import asyncio
import threading

from zot_server.bridge import GATHER_LIMIT, WSGIBridge

QUICK = "get_quick"


def _app(environ, start_response):
    body = environ["wsgi.input"].read()
    size = int(environ.get("HTTP_X_SIZE", "0"))
    start_response("200 OK", [("X-Thread", threading.current_thread().name)])
    return [b"x" * size, body]


def _call(bridge: WSGIBridge, operation: str, headers=(), body: bytes = b"") -> tuple[dict, bytes]:
    async def run():
        sent: list[dict] = []
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)] or [b""]

        async def receive():
            chunk = pieces.pop(0) if pieces else b""
            return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "method": "GET", "path": "/x", "raw_path": b"/x",
            "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
            "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2), "headers": list(headers),
            "extensions": {"connexion_routing": {"operation_id": operation}},
        }  # fmt: skip
        await bridge(scope, receive, send)
        return sent, threading.current_thread().name

    sent, loop_thread = asyncio.run(run())
    start = sent[0]
    data = b"".join(m.get("body", b"") for m in sent[1:])
    start["loop_thread"] = loop_thread
    return start, data


def _thread(start: dict) -> str:
    return dict(start["headers"])[b"x-thread"].decode()


def test_quick_bodyless_request_runs_on_the_loop():
    bridge = WSGIBridge(_app, inline=frozenset({QUICK}))
    start, _ = _call(bridge, QUICK)
    assert _thread(start) == start["loop_thread"]


def test_other_operations_run_in_a_handler_thread():
    bridge = WSGIBridge(_app, inline=frozenset({QUICK}))
    start, _ = _call(bridge, "get_other")
    assert _thread(start).startswith("zot-handler")


def test_a_request_with_a_body_is_never_inline():
    bridge = WSGIBridge(_app, inline=frozenset({QUICK}))
    body = b"0123456789" * 10
    start, data = _call(bridge, QUICK, [(b"content-length", b"100")], body)
    assert _thread(start).startswith("zot-handler")
    assert data == body  # the body was pumped to the handler thread whole


def test_a_large_inline_answer_is_gathered_not_streamed():
    """Streaming from the loop's own thread would wait on itself: the answer is gathered."""
    bridge = WSGIBridge(_app, inline=frozenset({QUICK}))
    size = GATHER_LIMIT * 3
    start, data = _call(bridge, QUICK, [(b"x-size", str(size).encode())])
    assert _thread(start) == start["loop_thread"] and len(data) == size


def test_the_registry_runs_its_quick_reads_inline(tmp_path):
    """Wiring: the resolver's quick operations reach the bridge (it is built after them)."""
    from zot_server.app import create_app
    from zot_server.registry import Settings

    app = create_app(Settings(root=str(tmp_path), gc_interval=0))
    inline = app._middleware_app.asgi_app.inline
    assert {"head_v2_name_manifests_reference", "get_v2_name_manifests_reference"} <= inline
    assert "get_v2_name_blobs_digest" in inline
    assert not any(op.startswith(("put_", "post_", "patch_", "delete_")) for op in inline)
    assert "get_v2_catalog" not in inline  # walks the whole root: a thread's job


def test_lifespan_is_answered():
    """uvicorn (lifespan "on") and Starlette's TestClient wait for these replies."""

    async def run():
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent = []

        async def receive():
            return incoming.pop(0)

        async def send(message):
            sent.append(message["type"])

        await WSGIBridge(_app)({"type": "lifespan"}, receive, send)
        return sent

    assert asyncio.run(run()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
