"""The recipes plugins ship (hook ``register_recipes``; the built-in ones are i2i's
``recipes/`` folder): the table the plugin loader fills, one entry per name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from i2i.errors import ComponentError

#: What a recipe name may be: it becomes a folder name (``runs/NAME``) and a file stem.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ShippedRecipe:
    """A recipe registered by a plugin: its name, its file and the plugin that shipped it."""

    name: str
    path: Path
    plugin: str

    @property
    def description(self) -> str:
        """The first paragraph of the file's leading ``#`` comment, as one line."""
        try:
            lines = self.path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError):
            return ""
        words: list[str] = []
        for line in lines:
            text = line.strip()
            if not text.startswith("#"):
                if words or text:
                    break
                continue
            text = text.lstrip("#").strip()
            if not text and words:
                break
            words += text.split()
        return " ".join(words)


def add_recipe(table: dict[str, ShippedRecipe], name: str, path: str | Path, plugin: str) -> ShippedRecipe:
    """Add plugin ``plugin``'s recipe ``name`` (file ``path``) to ``table``; a bad name, a
    missing file or a name another plugin took fails with :class:`ComponentError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ComponentError(f"plugin {plugin!r}: recipe name {name!r} is not a name: use letters, digits, "
                             "'_' and '-' (it names the run directory runs/NAME)")
    file = Path(path)
    if file.suffix != ".toml" or not file.is_file():
        raise ComponentError(f"plugin {plugin!r}: recipe {name!r}: {file} is not a .toml file "
                             "(is it listed as package data?)")
    if name in table:
        raise ComponentError(f"recipe {name!r} from plugin {plugin!r} is already registered by plugin "
                             f"{table[name].plugin!r}; rename one of them")
    table[name] = ShippedRecipe(name, file, plugin)
    return table[name]
