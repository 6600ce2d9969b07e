"""Start a real zot-server process on a free loopback port, for tests (ours and clients').

The server runs as ``python -m zot_server serve`` in its own process group, so tests talk
to it over a real socket and can kill it (even with SIGKILL) and start it again on the same
root.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers with any HTTP status (401 counts: the server is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class RunningServer:
    """One zot-server process; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        workers: int = 1,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        scheme: str = "http",
    ) -> None:
        self._tmp = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zot-server-")
            root = self._tmp.name
        self.root = Path(root)
        self.port = port or free_port()
        self.workers = workers
        self.extra_args = list(extra_args or [])
        self.env = env
        self.scheme = scheme
        self.process: subprocess.Popen | None = None
        self.log_path = self.root.parent / f".zot-server-{self.port}.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "zot_server", "serve",
            "--root", str(self.root), "--address", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers), *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> RunningServer:
        env = {**os.environ, **(self.env or {})}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(f"{self.url}/v2/", timeout, self.process) if self.scheme == "http" else (
                self._wait_tls(timeout)
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_tls(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("TLS server did not listen")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn master and workers)."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.kill(signal.SIGTERM)
        if getattr(self, "_log", None):
            self._log.close()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
