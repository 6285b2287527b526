"""Counting the host's reads of tensor values during training steps, on the CPU.

On a GPU every read of a device value (``.item()``, ``bool()``, ``float()``, ``int()``,
``.tolist()``, ``.cpu()``, ``.numpy()``, ``nonzero()``, a boolean-mask index, ``torch.equal``)
makes the host wait for the GPU to finish all queued work: a host synchronisation. On the
CPU nothing waits, but the same Python calls happen, so patching them counts what a CUDA step
would synchronise on (reads of CPU-only values, such as a draw from the CPU generator, count
too: the budget says which those are). Reads made while the data loader decodes samples are
left out (on a GPU they happen on the CPU, in worker processes).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
#: Tensor methods whose result is a host value read from the tensor.
METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero")


def _site() -> str:
    """``path:function`` of the innermost caller in i2i or its plugins."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if ROOT in path.parents and not {"tests", ".venv"} & set(path.relative_to(ROOT).parts):
            return f"{path.relative_to(ROOT).as_posix()}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "<outside i2i>"


class HostReads:
    """Patches (through ``monkeypatch``) the reading methods of ``torch.Tensor``; while
    ``active``, each call is counted by its call site in ``sites``."""

    def __init__(self, monkeypatch):
        self.active = False
        self.sites: Counter[str] = Counter()
        for name in METHODS:
            monkeypatch.setattr(torch.Tensor, name, self._counting(getattr(torch.Tensor, name)))
        monkeypatch.setattr(torch.Tensor, "__getitem__", self._masked(torch.Tensor.__getitem__))
        monkeypatch.setattr(torch, "equal", self._counting(torch.equal))
        monkeypatch.setattr(torch, "nonzero", self._counting(torch.nonzero))

    def _record(self) -> None:
        self.active = False
        try:
            self.sites[_site()] += 1
        finally:
            self.active = True

    def _counting(self, original):
        def read(*args, **kwargs):
            if self.active:
                self._record()
            return original(*args, **kwargs)
        return read

    def _masked(self, original):
        def getitem(tensor, index):
            if self.active and _has_mask(index):
                self._record()
            return original(tensor, index)
        return getitem

    def take(self) -> Counter[str]:
        """The counts since the last call."""
        sites, self.sites = self.sites, Counter()
        return sites


def _has_mask(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts)


def count_per_step(monkeypatch) -> list[Counter[str]]:
    """Patch the trainer so that each training step's reads (not the data loader's) are
    appended to the returned list, one ``Counter`` of call sites per step."""
    from i2i.engine.progress import ProgressDisplay
    from i2i.engine.trainer import Trainer
    from i2i.engine.training_data import TrainingData

    reads, steps = HostReads(monkeypatch), []
    loop, batches, update = Trainer._loop, TrainingData.batches, ProgressDisplay.update

    def counted_loop(self, display):
        reads.take()
        reads.active = True
        try:
            return loop(self, display)
        finally:
            reads.active = False

    def quiet_batches(self, step):
        decoded = batches(self, step)
        while True:
            was, reads.active = reads.active, False
            try:
                raw = next(decoded)
            finally:
                reads.active = was
            yield raw

    def step_end(self, step, logs):
        was, reads.active = reads.active, False
        steps.append(reads.take())
        try:
            return update(self, step, logs)
        finally:
            reads.active = was

    monkeypatch.setattr(Trainer, "_loop", counted_loop)
    monkeypatch.setattr(TrainingData, "batches", quiet_batches)
    monkeypatch.setattr(ProgressDisplay, "update", step_end)
    return steps


def copies_to_other_devices(monkeypatch) -> list[tuple[int, ...]]:
    """Patch ``Tensor.to`` to record the shape of every CPU tensor copied to another device (the
    ``meta`` device stands in for a GPU, where a blocking copy from pageable memory makes the
    host wait); returns the list it appends to."""
    copies: list[tuple[int, ...]] = []
    to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        out = to(self, *args, **kwargs)
        if self.device.type == "cpu" and out.device.type != "cpu":
            copies.append(tuple(self.shape))
        return out

    monkeypatch.setattr(torch.Tensor, "to", spy)
    return copies
