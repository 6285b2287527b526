"""``i2i summary``."""

from __future__ import annotations

import json

import click

from i2i.cli.console import print_table
from i2i.cli.options import loaded_plugins, set_option


@click.command("summary")
@click.argument("path", type=click.Path())
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(path: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Per component: name, options, exact parameter count; receptive field of the
    discriminator and size divisor of the generator. PATH is a recipe (a file or a shipped
    recipe's name) or a run directory (its resolved recipe.toml)."""
    from pathlib import Path

    from i2i.assembly.describe import component_details, describe_recipe
    from i2i.recipe import load_recipe

    plugins = loaded_plugins()
    recipe_file = Path(path) / "recipe.toml" if Path(path).is_dir() else Path(path)
    result = describe_recipe(load_recipe(recipe_file, sets, plugins), plugins)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"summary of {path}")
    for column in ("role", "name", "parameters", "details", "options"):
        table.add_column(column, overflow="fold")
    for c in result["components"]:
        name, details = component_details(c)
        options = ", ".join(f"{k}={v!r}" for k, v in c["options"].items())
        table.add_row(c["role"], name, f"{c['parameters']:,}" if "parameters" in c else "", "; ".join(details), options)
    print_table(table)
