"""Built-in losses."""

from i2i import hookimpl


@hookimpl
def register_losses(register):
    """Register the adversarial and reconstruction losses."""
    from i2i_plugins.losses import adversarial, reconstruction

    register("vanilla", adversarial.VanillaGAN)
    register("lsgan", adversarial.LSGAN)
    register("l1", reconstruction.L1)
    register("l2", reconstruction.L2)
