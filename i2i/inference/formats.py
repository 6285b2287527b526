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
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from i2i.errors import I2IError, UsageError, one_of


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


class FormatTable:
    """The formats the loaded plugins registered, by suffix (each built with its defaults)."""

    def __init__(self, plugins: Any):
        self.plugins = plugins
        self.by_suffix: dict[str, Format] = {}
        for component in plugins["formats"]:
            fmt = self._build(component.name, {})
            for suffix in fmt.suffixes:
                other = self.by_suffix.get(suffix)
                if other is not None:
                    raise UsageError(f"suffix {suffix!r} is claimed by format {other.name!r} (plugin "
                                     f"{self._plugin(other.name)!r}) and by format {fmt.name!r} (plugin "
                                     f"{component.plugin!r}); uninstall one, or leave one out with I2I_LOAD_PLUGINS")
                self.by_suffix[suffix] = fmt

    def _plugin(self, name: str) -> str:
        return self.plugins["formats"].get(name).plugin

    def _build(self, name: str, options: Mapping[str, Any]) -> Format:
        from i2i.assembly.components import build
        from i2i.recipe import ComponentSpec

        fmt = build(self.plugins, "formats", ComponentSpec(name, options), "--format-option")
        if not isinstance(fmt, Format):
            raise I2IError(f"format {name!r} (plugin {self._plugin(name)!r}): its factory returned "
                           f"{type(fmt).__name__}, not an i2i.inference.formats.Format")
        return fmt if fmt.name == name else dataclasses.replace(fmt, name=name)

    def suffix_of(self, path: str | Path) -> str:
        """The longest registered suffix ``path`` ends with (``.nii.gz`` before ``.gz``), else
        its last suffix, lower case."""
        name = Path(path).name.lower()
        for suffix in sorted(self.by_suffix, key=len, reverse=True):
            if name.endswith(suffix) and len(name) > len(suffix):
                return suffix
        return Path(name).suffix

    def format_for(self, path: str | Path) -> Format:
        """The format of ``path`` by its suffix, else by its content (:meth:`sniffed`);
        otherwise fails listing the known suffixes."""
        fmt = self.by_suffix.get(self.suffix_of(path)) or self.sniffed(path)
        if fmt is None:
            by_content = ", ".join(sorted({f.name for f in self.by_suffix.values() if f.sniff is not None}))
            raise UsageError(f"{path}: no reader/writer for {self.suffix_of(path) or 'files without a suffix'!r}; "
                             f"supported: {one_of(self.by_suffix)}"
                             + (f"; by content, whatever the name: {by_content}" if by_content else ""))
        return fmt

    def sniffed(self, path: str | Path) -> Format | None:
        """The format whose ``sniff`` recognises the existing file ``path`` (whose suffix no format owns), or None."""
        if self.suffix_of(path) in self.by_suffix or not Path(path).is_file():
            return None
        return next((f for f in dict.fromkeys(self.by_suffix.values()) if f.sniff is not None and f.sniff(Path(path))),
                    None)

    def suffixes(self) -> tuple[str, ...]:
        """Every suffix that has a format."""
        return tuple(sorted(self.by_suffix))

    def output_format(self, path: str | Path, options: Mapping[str, Any] | None = None) -> Format:
        """The format ``path`` is written with, built with ``options`` (``--format-option``);
        an option the format does not take fails naming it and the ones it accepts."""
        fmt = self.format_for(path)
        if not options:
            return fmt
        problems = self.plugins["formats"].check_options(fmt.name, options)
        if problems:
            raise UsageError("\n".join(f"--format-option {key}: {message} (writing {path})"
                                        for key, message in problems))
        return self._build(fmt.name, options)

    def read(self, path: str | Path) -> Decoded | Stack:
        """Decode ``path`` with the reader of its format."""
        return self.format_for(path).read(Path(path))

    def write(self, path: str | Path, image: torch.Tensor, like: Decoded | Stack,
              options: Mapping[str, Any] | None = None) -> Path:
        """Write ``image`` (C, H, W, data units; (D, C, H, W) for a :class:`Stack`) with the
        writer of ``path``'s format (built with ``options``)."""
        path = Path(path)
        self.check_writable(path, like)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.output_format(path, options).write(path, image.detach().float().cpu(), like)
        return path

    def check_writable(self, path: str | Path, like: Decoded | Stack) -> None:
        """Fail unless ``path``'s format can hold the output of ``like`` (a :class:`Stack` needs
        a format with ``stacks``)."""
        fmt = self.format_for(path)
        if isinstance(like, Stack) and not fmt.stacks:
            volume_formats = sorted(s for s, f in self.by_suffix.items() if f.stacks)
            raise UsageError(f"{like.path}: holds {len(like.slices)} slices, and {fmt.name} files hold one image; "
                             f"write it as {' or '.join(volume_formats) or 'a volume format'}")


_tables: dict[int, tuple[Any, FormatTable]] = {}


def format_table(plugins: Any = None) -> FormatTable:
    """The formats of ``plugins`` (default: the process's plugins), built once per plugin set."""
    if plugins is None:
        from i2i.plugins import get_plugins

        plugins = get_plugins()
    entry = _tables.get(id(plugins))
    if entry is None or entry[0] is not plugins:
        entry = _tables[id(plugins)] = (plugins, FormatTable(plugins))
    return entry[1]


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
