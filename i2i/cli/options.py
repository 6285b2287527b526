"""Options shared by several commands."""

from __future__ import annotations

import click

set_option = click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE",
    help="Override a recipe key (dotted key, TOML value), e.g. --set train.steps=20. Repeatable.")
