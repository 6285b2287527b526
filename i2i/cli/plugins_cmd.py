"""``i2i list-plugins``."""

from __future__ import annotations

import json

import click


@click.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugin objects.")
def list_plugins(as_json: bool) -> None:
    """List installed plugins, their components and any load errors.

    Third-party plugins load from the 'i2i' entry-point group; I2I_LOAD_PLUGINS="" loads
    none of them, I2I_LOAD_PLUGINS="a,b" only those.
    """
    from i2i.plugins import get_plugins

    plugins = get_plugins()
    if as_json:
        click.echo(json.dumps([info.as_json() for info in plugins.infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="i2i plugins")
    for column in ("plugin", "version", "builtin", "components", "error"):
        table.add_column(column, overflow="fold")
    for info in plugins.infos:
        components = "\n".join(f"{kind}: {', '.join(sorted(names))}" for kind, names in info.components.items() if names)
        if not components and info.hooks:
            components = "hooks: " + ", ".join(sorted(info.hooks))
        problems = ([f"[red]{info.error}[/red]"] if info.error else []) + \
            [f"[yellow]warning: {w}[/yellow]" for w in info.warnings]
        table.add_row(info.name, info.version or "-", "yes" if info.builtin else "no", components, "\n".join(problems))
    Console().print(table)
    for line in plugins.warnings:
        click.secho(f"warning: {line}", fg="yellow", err=True)
