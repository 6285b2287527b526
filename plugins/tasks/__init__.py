"""Built-in task presets."""

from i2i import hookimpl


@hookimpl
def register_tasks(register):
    """Register the task presets."""
    from i2i_plugins.tasks import colorization, edges2photo, inpainting, paired, restoration

    register("paired", paired.PairedTask)
    register("colorization", colorization.ColorizationTask)
    register("edges2photo", edges2photo.Edges2PhotoTask)
    register("inpainting", inpainting.InpaintingTask)
    register("restoration", restoration.RestorationTask)
