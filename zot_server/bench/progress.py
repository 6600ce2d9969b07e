"""A progress bar on stderr, redrawn a few times a second from its own thread."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    def __init__(self, name: str, total: int, stream: TextIO | None = None) -> None:
        self.name = name
        self.total = max(total, 1)
        self.done = 0
        self.errors = 0
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._draw(final=True)

    def step(self, failed: bool = False) -> None:
        with self._lock:
            self.done += 1
            self.errors += failed

    def _line(self) -> str:
        width = 30
        filled = int(width * min(self.done, self.total) / self.total)
        bar = "#" * filled + "." * (width - filled)
        return f"{self.name[:48]:<48} [{bar}] {self.done}/{self.total} errors {self.errors}"

    def _draw(self, final: bool = False) -> None:
        if self._tty:
            self.stream.write("\r" + self._line() + ("\n" if final else ""))
        elif final:  # a log file gets one line per test, not hundreds of redraws
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._draw()
