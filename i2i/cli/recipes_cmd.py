"""``i2i recipes``: the shipped recipes, runnable by name."""

from __future__ import annotations

import json

import click

from i2i.cli.console import print_table
from i2i.cli.options import loaded_plugins


@click.command("recipes")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, plugin, path, description}.")
def recipes(as_json: bool) -> None:
    """List the shipped recipes (i2i's own and those plugins ship): run one by name
    (i2i run medical_ct), or write an editable copy (i2i recipe copy medical_ct)."""
    from i2i.recipe.named import shipped_recipes

    shipped = sorted(shipped_recipes(loaded_plugins()).values(), key=lambda r: r.name)
    if as_json:
        click.echo(json.dumps([{"name": r.name, "plugin": r.plugin, "path": str(r.path),
                                "description": r.description} for r in shipped], indent=2))
        return
    from rich.table import Table

    table = Table(title="i2i recipes", caption="i2i run NAME  |  i2i recipe show NAME  |  i2i recipe copy NAME [DEST]")
    for column, wrap in (("name", False), ("plugin", False), ("description", True)):
        table.add_column(column, no_wrap=not wrap, overflow="fold")
    for r in shipped:
        table.add_row(r.name, r.plugin, r.description)
    print_table(table)
