"""Built-in data sources."""

from i2i import hookimpl


@hookimpl
def register_sources(register):
    """Register the file sources, the CT volume source, real CT pairs and the built-in phantoms."""
    from i2i_plugins.sources import aligned, ct, ct_pairs, folder, paired_folders, phantom

    register("aligned", aligned.AlignedSource)
    register("paired_folders", paired_folders.PairedFoldersSource)
    register("folder", folder.FolderSource)
    register("ct", ct.CTSource)
    register("ct_pairs", ct_pairs.CTPairsSource)
    register("phantom", phantom.PhantomSource)
