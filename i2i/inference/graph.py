"""Exportable graphs: the generator at any size, and the whole of ``i2i predict``'s per-image
computation (the task's input conversion, the generator, the output conversion and
finishing) so an exported model takes and returns data units.

A :class:`TaskGraph` for an image task takes what a decoder gives (``uint8`` for 8-bit
files; 16-bit values as ``int32`` in PyTorch, ``uint16`` in ONNX; ``float32`` in [0, 1]) and
returns the output at the same depth, rounded as ``i2i predict`` writes files; for a CT task
(``task.input_units == "hu"``) it takes and returns float32 Hounsfield units, with air
outside the field of view.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.nn.sizing import reflect_indices
from i2i.taskspec import TaskSpec

#: Input dtypes a data-unit graph takes, by name; the output of an image task has the same.
INPUT_DTYPES = {"uint8": torch.uint8, "uint16": torch.int32, "float32": torch.float32}
#: The largest value of each integer input dtype (16-bit values travel as int32 in torch).
TOP = {torch.uint8: 255, torch.int32: 65535}


class AnySizeGenerator(nn.Module):
    """``generator`` for any H x W: reflect-pad to ``multiple``, run, crop back. Unlike
    :func:`i2i.nn.sizing.forward_any_size` it always pads (possibly by zero), so a traced
    graph keeps the pad amounts as functions of the input shape; the padding gathers
    mirrored rows and columns (:func:`i2i.nn.sizing.reflect_indices`, as ``forward_any_size``
    pads), so a pad wider than the image (a 1 x 1 or 3-pixel-high image) is mirrored
    repeatedly where ONNX's reflect ``Pad`` refuses it."""

    def __init__(self, generator: nn.Module, multiple: int):
        super().__init__()
        self.generator = generator
        self.multiple = int(multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        ph = (self.multiple - h % self.multiple) % self.multiple
        pw = (self.multiple - w % self.multiple) % self.multiple
        top, left = ph // 2, pw // 2
        padded = x.index_select(-2, reflect_indices(h, top, ph - top, x))
        padded = padded.index_select(-1, reflect_indices(w, left, pw - left, x))
        y = self.generator(padded)
        return y[:, :, top:top + h, left:left + w]



class TaskGraph(nn.Module):
    """Data units in, data units out: ``task.to_data_units`` and ``task.encode_input`` -> the
    generator at any size -> ``task.decode_output`` -> ``task.finalize_output`` -> the input's
    depth (image outputs)."""

    def __init__(self, task: TaskSpec, generator: nn.Module, multiple: int, input_dtype: torch.dtype):
        super().__init__()
        self.task = task
        self.network = AnySizeGenerator(generator, multiple)
        self.input_dtype = input_dtype

    @property
    def output_dtype(self) -> torch.dtype:
        """What the graph returns: float32 HU, else the input's dtype."""
        return torch.float32 if self.task.output_units == "hu" else self.input_dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.task.encode_input(self.task.to_data_units(images, "input"))
        out = self.task.finalize_output(self.task.decode_output(x, self.network(x)))
        top = TOP.get(self.output_dtype)
        if top is None:
            return out.float()
        return (out.clamp(0, 1) * top).round().to(self.output_dtype)


def default_input_dtype(task: TaskSpec) -> str:
    """``float32`` for tasks taking HU, else ``uint8`` (8-bit files)."""
    return "float32" if task.input_units == "hu" else "uint8"


def example_images(task: TaskSpec, dtype: torch.dtype, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Random inputs in data units of ``dtype``: HU in [-1000, 2000] for CT tasks, else the full
    range of the integer type, or [0, 1] floats."""
    g = torch.Generator().manual_seed(seed)
    if task.input_units == "hu":
        return torch.rand(shape, generator=g) * 3000 - 1000
    if dtype in TOP:
        return torch.randint(0, TOP[dtype] + 1, shape, generator=g).to(dtype)
    return torch.rand(shape, generator=g)
