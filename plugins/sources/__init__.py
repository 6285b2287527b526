"""Built-in data sources."""

from i2i import hookimpl


@hookimpl
def register_sources(register):
    """Register the file sources."""
    from i2i_plugins.sources import aligned

    register("aligned", aligned.AlignedSource)
