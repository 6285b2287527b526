"""Built-in losses."""

from i2i import hookimpl


@hookimpl
def register_losses(register):
    """Register the adversarial, reconstruction, feature-matching and perceptual losses."""
    from i2i_plugins.losses import adversarial, feature_matching, perceptual, reconstruction

    register("vanilla", adversarial.VanillaGAN)
    register("lsgan", adversarial.LSGAN)
    register("hinge", adversarial.Hinge)
    register("wgangp", adversarial.WGANGP)
    register("l1", reconstruction.L1)
    register("l2", reconstruction.L2)
    register("ssim", reconstruction.SSIM)
    register("clipped_l1", reconstruction.ClippedL1)
    register("feature_matching", feature_matching.FeatureMatching)
    register("perceptual", perceptual.Perceptual)
