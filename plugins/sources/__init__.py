"""Built-in data sources."""

from i2i import hookimpl


@hookimpl
def register_sources(register):
    """Register the file sources."""
    from i2i_plugins.sources import aligned, folder, paired_folders

    register("aligned", aligned.AlignedSource)
    register("paired_folders", paired_folders.PairedFoldersSource)
    register("folder", folder.FolderSource)
