"""Built-in generators."""

from i2i import hookimpl


@hookimpl
def register_generators(register):
    """Register the reference generators."""
    from i2i_plugins.generators import unet

    register("unet", unet.unet)
    register("unet_256", unet.unet_256)
    register("unet_128", unet.unet_128)
