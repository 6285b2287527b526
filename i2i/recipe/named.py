"""Recipes by name: the recipes plugins ship (hook ``register_recipes``; the built-in ones
are i2i's ``recipes/`` folder) and what a command's RECIPE argument names.

A RECIPE argument is an existing file, which always wins, or else a shipped recipe's name
(``medical_ct``; ``medical_ct.toml`` without a folder works too). The name is then what
the recipe is called everywhere, so the default run directory is ``runs/medical_ct``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from i2i.errors import ComponentError, UsageError, did_you_mean, one_of

if TYPE_CHECKING:
    from i2i.plugins import Plugins

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


def shipped_recipes(plugins: Plugins | None = None) -> dict[str, ShippedRecipe]:
    """Every shipped recipe by name (the process's plugins unless ``plugins`` is given)."""
    from i2i.plugins import get_plugins

    return (plugins or get_plugins()).recipes


def shipped_recipe(name: str, plugins: Plugins | None = None) -> ShippedRecipe | None:
    """The shipped recipe that ``name`` (``medical_ct`` or ``medical_ct.toml``) names, if any."""
    if "/" in name or "\\" in name:
        return None
    return shipped_recipes(plugins).get(name.removesuffix(".toml"))


def recipe_file(recipe: str | Path, plugins: Plugins | None = None) -> Path:
    """The file a RECIPE argument names: an existing path as given, else the shipped recipe
    of that name; neither fails naming the shipped recipes and the close ones."""
    path = Path(recipe)
    if path.exists():
        return path
    found = shipped_recipe(str(recipe), plugins)
    if found is not None:
        return found.path
    names = shipped_recipes(plugins)
    word = path.stem if path.suffix == ".toml" else str(recipe)
    raise UsageError(f"{recipe}: no such recipe file, nor a shipped recipe of that name{did_you_mean(word, names)}; "
                     f"shipped recipes: {one_of(names)} (`i2i recipes` describes them)")


def copy_recipe(name: str, dest: str | Path | None = None, plugins: Plugins | None = None) -> Path:
    """Write an editable copy of shipped recipe ``name`` to ``dest`` (default ``./NAME.toml``;
    a folder receives ``NAME.toml``); an existing file is never overwritten."""
    found = shipped_recipe(name, plugins)
    if found is None:
        names = shipped_recipes(plugins)
        raise UsageError(f"{name}: no shipped recipe of that name{did_you_mean(name, names)}; "
                         f"shipped recipes: {one_of(names)}")
    target = Path(dest) if dest is not None else Path(f"{found.name}.toml")
    if target.is_dir():
        target = target / f"{found.name}.toml"
    try:
        with target.open("xb") as out:
            out.write(found.path.read_bytes())
    except FileExistsError:
        raise UsageError(f"{target}: already exists; not overwritten (give another DEST, or remove it)") from None
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the copy: {exc}") from None
    return target
