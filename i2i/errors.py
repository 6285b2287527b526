"""Exceptions that the CLI turns into clear messages and exit codes.

Exit codes: 0 success, 1 runtime failure (:class:`I2IError`), 2 bad usage or invalid
recipe (:class:`UsageError` and subclasses).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class I2IError(Exception):
    """A failure the user can act on; the CLI prints the message without a traceback."""

    exit_code = 1


class UsageError(I2IError):
    """Bad usage: an invalid recipe, option, file or argument (exit code 2)."""

    exit_code = 2


class RecipeError(UsageError):
    """Every problem found in a recipe, each as ``FILE: dotted.key: message``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The problems as ``FILE: dotted.key: message`` lines."""
        return [f"{self.source}: {key}: {msg}" if key else f"{self.source}: {msg}"
                for key, msg in self.problems]


class ComponentError(UsageError):
    """An unknown, duplicate or misconfigured plugin component."""


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Names from ``choices`` that look like ``word`` (for "did you mean" hints)."""
    return difflib.get_close_matches(str(word), sorted(set(choices)), n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" suffix, or an empty string when nothing is close."""
    matches = close_matches(word, choices)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"


def one_of(choices: Iterable[str]) -> str:
    """``'a', 'b', 'c'`` for error messages."""
    return ", ".join(repr(c) for c in sorted(choices)) or "(none)"
