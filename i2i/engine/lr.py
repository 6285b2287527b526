"""Learning rates during a run: setting them from the schedule's factor, and what a resume
with another run length does to a schedule."""

from __future__ import annotations

from typing import Any

from i2i.assembly.components import build_schedule


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
