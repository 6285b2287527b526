"""``i2i new-plugin``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="Where to create it (default: ./i2i-NAME).")
def new_plugin(name: str, folder: str | None) -> None:
    """Create a pip-installable plugin package NAME: a generator, a reconstruction loss and a
    metric (one component of each kind, to edit or drop) and their tests."""
    from i2i.scaffold import scaffold_plugin

    target = Path(folder or f"i2i-{name.replace('_', '-')}")
    written = scaffold_plugin(name, target)
    for path in written:
        click.echo(f"  wrote {path}")
    click.echo(f"\nnext: pip install -e {target}  then  i2i list-plugins  "
               f"(its components: generator {name}_generator, loss {name}_charbonnier, metric {name}_max_error)")
