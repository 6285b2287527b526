"""Fake installed distributions with ``i2i`` entry points, for plugin-loading tests.

A ``*.dist-info`` folder with ``entry_points.txt`` on ``sys.path`` is exactly what pip
leaves behind, so importlib.metadata finds these like real installed packages.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def make_distribution(folder: Path, dist: str, entry_point: str, module: str, code: str, version: str = "0.3.1") -> Path:
    """Write module ``module`` and a dist-info declaring ``entry_point = module`` in group i2i."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[i2i]\n{entry_point} = {module}\n")
    return folder


GOOD = """
    from i2i import hookimpl
    from torch import nn

    class Identityish(nn.Module):
        def __init__(self, in_channels, out_channels, gain: float = 1.0):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, 1)

        def forward(self, x):
            return self.conv(x)

    @hookimpl
    def register_generators(register):
        register("good_gen", Identityish)

    @hookimpl
    def register_losses(register):
        from i2i.losses import ReconstructionLoss

        class Zero(ReconstructionLoss):
            def __call__(self, output, target):
                return (output - target).sum() * 0

        register("zero", Zero)
"""

RAISES_AT_IMPORT = """
    raise RuntimeError("this plugin is broken on purpose")
"""

MISSPELT_HOOK = """
    from i2i import hookimpl

    @hookimpl
    def register_generator(register):
        register("never", object)
"""

DUPLICATE = """
    from i2i import hookimpl

    def fake(in_channels, out_channels):
        return None

    @hookimpl
    def register_generators(register):
        register("unet_256", fake)
        register("dup_ok", fake)
"""

REGISTER_RAISES = """
    from i2i import hookimpl

    @hookimpl
    def register_discriminators(register):
        raise ValueError("cannot register today")
"""


@contextmanager
def process_plugins(extra: list[tuple[str, object]]) -> Iterator[object]:
    """Within the block, ``get_plugins()`` (the plugins the CLI uses) also loads the
    ``(name, module)`` pairs of ``extra`` that no installed entry point offers already."""
    from i2i import plugins as loading

    real = loading.load_plugins

    def load_plugins(more=None):
        loaded = real(more)
        missing = [(name, module) for name, module in extra if loaded.info(name) is None]
        return real([*(more or []), *missing]) if missing else loaded

    loading.load_plugins = load_plugins
    loading.get_plugins.cache_clear()
    try:
        yield loading.get_plugins()
    finally:
        loading.load_plugins = real
        loading.get_plugins.cache_clear()
