"""Data: decoding files to tensors, sources of samples, resumable sampling and the
device-side geometric pipeline."""

from i2i.data.imageio import IMAGE_EXTENSIONS, DataError, read_image, write_image
from i2i.data.source import Source, list_images

__all__ = ["IMAGE_EXTENSIONS", "DataError", "Source", "list_images", "read_image", "write_image"]
