"""Built-in discriminators."""

from i2i import hookimpl


@hookimpl
def register_discriminators(register):
    """Register the PatchGAN family and pix2pixHD's multi-scale discriminator."""
    from i2i_plugins.discriminators import multiscale, patchgan

    register("patchgan", patchgan.patchgan)
    register("pixel", patchgan.pixel)
    register("multiscale", multiscale.multiscale)
