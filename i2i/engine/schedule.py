"""Learning-rate schedules as a factor of the base rate, a pure function of the step."""

from __future__ import annotations

from i2i.recipe.schema import ScheduleSection


def lr_factor(step: int, total_steps: int, schedule: ScheduleSection) -> float:
    """The multiplier of the base learning rate for optimisation step ``step`` (0-based).

    ``linear`` is pix2pix's rule in steps: constant for the first ``decay_start`` fraction
    of the run, then linearly down to zero at the last step. A warm-up, when set, ramps
    linearly from ``1/warmup_steps`` to 1 first.
    """
    factor = 1.0
    if schedule.name == "linear":
        start = int(schedule.decay_start * total_steps)
        if step >= start:
            factor = max(0.0, 1.0 - (step - start + 1) / max(1, total_steps - start + 1))
    if schedule.warmup_steps and step < schedule.warmup_steps:
        factor *= (step + 1) / schedule.warmup_steps
    return factor


def apply_lr(optimizer, base_lr: float, factor: float) -> float:
    """Set every parameter group's learning rate to ``base_lr * factor``; returns it."""
    lr = base_lr * factor
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
