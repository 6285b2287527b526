"""i2i's version (read by the package metadata, recorded in checkpoints, reports and exports)."""

__version__ = "0.1.0"
