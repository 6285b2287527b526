"""The ``i2i`` command line."""

from i2i.cli.main import cli, main

__all__ = ["cli", "main"]
