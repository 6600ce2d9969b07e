"""Run the registry under gunicorn with uvicorn workers."""

from __future__ import annotations

import logging
import os
import sys

from gunicorn.app.base import BaseApplication

from .registry import Settings
from .timeouts import worker_class

# zot's log.level values -> gunicorn's and Python's level names.
GUNICORN_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "panic": "critical",
    "fatal": "critical",
}


def configure_logging(level: str) -> None:
    """The server's own loggers (contract violations are JSON lines) at zot's log.level."""
    logging.basicConfig(
        level=GUNICORN_LEVELS.get(level, "warning").upper(), format="%(message)s", force=True
    )


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, app=None) -> None:
        self.settings = settings
        self.prebuilt = app  # built once in the master and shared by the forked workers
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": f"{s.address}:{s.port}",
            "workers": s.workers,
            "worker_class": worker_class(),  # uvicorn's, with bounded request heads
            "timeout": 300,  # a worker streaming a large blob is busy, not hung
            "graceful_timeout": 10,
            "keepalive": 75,
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": GUNICORN_LEVELS.get(s.log_level, "warning"),
            # Build the app once, before forking (spec, validators, routes): each worker then
            # answers at once instead of building its own copy (start-up to first 200 < 1 s).
            "preload_app": True,
            "post_worker_init": self._worker_started,
        }
        if s.tls_cert:  # http.tls in the zot config file
            options.update(certfile=s.tls_cert, keyfile=s.tls_key)
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        from .timeouts import BodyTimeout

        self.built = self.prebuilt if self.prebuilt is not None else create_app(self.settings)
        return BodyTimeout(self.built, self.settings.body_timeout)

    def _worker_started(self, worker) -> None:
        from .storage.gc import start_background

        # Threads do not survive fork: one GC thread per worker, started in the worker.
        start_background(self.built.app.extensions["zot"].storage, self.settings)


def run(settings: Settings) -> int:
    """Serve until interrupted; prints where it listens and where it stores."""
    root = os.path.abspath(settings.root)
    os.makedirs(root, exist_ok=True)
    configure_logging(settings.log_level)
    # Build once in the parent: a spec or config error stops the start with a clear message.
    from .app import create_app

    app = create_app(settings)
    scheme = "https" if settings.tls_cert else "http"
    print(
        f"zot-server listening on {scheme}://{settings.address}:{settings.port}/v2/ "
        f"storing in {root} ({settings.workers} workers)",
        flush=True,
    )
    _Gunicorn(settings, app).run()
    return 0


if __name__ == "__main__":
    sys.exit(run(Settings()))
