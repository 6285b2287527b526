"""Hounsfield units: named display windows, windowing to [0, 1], and the exact
normalisation of an HU range to the network range [-1, 1] and back.

A window is ``(center, width)`` in HU (a.k.a. level/width): it shows
``[center - width / 2, center + width / 2]`` from black to white. The named windows
(:data:`WINDOWS`) are the usual presets; sources:

* ``brain`` 40/80, ``lung`` -600/1500, ``mediastinum`` 50/350, ``abdomen`` 50/400 (soft
  tissues): Radiopaedia, "Windowing (CT)" (Bell, Murphy et al.),
  https://radiopaedia.org/articles/windowing-ct, "typical window width and level values".
* the clinical windows the project scores in (DESIGN.md): ``brain`` 40/80, ``soft_tissue``
  40/400 and ``bone`` 500/2000 (Radiopaedia's bone window is 400/1800).
* ``liver`` 60/160: a common narrow liver window (the project's brief); Radiopaedia lists
  a liver window of W:150 L:30.
* ``full`` 0/2000 ([-1000, 1000]): the wide range used to score CT restoration here.

The windowing here is the plain linear ramp; DICOM's VOI "LINEAR" function (PS3.3
C.11.2.1.2) differs by using ``center - 0.5`` and ``width - 1`` for integer displays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from i2i.errors import did_you_mean, one_of


@dataclass(frozen=True)
class Window:
    """An HU display window: ``center`` and ``width`` in HU."""

    center: float
    width: float
    name: str = "custom"

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"window width must be > 0 HU, got {self.width}")

    @property
    def lo(self) -> float:
        """The lowest HU shown (black): ``center - width / 2``."""
        return self.center - self.width / 2

    @property
    def hi(self) -> float:
        """The highest HU shown (white): ``center + width / 2``."""
        return self.center + self.width / 2

    @classmethod
    def from_range(cls, lo: float, hi: float, name: str = "custom") -> Window:
        """The window showing ``[lo, hi]`` HU."""
        if not hi > lo:
            raise ValueError(f"window range needs hi > lo, got [{lo}, {hi}]")
        return cls((lo + hi) / 2, hi - lo, name)


#: The named windows (read-only); see the module docstring for sources.
WINDOWS: Mapping[str, Window] = MappingProxyType({
    "abdomen": Window(50, 400, "abdomen"),
    "lung": Window(-600, 1500, "lung"),
    "brain": Window(40, 80, "brain"),
    "soft_tissue": Window(40, 400, "soft_tissue"),
    "bone": Window(500, 2000, "bone"),
    "mediastinum": Window(50, 350, "mediastinum"),
    "liver": Window(60, 160, "liver"),
    "full": Window(0, 2000, "full"),
})

WindowLike = str | Window | tuple[float, float]


def get_window(window: WindowLike) -> Window:
    """A :class:`Window` from a name in :data:`WINDOWS`, a ``(center, width)`` pair or a Window."""
    if isinstance(window, Window):
        return window
    if isinstance(window, str):
        key = window.lower()
        if key not in WINDOWS:
            raise ValueError(f"unknown HU window {window!r}{did_you_mean(key, WINDOWS)}; "
                             f"accepted: {one_of(WINDOWS)} or (center, width)")
        return WINDOWS[key]
    try:
        center, width = window
        return Window(float(center), float(width))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"an HU window is a name ({one_of(WINDOWS)}) or (center, width), got {window!r}") from exc


def window_label(window: WindowLike) -> str:
    """How a figure names a window: ``"brain window (W 80 / L 40)"``, ``"window W 300 / L 50"``."""
    w = get_window(window)
    values = f"W {w.width:g} / L {w.center:g}"
    return f"{w.name.replace('_', '-')} window ({values})" if w.name != "custom" else f"window {values}"


def window_to_unit(hu: torch.Tensor, center: float, width: float) -> torch.Tensor:
    """HU -> [0, 1] through the window ``(center, width)``: ``lo`` -> 0, ``hi`` -> 1, clipped."""
    if not width > 0:
        raise ValueError(f"window width must be > 0 HU, got {width}")
    return ((hu - (center - width / 2)) / width).clamp(0.0, 1.0)


def apply_window(hu: torch.Tensor, window: WindowLike) -> torch.Tensor:
    """:func:`window_to_unit` with a named or given window."""
    w = get_window(window)
    return window_to_unit(hu, w.center, w.width)


def hu_to_network(hu: torch.Tensor, lo: float, hi: float, clip: bool = True) -> torch.Tensor:
    """HU -> [-1, 1]: map ``lo`` -> -1 and ``hi`` -> 1 linearly, clipping to ``[lo, hi]`` first
    unless ``clip`` is false (then values beyond extrapolate: nothing is lost)."""
    _check_range(lo, hi)
    return ((hu.clamp(lo, hi) if clip else hu) - lo) * (2.0 / (hi - lo)) - 1.0


def network_to_hu(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """[-1, 1] -> HU, the exact inverse of :func:`hu_to_network` (for HU inside ``[lo, hi]``);
    values outside [-1, 1] are extrapolated, not clipped."""
    _check_range(lo, hi)
    return (x + 1.0) * ((hi - lo) / 2.0) + lo


def _check_range(lo: float, hi: float) -> None:
    if not hi > lo:
        raise ValueError(f"HU range needs hi > lo, got [{lo}, {hi}]")
