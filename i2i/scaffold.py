"""``i2i new-plugin``: a pip-installable plugin package with a generator, a loss, a metric
and their tests, written whole or not at all."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from i2i import atomic
from i2i.errors import UsageError
from i2i.plugins import BUILTIN_DISTRIBUTION
from i2i.resources import disk_full
from i2i.version import __version__

NAME = re.compile(r"[a-z][a-z0-9_]*")

#: template file -> path in the new package ($package is replaced)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "init.py.tmpl": "src/$package/__init__.py",
    "plugin.py.tmpl": "src/$package/plugin.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


def scaffold_plugin(name: str, folder: Path) -> list[Path]:
    """Write the package for plugin ``name`` into ``folder``; returns the files written."""
    if not NAME.fullmatch(name):
        raise UsageError(f"new-plugin: name {name!r} must start with a lower-case letter and contain only "
                         "lower-case letters, digits and underscores (it becomes the Python package i2i_NAME)")
    if f"i2i-{name.replace('_', '-')}" == BUILTIN_DISTRIBUTION:
        raise UsageError(f"new-plugin: name {name!r} would make the distribution {BUILTIN_DISTRIBUTION}, which is "
                         "i2i itself; choose another name")
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UsageError(f"new-plugin: {folder} exists and is not a folder; choose another --dir")
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"new-plugin: {folder} exists and is not empty; choose another --dir")
    values = {
        "name": name,
        "package": f"i2i_{name}",
        "distribution": f"i2i-{name.replace('_', '-')}",
        "generator": f"{name}_generator",
        "i2i_version": __version__,
    }
    templates = resources.files("i2i") / "templates" / "plugin"
    relative = [Path(Template(target).substitute(values)) for target in FILES.values()]
    try:
        with atomic.atomic_folder(folder) as staging:  # all of the package, or nothing
            for template, path in zip(FILES, relative):
                text = Template((templates / template).read_text(encoding="utf-8")).substitute(values)
                (staging / path).parent.mkdir(parents=True, exist_ok=True)
                (staging / path).write_text(text, encoding="utf-8")
    except OSError as exc:
        full = "no space left on the device" if disk_full(exc) else exc.strerror or str(exc)
        raise UsageError(f"new-plugin: cannot write {folder} ({full}); nothing was written") from None
    return [folder / path for path in relative]
