"""Reading inputs and writing outputs for ``i2i predict``, dispatched by file suffix.

A :class:`Format` pairs a reader (file -> :class:`Decoded`) with a writer (an output in data
units -> file). The table is built on first use from the built-in image formats and from
the providers in :data:`PROVIDERS` (``"module:function"`` returning a list of formats;
a provider whose module is not installed is skipped), and :func:`register_format` adds
more at run time. This is the extension point for medical formats: a
``i2i.medical.formats:formats`` provider returning DICOM (``.dcm``) and NIfTI
(``.nii``, ``.nii.gz``) formats is picked up without changing this module.

Writers get the output in the task's data units (floats in [0, 1] for images) and the
decoded input, whose dtype sets the output's bit depth: 8-bit in -> 8-bit out, 16-bit in
-> 16-bit out, float in -> float out.

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
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.data.imageio import TIFF_SUFFIXES, DataError, read_image, write_array
from i2i.errors import UsageError, one_of

#: Modules providing extra formats: ``"module:function"``, the function returning a list of
#: :class:`Format`. Missing modules are skipped.
PROVIDERS: tuple[str, ...] = ("i2i.medical.formats:formats",)


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
    """A file format: its name, the suffixes it owns (lower case, with the dot; may be
    double like ``.nii.gz``), a reader and a writer; ``stacks``: the writer also takes the
    outputs of a :class:`Stack`; ``sniff(path)``: whether a file of no known suffix holds
    this format, by its content (DICOM's ``DICM`` marker), or None."""

    name: str
    suffixes: tuple[str, ...]
    read: Reader
    write: Writer
    stacks: bool = False
    sniff: Callable[[Path], bool] | None = None


_table: dict[str, Format] | None = None


def register_format(fmt: Format, replace: bool = False) -> None:
    """Add ``fmt`` for its suffixes; an already taken suffix fails unless ``replace``."""
    table = _formats()
    for suffix in fmt.suffixes:
        if suffix in table and not replace and table[suffix] is not fmt:
            raise ValueError(f"suffix {suffix!r} is already handled by format {table[suffix].name!r}")
    for suffix in fmt.suffixes:
        table[suffix] = fmt


def suffix_of(path: str | Path) -> str:
    """The longest registered suffix ``path`` ends with (``.nii.gz`` before ``.gz``), else
    its last suffix, lower case."""
    name = Path(path).name.lower()
    for suffix in sorted(_formats(), key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return Path(name).suffix


def format_for(path: str | Path) -> Format:
    """The format of ``path`` by its suffix, else by its content (:func:`sniffed_format`);
    otherwise fails listing the known suffixes."""
    table = _formats()
    fmt = table.get(suffix_of(path)) or sniffed_format(path)
    if fmt is None:
        by_content = ", ".join(sorted({f.name for f in table.values() if f.sniff is not None}))
        raise UsageError(f"{path}: no reader/writer for {suffix_of(path) or 'files without a suffix'!r}; supported: "
                         f"{one_of(table)}" + (f"; by content, whatever the name: {by_content}" if by_content else ""))
    return fmt


def sniffed_format(path: str | Path) -> Format | None:
    """The format whose ``sniff`` recognises the existing file ``path`` (whose suffix no format owns), or None."""
    table = _formats()
    if suffix_of(path) in table or not Path(path).is_file():
        return None
    return next((f for f in dict.fromkeys(table.values()) if f.sniff is not None and f.sniff(Path(path))), None)


def supported_suffixes() -> tuple[str, ...]:
    """Every suffix that has a format."""
    return tuple(sorted(_formats()))


def read_input(path: str | Path) -> Decoded | Stack:
    """Decode ``path`` with the reader of its format."""
    return format_for(path).read(Path(path))


def write_output(path: str | Path, image: torch.Tensor, like: Decoded | Stack) -> Path:
    """Write ``image`` (C, H, W, data units; (D, C, H, W) for a :class:`Stack`) with the
    writer of ``path``'s format."""
    path = Path(path)
    check_writable(path, like)
    path.parent.mkdir(parents=True, exist_ok=True)
    format_for(path).write(path, image.detach().float().cpu(), like)
    return path


def check_writable(path: str | Path, like: Decoded | Stack) -> None:
    """Fail unless ``path``'s format can hold the output of ``like`` (a :class:`Stack` needs
    a format with ``stacks``)."""
    fmt = format_for(path)
    if isinstance(like, Stack) and not fmt.stacks:
        volume_formats = sorted(s for s, f in _formats().items() if f.stacks)
        raise UsageError(f"{like.path}: holds {len(like.slices)} slices, and {fmt.name} files hold one image; "
                         f"write it as {' or '.join(volume_formats) or 'a volume format'}")


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


def _formats() -> dict[str, Format]:
    global _table
    if _table is None:
        table: dict[str, Format] = {}
        for fmt in image_formats():
            table.update({s: fmt for s in fmt.suffixes})
        for provider in PROVIDERS:
            for fmt in _provided(provider):
                table.update({s: fmt for s in fmt.suffixes})
        _table = table
    return _table


def _provided(provider: str) -> list[Format]:
    module_name, _, function = provider.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return []  # the providing module is not there (yet)
        raise
    return list(getattr(module, function)())


# -- built-in image formats --------------------------------------------------------------------

def read_image_file(path: Path) -> Decoded:
    """PNG, JPEG, BMP, TIFF, WebP, NPY through :func:`i2i.data.imageio.read_image`."""
    return Decoded(path, read_image(path))


def quantise(image: torch.Tensor, bits: int, rows: int = 256) -> np.ndarray:
    """[0, 1] floats (C, H, W) -> (H, W, C) unsigned integers of ``bits`` (8 or 16), rounded;
    ``rows`` rows at a time, so no full-size float temporaries are made."""
    top = 255 if bits == 8 else 65535
    c, h, w = image.shape
    out = np.empty((h, w, c), dtype=np.uint8 if bits == 8 else np.uint16)
    for r in range(0, h, rows):
        part = (image[:, r:r + rows].clamp(0, 1) * top).round_().to(torch.int32)
        out[r:r + rows] = part.permute(1, 2, 0).numpy()
    return out


def write_image_file(path: Path, image: torch.Tensor, like: Decoded) -> None:
    """PNG and TIFF keep the input's bit depth: 8 or 16 bits, or float as float32 TIFF and
    as 16-bit PNG (PNG has no float); JPEG, BMP and WebP are always 8-bit (JPEG drops an
    alpha channel). Encoded by :func:`i2i.data.imageio.write_array`."""
    suffix = path.suffix.lower()
    channels = image.shape[0]
    if channels > 4 and suffix not in TIFF_SUFFIXES:
        raise DataError(f"{path}: {channels}-channel outputs need .tif or .npy (other image files take 1 to 4)")
    bits = like.bits if suffix in (".png", *TIFF_SUFFIXES) else "8"
    if bits == "float" and suffix == ".png":
        bits = "16"
    if bits == "float":
        write_array(path, image.permute(1, 2, 0).numpy().astype(np.float32))
        return
    array = quantise(image, 8 if bits == "8" else 16)
    if suffix in (".jpg", ".jpeg") and channels in (2, 4):
        array = array[:, :, :channels - 1]  # JPEG has no alpha
    write_array(path, array)


def write_npy(path: Path, image: torch.Tensor, like: Decoded) -> None:
    """float32 ``(H, W)`` for one channel, else ``(H, W, C)`` (the layout ``.npy`` inputs use)."""
    write_array(path, image.permute(1, 2, 0).numpy().astype(np.float32))


def image_formats() -> list[Format]:
    """The built-in formats."""
    return [
        Format("png", (".png",), read_image_file, write_image_file),
        Format("jpeg", (".jpg", ".jpeg"), read_image_file, write_image_file),
        Format("tiff", (".tif", ".tiff"), read_image_file, write_image_file),
        Format("bmp", (".bmp",), read_image_file, write_image_file),
        Format("webp", (".webp",), read_image_file, write_image_file),
        Format("npy", (".npy",), read_image_file, write_npy),
    ]
