"""``i2i recipe show|check``."""

from __future__ import annotations

import inspect

import click

from i2i.cli.options import loaded_plugins, set_option


@click.group("recipe")
def recipe() -> None:
    """Show, check or copy a recipe. RECIPE is a file or a shipped recipe's name (i2i recipes)."""


@recipe.command("show")
@click.argument("path", metavar="RECIPE", type=click.Path(dir_okay=False))
@set_option
def show(path: str, sets: tuple[str, ...]) -> None:
    """Print the resolved recipe: task defaults, the file and --set overrides, every default filled in."""
    import tomli_w

    from i2i.recipe import load_recipe

    click.echo(tomli_w.dumps(load_recipe(path, sets, loaded_plugins()).as_dict()), nl=False)


@recipe.command("check")
@click.argument("path", metavar="RECIPE", type=click.Path(dir_okay=False))
@set_option
def check(path: str, sets: tuple[str, ...]) -> None:
    """Validate a recipe and build its task, networks (on the meta device: no memory) and
    losses: exit 0 when valid, 2 with every problem listed otherwise."""
    from i2i.assembly.components import dry_build
    from i2i.recipe import load_recipe

    plugins = loaded_plugins()
    r = load_recipe(path, sets, plugins)
    dry_build(plugins, r)
    click.echo(f"{path}: ok (task {r.task.name}, generator {r.generator.name}, "
               f"discriminator {r.discriminator.name if r.discriminator else 'none'}, "
               f"losses {', '.join(f'{l.label}={l.name}x{l.weight:g}' for l in r.losses)})")
    root = plugins["sources"].get(r.source.name).parameters().get("root")
    if r.data_root is None and root is not None and root.default is inspect.Parameter.empty:
        click.echo(f"note: data.root is not set; source {r.source.name!r} needs it to run (--set data.root=PATH)")


@recipe.command("copy")
@click.argument("name")
@click.argument("dest", required=False, type=click.Path())
def copy(name: str, dest: str | None) -> None:
    """Write an editable copy of shipped recipe NAME to DEST (default ./NAME.toml; a folder
    receives NAME.toml). An existing file is not overwritten."""
    from i2i.recipe.named import copy_recipe

    target = copy_recipe(name, dest, loaded_plugins())
    click.echo(f"wrote {target}: edit it, then i2i run {target}")
