"""Angular sampling and dose stated as fractions of a full scan, so a CT model means the same
acquisition at any slice size.

*Full angular sampling* of an ``N``-pixel slice (``N`` detector bins, parallel beam over 180
degrees) is :func:`full_view_count` ``(N)`` = ``ceil(pi/2 * N)`` views, rounded up to an even
count: the angular step at which the outermost pixel ring is sampled as finely as the
detector samples a projection (pi/2 * N views of the N-bin detector). A sampling fraction
``f`` means ``round(f * full)`` views (halves rounded up, at least :data:`MIN_VIEWS`): "1/8" is
25 views at 128 px (full 202), 101 at 512 px (full 806). A count (an int) is used as given.

*Dose* is a fraction of a stated full-dose photon count (see :mod:`i2i.medical.physics`,
``FULL_DOSE_I0``): quarter dose is ``0.25``.

A recipe writes a fraction as a string, ``"1/8"`` or ``"0.125"``; :func:`parse_fraction`
reads it, and what is not a fraction in (0, 1] is refused with a message naming the key.
"""

from __future__ import annotations

import math
from fractions import Fraction

#: Fewest views a fraction resolves to (an FBP from one view is not a reconstruction).
MIN_VIEWS = 2

#: A sampling spec: a view count, a fraction of full sampling, or a (lo, hi) range of either.
ViewSpec = int | Fraction | tuple[int, int] | tuple[Fraction, Fraction]


def full_view_count(size: int) -> int:
    """Views for a fully sampled parallel-beam scan of ``size`` detector bins: ``ceil(pi/2 * size)``
    rounded up to even (the angular sampling that matches the detector sampling)."""
    v = math.ceil(math.pi / 2 * size)
    return v + v % 2


def parse_fraction(value: str | float | Fraction, key: str) -> Fraction:
    """``"1/8"``, ``"0.125"`` (or a number) -> ``Fraction(1, 8)``; anything that is not a
    fraction in (0, 1] is a ``ValueError`` naming ``key`` and saying what is accepted."""
    accepted = (f'{key}: expected a fraction of a full scan in (0, 1], written "1/8" or "0.125", got {value!r}')
    try:
        fraction = Fraction(value.strip()) if isinstance(value, str) else Fraction(value)
    except (ValueError, ZeroDivisionError, TypeError):
        raise ValueError(accepted) from None
    if not 0 < fraction <= 1:
        raise ValueError(accepted)
    return fraction


def parse_views(value: int | str | list, key: str = "task.views") -> ViewSpec:
    """A recipe's ``views``: a count (int >= :data:`MIN_VIEWS`), a fraction of full sampling
    (``"1/8"``), or a ``[lo, hi]`` range of either kind (drawn per slice)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{key}: a range is [lo, hi], got {list(value)}")
        lo, hi = (parse_views(v, key) for v in value)
        if type(lo) is not type(hi) or lo > hi:
            raise ValueError(f"{key}: a range is [lo, hi] of two counts or two fractions with lo <= hi, "
                             f"got {list(value)}")
        return lo, hi
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f'{key}: expected a view count, a fraction of full sampling such as "1/8", or a '
                         f"[lo, hi] range of either, got {value!r}")
    if isinstance(value, int):
        if value < MIN_VIEWS:
            raise ValueError(f"{key}: a view count must be >= {MIN_VIEWS}, got {value}")
        return value
    return parse_fraction(value, key)


def views_for(spec: int | Fraction, size: int) -> int:
    """The view count of ``spec`` (a count, or a fraction of full sampling) for ``size`` pixels."""
    if isinstance(spec, Fraction):
        return max(MIN_VIEWS, math.floor(spec * full_view_count(size) + Fraction(1, 2)))
    return int(spec)


def describe_views(spec: ViewSpec, sizes: tuple[int, ...] = ()) -> str:
    """In words: ``"1/8 of full angular sampling (101 views at 512 px)"``, ``"60 views"``..."""
    if isinstance(spec, tuple):
        return f"{describe_views(spec[0], sizes)} to {describe_views(spec[1], sizes)}, drawn per slice"
    if isinstance(spec, int):
        return f"{spec} views over 180 degrees"
    counts = ", ".join(f"{views_for(spec, s)} views at {s} px" for s in sorted(set(sizes)))
    return f"{spec} of full angular sampling" + (f" ({counts})" if counts else "")
