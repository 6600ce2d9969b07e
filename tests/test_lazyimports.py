"""``zot_server.lazyimports``: unused imports stay stand-ins, and anything used loads for real.

Each check runs in a fresh interpreter, since the stand-ins live in ``sys.modules``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    prelude = "import zot_server.lazyimports as L; L.install()\n"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_building_the_app_loads_none_of_them(tmp_path):
    out = _run(f"""
        import sys
        from zot_server.app import create_app
        from zot_server.registry import Settings
        create_app(Settings(root={str(tmp_path)!r}, gc_interval=0))
        print(sorted(m for m in L.DEFERRED if sys.modules[m] is not L._stand_ins[m]))
        print("urllib3" in sys.modules, "httpx._client" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["[]", "False False"]


def test_a_module_that_is_used_is_the_real_one():
    out = _run("""
        import sys
        import requests
        import requests.adapters  # a submodule of a stand-in package
        print(requests.get.__module__, sys.modules["requests"] is not L._stand_ins["requests"])
        import httpx
        print(httpx.Client.__name__)
    """)
    assert out.split("\n")[:2] == ["requests.api True", "Client"]


def test_the_test_client_still_works(tmp_path):
    out = _run(f"""
        from starlette.testclient import TestClient
        from zot_server.app import create_app
        from zot_server.registry import Settings
        app = create_app(Settings(root={str(tmp_path)!r}, gc_interval=0))
        with TestClient(app) as client:
            print(client.get("/v2/").status_code, type(client).__module__)
        print(app.test_client().get("/v2/").status_code)
    """)
    assert out.split("\n")[:2] == ["200 starlette.testclient", "200"]
