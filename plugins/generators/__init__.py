"""Built-in generators."""

from i2i import hookimpl


@hookimpl
def register_generators(register):
    """Register the reference generators and the timm-encoder U-Net."""
    from i2i_plugins.generators import resnet, timm_unet, unet

    register("unet", unet.unet)
    register("unet_256", unet.unet_256)
    register("unet_128", unet.unet_128)
    register("resnet", resnet.resnet)
    register("resnet_9blocks", resnet.resnet_9blocks)
    register("resnet_6blocks", resnet.resnet_6blocks)
    register("global", resnet.global_generator)
    register("unet_timm", timm_unet.unet_timm)
