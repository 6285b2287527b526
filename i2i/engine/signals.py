"""Stopping a run cleanly on SIGINT/SIGTERM: the first signal asks the loop to stop after the
current step (it then writes a checkpoint); a second Ctrl-C stops at once. After training (the
final evaluation and report), SIGTERM unwinds like Ctrl-C (:func:`terminate_unwinds`), so the
run's lock is released instead of left behind."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM inside :func:`terminate_unwinds`: cleanup runs, and the process exits 143."""

    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def terminate_unwinds() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block (in the main thread; elsewhere a
    no-op), instead of ending the process before ``finally`` blocks run."""
    def on_term(signum: int, frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StopRequest:
    """``requested`` is the signal number once SIGINT or SIGTERM arrived, else ``None``."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Catch SIGINT and SIGTERM (only possible in the main thread; elsewhere a no-op)."""
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread
            pass

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.requested is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = signum
