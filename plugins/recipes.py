"""The shipped recipes (``recipes/*.toml``, installed as the package ``i2i_recipes``), each
registered under its file name: ``i2i run medical_ct`` reads ``medical_ct.toml``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from i2i import hookimpl


@hookimpl
def register_recipes(register):
    folder = Path(str(resources.files("i2i_recipes")))
    for path in sorted(folder.glob("*.toml")):
        register(path.stem, path)
