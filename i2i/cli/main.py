"""The ``i2i`` command group and its error handling.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or an invalid recipe. Errors are
printed without a traceback (set ``I2I_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys

import click

from i2i.cli import (
    eval_cmd,
    export_cmd,
    plugins_cmd,
    predict_cmd,
    recipe_cmd,
    recipes_cmd,
    report_cmd,
    run_cmd,
    scaffold_cmd,
    series_cmd,
    show_cmd,
    summary_cmd,
)
from i2i.errors import I2IError, RecipeError
from i2i.version import __version__


def print_error(exc: I2IError) -> None:
    lines = exc.lines() if isinstance(exc, RecipeError) else str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        click.secho(f"error: {line}", fg="red", err=True)


class I2IGroup(click.Group):
    """Turns :class:`~i2i.errors.I2IError` into a message and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except I2IError as exc:
            if os.environ.get("I2I_DEBUG"):
                raise
            print_error(exc)
            ctx.exit(exc.exit_code)


@click.group(cls=I2IGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="i2i")
def cli() -> None:
    """i2i: paired image-to-image translation (pix2pix family) from TOML recipes.

    \b
      i2i recipes                                     the shipped recipes, by name
      i2i run medical_ct                              train (works with no data)
      i2i run facades --set data.root=DIR --set train.steps=100
      i2i recipe copy facades my_facades.toml         an editable copy
      i2i list-plugins                                what is installed
      i2i show unet                                   a component's options and documentation
      i2i recipe show facades                         the recipe with every default
    """


for command in (run_cmd.run, plugins_cmd.list_plugins, recipe_cmd.recipe, recipes_cmd.recipes, summary_cmd.summary,
                scaffold_cmd.new_plugin, predict_cmd.predict, eval_cmd.eval_command, report_cmd.report,
                export_cmd.export, show_cmd.show, series_cmd.series_command):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="i2i")
    except KeyboardInterrupt as exc:  # Ctrl-C: 130; SIGTERM caught to release locks: 143
        click.secho("interrupted", fg="yellow", err=True)
        sys.exit(getattr(exc, "exit_code", 130))
