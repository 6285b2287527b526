"""``i2i summary``."""

from __future__ import annotations

import json

import click

from i2i.cli.options import set_option


@click.command("summary")
@click.argument("path", type=click.Path(dir_okay=False))
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(path: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Per component: name, options, exact parameter count; receptive field of the
    discriminator and size divisor of the generator."""
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe
    from i2i.summary import summarize

    plugins = get_plugins()
    result = summarize(load_recipe(path, sets, plugins), plugins)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"summary of {path}")
    for column in ("role", "name", "parameters", "details", "options"):
        table.add_column(column, overflow="fold")
    for c in result["components"]:
        details = []
        if "size_divisor" in c:
            details.append(f"size divisor {c['size_divisor']}")
        if c.get("receptive_field"):
            details.append(f"receptive field {c['receptive_field']}x{c['receptive_field']}")
        if "weight" in c:
            details.append(f"weight {c['weight']:g}")
        if c["role"] == "task":
            details.append(f"{c['in_channels']} -> {c['out_channels']} channels")
        name = c["name"] if c["role"] != "loss" else f"{c['label']}: {c['name']}"
        options = ", ".join(f"{k}={v!r}" for k, v in c["options"].items())
        table.add_row(c["role"], name, f"{c['parameters']:,}" if "parameters" in c else "", "; ".join(details), options)
    Console().print(table)
