"""Reading inputs and writing outputs for ``i2i predict``, dispatched by file suffix.

A :class:`Format` pairs a reader (file -> :class:`Decoded`) with a writer (an output in data
units -> file). Formats are components: plugins register them with the ``register_formats``
hook, the built-in ones included (``plugins/formats.py``: PNG, JPEG, TIFF, BMP, WebP, NPY from
:mod:`i2i.data.image_formats`, DICOM and NIfTI from :mod:`i2i.medical.formats`), and
:func:`format_table` gives the loaded plugins' formats by suffix. A format factory's
keyword parameters are its options (``i2i predict --format-option quality=90``).

Writers get the output in the task's data units (floats in [0, 1] for images) and the
decoded input, whose dtype sets the output's bit depth: 8-bit in -> 8-bit out, 16-bit in
-> 16-bit out, float in -> float out. Formats with ``preview`` (the image formats meant
for viewing) get the task's display version of it instead (a CT model's HU in its window).

Volumes: a reader may return a :class:`Stack` (a file holding several 2-D images: a NIfTI
volume, a multi-frame DICOM) instead of a :class:`Decoded`. ``i2i predict`` predicts its
slices one by one and gives the writer all outputs at once, ``(D, C, H, W)``, with the
Stack as ``like``; only formats with ``stacks=True`` take them. Writers that share state
across the files of one run (one new DICOM series per source series) keep it in
:func:`session_state`, fresh for each :func:`output_session`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Decoded:
    """A decoded input: the (C, H, W) tensor as read (uint8; 16-bit values as int32 or
    uint16; float32) and whatever the format needs to write a matching output
    (e.g. a DICOM header) in ``meta``."""

    path: Path
    image: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def bits(self) -> str:
        """``"8"``, ``"16"`` or ``"float"``: the bit depth outputs are written with."""
        if self.image.dtype == torch.uint8:
            return "8"
        if self.image.dtype in (torch.int32, torch.uint16, torch.int16):
            return "16"
        return "float"


@dataclass
class Stack:
    """A decoded file holding several 2-D images (e.g. a CT volume): ``slices`` are predicted
    one by one (each a :class:`Decoded` of this ``path``), their outputs written together."""

    path: Path
    slices: Sequence[Decoded]
    meta: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Path], Decoded | Stack]
#: ``writer(path, image, like)``: ``image`` is (C, H, W) float in data units and ``like`` the
#: input's :class:`Decoded`, or (D, C, H, W) and its :class:`Stack` (formats with ``stacks``).
Writer = Callable[[Path, torch.Tensor, Decoded | Stack], None]


@dataclass(frozen=True)
class Format:
    """A file format: its name (the registered one), the suffixes it owns (lower case, with
    the dot; may be double like ``.nii.gz``), a reader and a writer; ``stacks``: the writer
    also takes the outputs of a :class:`Stack`; ``sniff(path)``: whether a file of no known
    suffix holds this format, by its content (DICOM's ``DICM`` marker), or None;
    ``preview``: outputs are display images (the task's ``preview`` of the data units)."""

    name: str
    suffixes: tuple[str, ...]
    read: Reader
    write: Writer
    stacks: bool = False
    sniff: Callable[[Path], bool] | None = None
    preview: bool = False


_session: contextvars.ContextVar[dict[str, dict] | None] = contextvars.ContextVar("i2i_output_session", default=None)


@contextlib.contextmanager
def output_session() -> Iterator[None]:
    """The scope of one prediction run (``predict_files``): :func:`session_state` is shared
    inside it and fresh for the next."""
    token = _session.set({})
    try:
        yield
    finally:
        _session.reset(token)


def session_state(key: str) -> dict:
    """A dict shared by the writes of the current :func:`output_session` under ``key`` (a
    format's name); outside a session, a fresh dict for every call (nothing is shared)."""
    state = _session.get()
    return {} if state is None else state.setdefault(key, {})
