"""``i2i list-plugins``."""

from __future__ import annotations

import json

import click

from i2i.cli.console import print_table


@click.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugin objects.")
@click.option("--verbose", "-v", is_flag=True,
              help="Every component's options (type, default, documentation) and each plugin's hooks.")
def list_plugins(as_json: bool, verbose: bool) -> None:
    """List installed plugins, their components and any load errors.

    Third-party plugins load from the 'i2i' entry-point group; I2I_LOAD_PLUGINS="" loads
    none of them, I2I_LOAD_PLUGINS="a,b" only those. `i2i show NAME` describes one.
    """
    from i2i.plugins import get_plugins

    plugins = get_plugins()
    if as_json:
        click.echo(json.dumps([info.as_json() for info in plugins.infos], indent=2))
        return
    if verbose:
        from i2i.cli.component_docs import plugin_lines

        click.echo("\n\n".join("\n".join(plugin_lines(info, plugins, components=True)) for info in plugins.infos))
        for line in plugins.warnings:
            click.secho(f"warning: {line}", fg="yellow", err=True)
        return
    from rich.table import Table

    table = Table(title="i2i plugins")
    table.add_column("plugin", no_wrap=True)
    table.add_column("component", no_wrap=True)
    table.add_column("description", overflow="fold")
    for info in plugins.infos:
        rows = [(f"{plugins[kind].singular} {name}", plugins[kind].get(name).summary)
                for kind, names in info.components.items() for name in sorted(names)]
        if not rows and info.hooks:
            rows = [("hooks", ", ".join(sorted(info.hooks)))]
        if info.error:
            rows.append(("error", f"[red]{info.error}[/red]"))
        rows += [("warning", f"[yellow]{warning}[/yellow]") for warning in info.warnings]
        label = [info.name, f"{info.version or '-'}{' built in' if info.builtin else ''}"]
        for i, (component, description) in enumerate(rows or [("", "")]):
            table.add_row(label[i] if i < len(label) else "", component, description, end_section=i == len(rows) - 1)
    print_table(table)
    for line in plugins.warnings:
        click.secho(f"warning: {line}", fg="yellow", err=True)
