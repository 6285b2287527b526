"""Building blocks for networks: norm layers, weight init, any-size padding, receptive fields."""

from i2i.nn.init import InitName, init_weights
from i2i.nn.norm import NormName, conv_bias, norm_layer
from i2i.nn.sizing import PadMode, forward_any_size, nearest_valid_size, pad_to_multiple
from i2i.nn.receptive import receptive_field

__all__ = [
    "InitName",
    "NormName",
    "PadMode",
    "conv_bias",
    "forward_any_size",
    "init_weights",
    "nearest_valid_size",
    "norm_layer",
    "pad_to_multiple",
    "receptive_field",
]
