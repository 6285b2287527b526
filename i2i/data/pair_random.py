"""Random draws for the pairs a task makes (masks, noise levels, degradations, view counts).

In training, draws come from the global random stream (saved in checkpoints, so a resumed
run continues exactly). At evaluation time (validation, sample grids, ``i2i eval``,
``i2i predict --pairs``) every image has its own generator seeded by ``(run.seed, the
image's index in its split)``: an image gets the same mask or noise whatever the batch
size, the worker count or which of those passes looks at it.

A task asks for draws per image and gets them stacked: ``random.uniform(0.02, 0.1)`` is an
``(N,)`` tensor, ``random.normal((3, 64, 64))`` an ``(N, 3, 64, 64)`` one, each image's
values drawn from its own generator in the order the calls are made.

Devices: training draws are made on the batch's device, from that device's global stream (a
CUDA batch's noise is drawn on the GPU, not on the CPU and copied; the stream is in the
checkpoint as well). Per-image draws (``uniform``, ``normal``, ``randint``) are made on the
CPU from the image's generator and moved to the batch's device, so an image gets the same
numbers on the CPU and on a GPU. ``generator(i)`` is a generator on the batch's device (what
``torch`` functions drawing on that device need): on the CPU the image's own generator; on a
GPU one seeded with the image's seed, the same at any batch size but not the CPU's numbers
(CUDA's Philox stream is not the CPU's Mersenne Twister), so what a task draws through it
(the low-dose CT noise) differs between CPU and GPU evaluations of the same image.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

#: Mixed into every evaluation seed, so evaluation draws never coincide with a training stream.
EVAL_STREAM = 0x1234_5678
#: The batch key holding each image's evaluation seed (set by the batch pipeline).
SEEDS_KEY = "pair_seeds"


def image_seed(run_seed: int, index: int) -> int:
    """The 63-bit seed of image ``index`` of a split for a run seeded ``run_seed``."""
    words = [EVAL_STREAM, int(run_seed) & 0xFFFFFFFFFFFFFFFF, int(index) & 0xFFFFFFFFFFFFFFFF]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0]) >> 1


class PairRandom:
    """Draws for ``n`` images on ``device``: from the global stream (``seeds=None``) or one
    generator per image (``seeds``)."""

    def __init__(self, n: int, device: torch.device | str = "cpu", seeds: Sequence[int] | None = None):
        if seeds is not None and len(seeds) != n:
            raise ValueError(f"expected {n} seeds, got {len(seeds)}")
        self.n = n
        self.device = torch.device(device)
        self._seeds = None if seeds is None else [int(s) for s in seeds]
        self._generators = None if seeds is None else [torch.Generator().manual_seed(s) for s in self._seeds]
        self._on_device: dict[int, torch.Generator] = {}

    @classmethod
    def for_batch(cls, batch: Mapping[str, Any], train: bool, n: int | None = None,
                  device: torch.device | str | None = None) -> PairRandom:
        """The draws for a batch: the global stream in training, else the images' own seeds
        (``batch["pair_seeds"]``; a batch without them, built outside the pipeline, seeds its
        images by their position in the batch)."""
        reference = batch.get("target", batch.get("input"))
        n = n if n is not None else int(reference.shape[0])
        device = device if device is not None else (reference.device if reference is not None else "cpu")
        if train:
            return cls(n, device)
        seeds = batch.get(SEEDS_KEY)
        return cls(n, device, list(seeds) if seeds is not None else [image_seed(0, i) for i in range(n)])

    def on_host(self) -> PairRandom:
        """The same draws (the same generators, continued) made on the CPU and left there: for
        values the host reads, such as a degradation's parameters that a library checks or an
        index it groups by (read on a GPU, a device value would make the host wait for it)."""
        host = copy.copy(self)
        host.device = torch.device("cpu")
        return host

    @property
    def per_image(self) -> bool:
        """Whether each image has its own generator (evaluation)."""
        return self._generators is not None

    def generator(self, i: int) -> torch.Generator | None:
        """Image ``i``'s generator on the batch's device (``None`` in training: the global
        stream), for functions that take one (see the module doc)."""
        if self._generators is None:
            return None
        if self.device.type == "cpu":
            return self._generators[i]
        if i not in self._on_device:
            self._on_device[i] = torch.Generator(device=self.device).manual_seed(self._seeds[i])
        return self._on_device[i]

    def _draw(self, make, shape: tuple[int, ...]) -> torch.Tensor:
        if self._generators is None:  # training: on the device, from its global stream
            return make((self.n, *shape), None, self.device)
        if not self.n:
            return make((0, *shape), None, self.device)
        return torch.stack([make(shape, g, "cpu") for g in self._generators]).to(self.device)

    def uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """U(low, high) per image: ``(N, *shape)`` float32."""
        return low + (high - low) * self._draw(lambda s, g, d: torch.rand(s, generator=g, device=d), tuple(shape))

    def randint(self, low: int, high: int, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Integers in ``low..high - 1`` per image: ``(N, *shape)`` int64."""
        return self._draw(lambda s, g, d: torch.randint(int(low), int(high), s, generator=g, device=d), tuple(shape))

    def normal(self, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Standard normal values per image: ``(N, *shape)`` float32."""
        return self._draw(lambda s, g, d: torch.randn(s, generator=g, device=d), tuple(shape))
