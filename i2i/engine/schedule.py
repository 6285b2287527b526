"""Learning-rate schedules: the base class every schedule component can build on, building
the recipe's ``[schedule]``, and what a resume with another run length does to it.

A schedule is a multiplier of the base learning rates (``optim.lr_g``, ``optim.lr_d``) per
optimisation step. The built-in ones (constant, linear, step, plateau, cosine) are
registered by the ``i2i.schedules`` plugin (``plugins/schedules.py``) like anybody's.
"""

from __future__ import annotations

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
    """``schedule`` with every method the engine calls; fails naming the plugin when it has no ``factor``."""
    if not callable(getattr(schedule, "factor", None)):
        raise UsageError(f"schedule {name!r} (plugin {plugin!r}): its factory returned {type(schedule).__name__}, "
                         "which has no factor(step) method")
    if all(callable(getattr(schedule, m, None)) for m in ("observe", "state_dict", "load_state_dict")):
        return schedule
    return _Completed(schedule)


def depends_on_length(plugins: Any, name: str) -> bool:
    """Whether schedule ``name`` takes the run's ``total_steps`` (linear and cosine do)."""
    return "total_steps" in plugins["schedules"].get(name).parameters()


def resume_note(plugins: Any, spec: Any, saved_total: int, total: int, step: int) -> str | None:
    """One line saying what a resume with a different run length does to the schedule
    ``spec`` (the recipe's ``[schedule]``): a schedule that takes ``total_steps`` is
    recomputed over the new length (linear and cosine stretch or shrink), the others go on
    unchanged; ``None`` when the length is unchanged."""
    if saved_total == total:
        return None
    if not depends_on_length(plugins, spec.name):
        return (f"the run now has {total} steps instead of {saved_total}; the {spec.name} schedule does not "
                "depend on the run's length and continues unchanged")
    from i2i.assembly.components import build_schedule

    before = build_schedule(plugins, spec, saved_total).factor(step)
    after = build_schedule(plugins, spec, total).factor(step)
    return (f"the run now has {total} steps instead of {saved_total}: the {spec.name} schedule is recomputed "
            f"over {total} steps (learning-rate factor at step {step}: {before:.4g} -> {after:.4g})")


def apply_lr(optimizer, base_lr: float, factor: float) -> float:
    """Set every parameter group's learning rate to ``base_lr * factor``; returns it."""
    lr = base_lr * factor
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
