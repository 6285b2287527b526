"""Built-in learning-rate schedules: constant, linear (pix2pix), step, plateau, cosine.

Each takes ``warmup_steps``: a linear warm-up from zero over the first steps, before the
schedule's own shape (see :class:`i2i.schedules.Schedule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from annotated_types import Ge, Interval

from i2i import hookimpl
from i2i.schedules import Schedule

Steps = Annotated[int, Ge(0)]
Fraction = Annotated[float, Interval(ge=0, le=1)]
Multiplier = Annotated[float, Interval(gt=0, le=1)]


class Constant(Schedule):
    """The base learning rates throughout (after the warm-up)."""

    def __init__(self, warmup_steps: Steps = 0):
        self.warmup_steps = warmup_steps


class Linear(Schedule):
    """pix2pix's schedule in steps: the base rates until ``decay_start`` (a fraction of the
    run), then a linear decay to zero at the end."""

    def __init__(self, total_steps: int, decay_start: Fraction = 0.5, warmup_steps: Steps = 0):
        self.total_steps, self.decay_start, self.warmup_steps = total_steps, decay_start, warmup_steps

    def shape(self, step: int) -> float:
        start = int(self.decay_start * self.total_steps)
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start + 1) / max(1, self.total_steps - start + 1))


class Step(Schedule):
    """Multiplied by ``gamma`` every ``step_size`` steps."""

    def __init__(self, step_size: Annotated[int, Ge(1)] = 10000, gamma: Multiplier = 0.1, warmup_steps: Steps = 0):
        self.step_size, self.gamma, self.warmup_steps = step_size, gamma, warmup_steps

    def shape(self, step: int) -> float:
        return self.gamma ** (step // self.step_size)


class Cosine(Schedule):
    """From 1 to ``min_factor`` along a half cosine over the steps after the warm-up."""

    def __init__(self, total_steps: int, min_factor: Fraction = 0.0, warmup_steps: Steps = 0):
        self.total_steps, self.min_factor, self.warmup_steps = total_steps, min_factor, warmup_steps

    def shape(self, step: int) -> float:
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, max(0, step - self.warmup_steps) / span)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


class Plateau(Schedule):
    """Multiplied by ``factor`` when the validation ``metric`` (one the task's validation
    logs, e.g. val_mae or val_psnr; which way it improves comes from the task's metric table)
    has not improved by ``threshold`` (relative) for more than ``patience`` passes, not below
    ``min_factor``."""

    def __init__(self, metric: str = "val_mae", factor: Multiplier = 0.2, patience: Steps = 5,
                 threshold: Annotated[float, Ge(0)] = 0.01, min_factor: Fraction = 0.0, warmup_steps: Steps = 0,
                 higher_is_better: Callable[[str], bool] | None = None):
        self.higher_is_better = higher_is_better
        self.metric, self.decay, self.patience = metric, factor, patience
        self.threshold, self.min_factor, self.warmup_steps = threshold, min_factor, warmup_steps
        self.plateau_factor = 1.0
        self.best: float | None = None
        self.bad_passes = 0

    def shape(self, step: int) -> float:
        return self.plateau_factor

    def observe(self, metrics: dict[str, float]) -> None:
        if self.metric not in metrics:
            return
        if self.higher_is_better is None:
            raise ValueError(f"plateau: which way {self.metric} improves is unknown; i2i supplies it "
                             "(higher_is_better) when it builds the schedule of a run")
        value = metrics[self.metric]
        if self.best is None:
            improved = True
        elif self.higher_is_better(self.metric):
            improved = value > self.best + abs(self.best) * self.threshold
        else:
            improved = value < self.best - abs(self.best) * self.threshold
        if improved:
            self.best, self.bad_passes = value, 0
            return
        self.bad_passes += 1
        if self.bad_passes > self.patience:
            self.plateau_factor = max(self.min_factor, self.plateau_factor * self.decay)
            self.bad_passes = 0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_factor": self.plateau_factor, "best": self.best, "bad_passes": self.bad_passes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_factor = float(state["plateau_factor"])
        self.best = state["best"]
        self.bad_passes = int(state["bad_passes"])


@hookimpl
def register_schedules(register):
    """Register the built-in schedules."""
    register("constant", Constant)
    register("linear", Linear)
    register("step", Step)
    register("plateau", Plateau)
    register("cosine", Cosine)
