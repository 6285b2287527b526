"""Option checks shared by the built-in networks, with messages that say what is accepted."""

from __future__ import annotations

#: Most stride-2 downsamplings a built-in generator takes: sides are padded to a multiple of
#: 2**depth, and 2**16 = 65536 pixels is beyond any image the networks are meant for.
MAX_DOWNSAMPLINGS = 16


def check_int(name: str, value: int, low: int, high: int | None = None) -> None:
    """Fail unless ``low <= value`` (and ``value <= high`` when given)."""
    if value < low or (high is not None and value > high):
        accepted = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {accepted}, got {value}")


def check_dropout(value: float) -> None:
    """Fail unless ``0 <= value < 1``."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be in [0, 1) (0 switches it off), got {value}")
