"""The base class of learning-rate schedules, which schedule components (plugins, the
built-in ``i2i.schedules`` included) build on, and what completes a plugin's schedule that
has only ``factor``.

A schedule is a multiplier of the base learning rates (``optim.lr_g``, ``optim.lr_d``) per
optimisation step. The built-in ones (constant, linear, step, plateau, cosine) are
registered by the ``i2i.schedules`` plugin (``plugins/schedules.py``) like anybody's.
"""

from __future__ import annotations

import math
from typing import Any

from i2i.errors import UsageError


class Schedule:
    """Base class of schedules: ``factor(step)`` is ``shape(step)`` times a linear warm-up
    ``(step + 1) / warmup_steps`` over the first ``warmup_steps`` steps. Subclasses
    implement ``shape``; a schedule that follows validation metrics overrides ``observe``
    and keeps its state in ``state_dict`` / ``load_state_dict`` (saved in checkpoints)."""

    warmup_steps: int = 0

    def shape(self, step: int) -> float:
        """The multiplier before warm-up at step ``step`` (0-based)."""
        return 1.0

    def factor(self, step: int) -> float:
        """The learning-rate multiplier at optimisation step ``step`` (0-based)."""
        value = self.shape(step)
        if self.warmup_steps and step < self.warmup_steps:
            value *= (step + 1) / self.warmup_steps
        return value

    def observe(self, metrics: dict[str, float]) -> None:
        """A validation pass's mean metrics (most schedules ignore them)."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps to resume exactly (nothing for schedules that depend on the step alone)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (state of another schedule's keys is ignored)."""


class _Completed(Schedule):
    """A plugin's schedule that has ``factor`` but not all of observe/state_dict/load_state_dict."""

    def __init__(self, inner: Any):
        self.inner = inner

    def factor(self, step: int) -> float:
        return float(self.inner.factor(step))

    def observe(self, metrics: dict[str, float]) -> None:
        if hasattr(self.inner, "observe"):
            self.inner.observe(metrics)

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict() if hasattr(self.inner, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.inner, "load_state_dict"):
            self.inner.load_state_dict(state)


def as_schedule(schedule: Any, name: str, plugin: str) -> Schedule:
    """``schedule`` with every method the engine calls; fails naming the plugin when it has no
    ``factor``, or when ``factor(0)`` is not a finite number >= 0 (checked once, here)."""
    if not callable(getattr(schedule, "factor", None)):
        raise UsageError(f"schedule {name!r} (plugin {plugin!r}): its factory returned {type(schedule).__name__}, "
                         "which has no factor(step) method")
    try:
        first = schedule.factor(0)
    except Exception as exc:
        raise UsageError(f"schedule {name!r} (plugin {plugin!r}): factor(0) raised {type(exc).__name__}: {exc}") \
            from None
    try:
        number = float(first) if not isinstance(first, (bool, str, bytes)) else None
    except (TypeError, ValueError, RuntimeError):  # a tensor of several values, an object float() cannot take
        number = None
    if number is None or not math.isfinite(number) or number < 0:
        raise UsageError(f"schedule {name!r} (plugin {plugin!r}): factor(0) returned {first!r}, not a finite number "
                         ">= 0 (the learning-rate multiplier at a step)")
    if all(callable(getattr(schedule, m, None)) for m in ("observe", "state_dict", "load_state_dict")):
        return schedule
    return _Completed(schedule)
