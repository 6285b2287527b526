"""Building blocks for networks: norm layers, weight init, any-size padding, receptive
fields, and reading weight files safely."""

from i2i.nn.init import InitName, init_weights
from i2i.nn.norm import NormName, conv_bias, norm_layer
from i2i.nn.protocols import unwrap
from i2i.nn.receptive import receptive_field
from i2i.nn.sizing import PadMode, forward_any_size, nearest_valid_size, pad_to_multiple
from i2i.nn.weights import WEIGHT_SUFFIXES, load_state_file

__all__ = [
    "InitName",
    "NormName",
    "PadMode",
    "WEIGHT_SUFFIXES",
    "conv_bias",
    "forward_any_size",
    "init_weights",
    "load_state_file",
    "nearest_valid_size",
    "norm_layer",
    "pad_to_multiple",
    "receptive_field",
    "unwrap",
]
