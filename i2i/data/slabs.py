"""Held-out slabs of one volume (or one patient's volumes): the split used when the data
left to split are a single group, so whole groups cannot be held out.

The samples are ordered by their position along the stack (mm, from the source's
``positions``; their order in the dataset when a position is unknown). Samples at one
position (the same place in two series of one patient) are one slice here and always go to
the same side, so a held-out slice never has a copy in training. Each held-out split takes
about its share of the slices as contiguous slabs:

- ``position`` (0 = the first slice, 1 = the last; default 0.5) places the slabs: by
  default test and then val sit in the middle of the stack, where a head has brain and a
  trunk its organs, and training keeps both ends. (Taking the two ends, as i2i did before,
  held out the skull base and the vertex of a head: no brain in either split.)
- ``count`` slabs per split (default 1) spreads them: the stack is cut into ``count``
  segments, each holding one slab of every split at ``position`` within the segment, so
  held-out slices come from all along the stack, interleaved with training slices.
- ``gap`` slices (default 2) on each side of every held-out slab are used by no split:
  neighbouring slices look alike, and a training slice next to a test slice would flatter
  the model. It shrinks when nothing would be left for training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SlabLayout:
    """Where held-out slabs go (see the module doc)."""

    position: float = 0.5
    count: int = 1
    gap: int = 2


@dataclass
class Slabs:
    """Sample indices per held-out split, for training, and left unused; ``description``
    states the slice range of each, for one line."""

    held: dict[str, list[int]]
    train: list[int]
    unused: list[int]
    description: str


def slab_split(positions: Sequence[float | None], shares: dict[str, float], layout: SlabLayout = SlabLayout()) -> Slabs:
    """Hold out ``shares`` (split -> fraction of the samples) of samples at ``positions`` as
    slabs laid out by ``layout``. A split that cannot get a slice while leaving one for
    training gets none (the caller says so)."""
    known = all(p is not None and math.isfinite(p) for p in positions)
    keys = [round(float(p), 3) for p in positions] if known else list(range(len(positions)))
    levels = sorted(set(keys))
    sizes = {name: max(1, round(len(levels) * share)) for name, share in shares.items() if share > 0}
    while sum(sizes.values()) >= len(levels) and max(sizes.values(), default=0) > 1:
        largest = max(sizes, key=sizes.get)
        sizes[largest] -= 1
    if sum(sizes.values()) >= len(levels):
        sizes = {}
    role = _lay_out(len(levels), sizes, layout)
    gap = layout.gap
    while True:
        unused = {i for i in range(len(levels)) if role[i] is None
                  and any(role[j] is not None for j in range(max(0, i - gap), min(len(levels), i + gap + 1)))}
        if gap == 0 or len(unused) < sum(r is None for r in role):
            break
        gap -= 1
    for i in unused:
        role[i] = "unused"
    index_of = {level: i for i, level in enumerate(levels)}
    by_role: dict[str, list[int]] = {}
    for sample, key in enumerate(keys):
        by_role.setdefault(role[index_of[key]] or "train", []).append(sample)
    held = {name: by_role.get(name, []) for name in sizes}
    text = ", ".join(f"{name or 'train'} = {_ranges(role, name, levels if known else None)}"
                     for name in [*sizes, None] if name in role)
    if unused:
        text += f"; {gap} slice{'s' if gap > 1 else ''} beside each held-out slab unused"
    return Slabs(held, by_role.get("train", []), by_role.get("unused", []), text)


def _lay_out(count: int, sizes: dict[str, int], layout: SlabLayout) -> list[str | None]:
    """Each of ``count`` slices' split (None: training), slabs placed by ``layout``."""
    role: list[str | None] = [None] * count
    if not sizes:
        return role
    segments = max(1, min(layout.count, min(sizes.values())))
    for j in range(segments):
        start, end = j * count // segments, (j + 1) * count // segments
        parts = [(name, size // segments + (1 if j < size % segments else 0)) for name, size in sizes.items()]
        length = sum(size for _, size in parts)
        first = min(max(start, round(start + layout.position * (end - start) - length / 2)), max(start, end - length))
        i = first
        for name, size in parts:
            for _ in range(size):
                while role[i % count] is not None:  # a slab that spills over takes the next free slice
                    i += 1
                role[i % count] = name
                i += 1
    return role


def _ranges(role: list[str | None], name: str | None, levels: list[float] | None) -> str:
    """``slices 30-36 (72.5 to 87.5 mm), 50-52 (...)``: the runs of slices of ``name``."""
    runs: list[tuple[int, int]] = []
    for i, r in enumerate(role):
        if r == name:
            if runs and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
    parts = []
    for a, b in runs:
        span = f"{a}" if a == b else f"{a}-{b}"
        if levels is not None:
            span += f" ({levels[a]:g} mm)" if a == b else f" ({levels[a]:g} to {levels[b]:g} mm)"
        parts.append(span)
    return ("slice " if len(runs) == 1 and runs[0][0] == runs[0][1] else "slices ") + ", ".join(parts)
