"""Recipes by name: the recipes plugins ship (hook ``register_recipes``; the built-in ones
are i2i's ``recipes/`` folder) and what a command's RECIPE argument names.

A RECIPE argument is an existing file, which always wins, or else a shipped recipe's name
(``medical_ct``; ``medical_ct.toml`` without a folder works too). The name is then what
the recipe is called everywhere, so the default run directory is ``runs/medical_ct``.
"""

from __future__ import annotations

from pathlib import Path

from i2i import atomic
from i2i.errors import UsageError, did_you_mean, one_of
from i2i.plugins import Plugins, get_plugins
from i2i.resources import disk_full
from i2i.shipped_recipes import ShippedRecipe


def shipped_recipes(plugins: Plugins | None = None) -> dict[str, ShippedRecipe]:
    """Every shipped recipe by name (the process's plugins unless ``plugins`` is given)."""
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
        atomic.write_bytes(target, found.path.read_bytes(), exclusive=True)
    except FileExistsError:
        raise UsageError(f"{target}: already exists; not overwritten (give another DEST, or remove it)") from None
    except OSError as exc:
        full = " (no space left on the device: free space there)" if disk_full(exc) else ""
        raise UsageError(f"{target}: cannot write the copy: {exc.strerror or exc}{full}; nothing was written") \
            from None
    return target
