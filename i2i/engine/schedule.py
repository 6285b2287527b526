"""Learning-rate schedules as a multiplier of the base rate.

All but ``plateau`` are pure functions of the step; ``plateau`` also follows a validation
metric and keeps state (saved in checkpoints).
"""

from __future__ import annotations

import math
from typing import Any

from i2i.metrics import higher_is_better
from i2i.recipe.schema import ScheduleSection


class Schedule:
    """``factor(step)`` for optimisation step ``step`` (0-based) of ``total_steps``.

    - ``constant``: 1;
    - ``linear`` (pix2pix, in steps): 1 until ``decay_start * total``, then linearly to 0 at the end;
    - ``step``: ``gamma ** (step // step_size)``;
    - ``cosine``: from 1 to ``min_factor`` along a half cosine over the steps after warm-up;
    - ``plateau``: multiplied by ``factor`` when ``metric`` has not improved by ``threshold``
      (relative) for ``patience`` validation passes, not below ``min_factor``.
    A warm-up, when set, multiplies by ``(step + 1) / warmup_steps`` first.
    """

    def __init__(self, config: ScheduleSection, total_steps: int):
        self.config = config
        self.total_steps = total_steps
        self.plateau_factor = 1.0
        self.best: float | None = None
        self.bad_passes = 0

    def factor(self, step: int) -> float:
        c = self.config
        if c.name == "linear":
            start = int(c.decay_start * self.total_steps)
            value = 1.0 if step < start else max(0.0, 1.0 - (step - start + 1) / max(1, self.total_steps - start + 1))
        elif c.name == "step":
            value = c.gamma ** (step // c.step_size)
        elif c.name == "cosine":
            span = max(1, self.total_steps - c.warmup_steps)
            progress = min(1.0, max(0, step - c.warmup_steps) / span)
            value = c.min_factor + (1 - c.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
        elif c.name == "plateau":
            value = self.plateau_factor
        else:
            value = 1.0
        if c.warmup_steps and step < c.warmup_steps:
            value *= (step + 1) / c.warmup_steps
        return value

    def observe(self, metrics: dict[str, float]) -> None:
        """Feed a validation pass to ``plateau`` (other schedules ignore it)."""
        c = self.config
        if c.name != "plateau" or c.metric not in metrics:
            return
        value = metrics[c.metric]
        higher = higher_is_better(c.metric)
        if self.best is None:
            improved = True
        elif higher:
            improved = value > self.best + abs(self.best) * c.threshold
        else:
            improved = value < self.best - abs(self.best) * c.threshold
        if improved:
            self.best, self.bad_passes = value, 0
        else:
            self.bad_passes += 1
            if self.bad_passes > c.patience:
                self.plateau_factor = max(c.min_factor, self.plateau_factor * c.factor)
                self.bad_passes = 0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_factor": self.plateau_factor, "best": self.best, "bad_passes": self.bad_passes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_factor = float(state["plateau_factor"])
        self.best = state["best"]
        self.bad_passes = int(state["bad_passes"])


#: Schedules whose factors depend on the run's total length.
LENGTH_DEPENDENT = ("linear", "cosine")


def resume_note(config: ScheduleSection, saved_total: int, total: int, step: int) -> str | None:
    """One line saying what a resume with a different run length does to the schedule (it is
    recomputed over the new length: linear and cosine stretch or shrink, the others do not
    depend on the length), or ``None`` when the length is unchanged."""
    if saved_total == total:
        return None
    if config.name not in LENGTH_DEPENDENT:
        return (f"the run now has {total} steps instead of {saved_total}; the {config.name} schedule does not "
                "depend on the run's length and continues unchanged")
    before = Schedule(config, saved_total).factor(step)
    after = Schedule(config, total).factor(step)
    return (f"the run now has {total} steps instead of {saved_total}: the {config.name} schedule is recomputed "
            f"over {total} steps (learning-rate factor at step {step}: {before:.4g} -> {after:.4g})")


def apply_lr(optimizer, base_lr: float, factor: float) -> float:
    """Set every parameter group's learning rate to ``base_lr * factor``; returns it."""
    lr = base_lr * factor
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
