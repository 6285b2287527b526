"""Built-in discriminators."""

from i2i import hookimpl


@hookimpl
def register_discriminators(register):
    """Register the PatchGAN family."""
    from i2i_plugins.discriminators import patchgan

    register("patchgan", patchgan.patchgan)
    register("pixel", patchgan.pixel)
