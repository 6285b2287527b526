"""The file formats the loaded plugins registered (``register_formats``), by suffix: which
format reads or writes a path, built with its ``--format-option`` options. The format
contract itself (:class:`~i2i.data.formats.Format`) is in :mod:`i2i.data.formats`.

Formats serve ``i2i predict`` (and ``i2i predict --pairs`` outputs): training sources read
their files themselves (:mod:`i2i.data.imageio`, :mod:`i2i.medical`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from i2i.assembly.components import build
from i2i.atomic import atomic_path
from i2i.data.formats import Decoded, Format, Stack
from i2i.errors import I2IError, UsageError, one_of
from i2i.messages import warn
from i2i.plugins import get_plugins
from i2i.recipe import ComponentSpec


class FormatTable:
    """The formats the loaded plugins registered, by suffix (each built with its defaults)."""

    def __init__(self, plugins: Any):
        self.plugins = plugins
        self.by_suffix: dict[str, Format] = {}
        for component in plugins["formats"]:
            try:
                fmt = self._build(component.name, {})
            except Exception as exc:  # one broken third-party format must not break every predict
                said = str(exc) if isinstance(exc, I2IError) else \
                    f"format {component.name!r} (plugin {component.plugin!r}): {type(exc).__name__}: {exc}"
                warn(f"{said}; it is left out")
                continue
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
        fmt = build(self.plugins, "formats", ComponentSpec(name, options), "--format-option")
        if not isinstance(fmt, Format):
            raise I2IError(f"format {name!r} (plugin {self._plugin(name)!r}): its factory returned "
                           f"{type(fmt).__name__}, not an i2i.data.formats.Format")
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
        writer of ``path``'s format (built with ``options``), into a private temporary moved
        over ``path`` when complete (:func:`i2i.atomic.atomic_path`): a failed write (a full
        disk) leaves no partial file, and a link planted at ``path`` is replaced, not followed."""
        path = Path(path)
        self.check_writable(path, like)
        fmt = self.output_format(path, options)
        with atomic_path(path) as temporary:
            fmt.write(temporary, image.detach().float().cpu(), like)
            if not temporary.is_file():
                raise I2IError(f"format {fmt.name!r} (plugin {self._plugin(fmt.name)!r}) wrote no file at {temporary}: "
                               "a format's write(path, image, like) writes exactly the path it is given")
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
        plugins = get_plugins()
    entry = _tables.get(id(plugins))
    if entry is None or entry[0] is not plugins:
        entry = _tables[id(plugins)] = (plugins, FormatTable(plugins))
    return entry[1]
