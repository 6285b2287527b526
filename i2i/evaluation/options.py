"""What ``i2i eval`` is asked (:class:`EvalOptions`) and what it gives (:class:`EvalResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EvalOptions:
    """What ``i2i eval`` measures and how."""

    split: str | None = None
    batch_size: int = 1
    max_images: int | None = None
    train_mode: bool = False
    precision: str = "fp32"
    held_out_only: bool = False  # with no split named: test or val, else NoHeldOutSplit
    frame: str | None = None  # full or crop; None: the recipe's train.eval_frame
    native: bool = False  # score at the images' own pixel size, even outside the trained one
    whole_data: bool = False  # --data given: a root without split folders is scored whole
    data_from: str | None = None  # --split-from: the run whose data and held-out splits are scored
    inception: Path | None = None
    lpips: Path | None = None
    lpips_net: str = "alex"


@dataclass
class EvalResult:
    """The summary (``eval.json``'s content) and one row per image."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
