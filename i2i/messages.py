"""The one channel for what i2i says while it works: notes, warnings, progress lines.

Library code calls :func:`say` (or :func:`note` / :func:`warn`, which add the usual
``i2i: note:`` / ``i2i: warning:`` prefix); the line goes to the current sink, standard error
by default. :func:`said_to` redirects every line said inside a block: ``i2i.train(...,
say=...)`` and the Python API route a run's messages there, and the ranks of a distributed
run other than 0 say nothing. Nothing here is printed at import.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator

Sink = Callable[[str], None]

_sink: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("i2i_messages", default=None)


def to_stderr(line: str) -> None:
    """The default sink: the line on standard error, flushed."""
    print(line, file=sys.stderr, flush=True)


def quiet(line: str) -> None:
    """A sink that drops every line (ranks other than 0)."""


def say(line: str) -> None:
    """Say ``line`` through the current sink."""
    (_sink.get() or to_stderr)(line)


def note(message: str) -> None:
    """``i2i: note: MESSAGE``."""
    say(f"i2i: note: {message}")


def warn(message: str) -> None:
    """``i2i: warning: MESSAGE``."""
    say(f"i2i: warning: {message}")


@contextlib.contextmanager
def said_to(sink: Sink | None) -> Iterator[None]:
    """Send every line said inside the block to ``sink`` (None: standard error)."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
