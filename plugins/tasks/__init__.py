"""Built-in task presets."""

from i2i import hookimpl


@hookimpl
def register_tasks(register):
    """Register the task presets."""
    from i2i_plugins.tasks import colorization, ct, edges2photo, inpainting, mr_to_ct, paired, restoration

    register("paired", paired.PairedTask)
    register("colorization", colorization.ColorizationTask)
    register("edges2photo", edges2photo.Edges2PhotoTask)
    register("inpainting", inpainting.InpaintingTask)
    register("restoration", restoration.RestorationTask)
    register("ct_sparse_view", ct.SparseViewTask)
    register("ct_low_dose", ct.LowDoseTask)
    register("mr_to_ct", mr_to_ct.MRToCTTask)
