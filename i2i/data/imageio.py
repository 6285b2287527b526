"""Decoding image files to tensors and writing them back, bit for bit.

``read_image`` returns a (C, H, W) tensor of one of three dtypes:

- ``uint8`` for 8-bit files (and 1-bit ones, as 0 / 255);
- ``int32`` holding the values of 16-bit files (torch has no general uint16 arithmetic;
  int32 means "16-bit values" and nothing else);
- ``float32`` for float data (``.npy``, float TIFF) and for signed or wider integers that
  float32 holds exactly (int16 always; int32 / float64 when their values fit).

Nothing is rescaled here (normalisation is the task's job: :func:`i2i.tasks.to_unit_range`)
and nothing is truncated or rounded: a file whose depth or layout these cannot hold fails
with :class:`DataError` naming it. Libraries: PNG through imagecodecs (libpng; 1-4 channels
at 8 and 16 bits), TIFF through tifffile (any channel count; 8/16-bit integers, float;
compressed TIFFs decode through imagecodecs), JPEG / BMP / WebP through Pillow, ``.npy``
through numpy. :func:`write_array` writes the same dtypes back with the same libraries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from i2i.errors import I2IError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")
TIFF_SUFFIXES = (".tif", ".tiff")
#: TIFF series layouts read (tifffile's axes): grey, channels last, channels first.
TIFF_LAYOUTS = ("YX", "YXS", "SYX", "CYX")
#: Integers of magnitude up to this are exact in float32.
FLOAT32_EXACT_INTEGERS = 2 ** 24
LOSSY_QUALITY = 95


class DataError(I2IError):
    """A file that cannot be used; the message names it."""


def read_image(path: str | Path) -> torch.Tensor:
    """Decode ``path`` to a (C, H, W) tensor (see the module docstring for dtypes)."""
    path = Path(path)
    try:
        array = _decode(path)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot decode image: {type(exc).__name__}: {exc}") from None
    array = exact_values(channels_last(array, path), path)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file from its header (NPY: the array header; TIFF: the image
    directory), without decoding pixels."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            shape = _npy_shape(path)
            return int(shape[0]), int(shape[1])
        if suffix in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = _tiff_series(tif, path)
                return series.shape[series.axes.index("Y")], series.shape[series.axes.index("X")]
        from PIL import Image

        with Image.open(path) as img:
            return img.height, img.width
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read the image header: {type(exc).__name__}: {exc}") from None


def _npy_shape(path: Path) -> tuple[int, ...]:
    from numpy.lib import format as npy

    with open(path, "rb") as f:
        major, _ = npy.read_magic(f)
        read_header = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
        return read_header(f)[0]


def _decode(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".png":
        import imagecodecs

        return imagecodecs.png_decode(path.read_bytes())  # palette -> RGB(A), 1/2/4-bit -> 8-bit
    if suffix in TIFF_SUFFIXES:
        return _read_tiff(path)
    return _read_pil(path)


def _tiff_series(tif, path: Path):
    """The one image series of a TIFF file; other layouts (stacks, several images) fail."""
    series = tif.series
    if len(series) != 1 or series[0].axes not in TIFF_LAYOUTS:
        found = ", ".join(f"axes {s.axes} of shape {tuple(s.shape)}" for s in series) or "no image"
        raise DataError(f"{path}: holds {found}; i2i reads TIFF files of one 2-D image, grey or with its "
                        "channels (samples) last or first")
    return series[0]


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile
    from tifffile import PHOTOMETRIC, SAMPLEFORMAT

    with tifffile.TiffFile(path) as tif:
        series = _tiff_series(tif, path)
        page = series.keyframe
        if page.photometric not in (PHOTOMETRIC.MINISBLACK, PHOTOMETRIC.MINISWHITE, PHOTOMETRIC.RGB):
            return _read_pil(path)  # palette, CMYK, YCbCr: 8-bit colour models Pillow converts
        bits = page.bitspersample
        if page.sampleformat == SAMPLEFORMAT.UINT and bits not in (1, 8, 16):
            raise DataError(f"{path}: {bits}-bit samples; i2i reads 1-, 8- and 16-bit unsigned TIFFs (values "
                            "are scaled by their depth) and float TIFFs: convert it to 16 bits")
        array = series.asarray()
        if series.axes in ("SYX", "CYX"):
            array = np.moveaxis(array, 0, -1)
        if page.photometric == PHOTOMETRIC.MINISWHITE:  # 0 is white: invert, exactly
            if not (array.dtype == np.bool_ or np.issubdtype(array.dtype, np.unsignedinteger)):
                raise DataError(f"{path}: a 'white is zero' (MINISWHITE) TIFF of {array.dtype} samples; "
                                "i2i inverts those only for unsigned integers")
            array = ~array if array.dtype == np.bool_ else np.iinfo(array.dtype).max - array
        return array


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        frames = getattr(img, "n_frames", 1)
        if frames > 1 and img.format != "MPO":  # MPO: a JPEG whose extra frames are previews
            raise DataError(f"{path}: holds {frames} frames; i2i reads files of one image")
        img.load()  # truncated files fail here, not later
        mode = img.mode
        if mode in ("L", "LA", "RGB", "RGBA", "I", "F") or mode.startswith("I;16"):
            return np.array(img)
        if mode in ("P", "PA"):
            return np.array(img.convert("RGBA" if mode == "PA" or "transparency" in img.info else "RGB"))
        if mode == "1":
            return np.array(img.convert("L"))
        if mode in ("CMYK", "YCbCr"):
            return np.array(img.convert("RGB"))
        raise DataError(f"{path}: pixel mode {mode!r} is not supported; i2i reads grey, grey+alpha, RGB, RGBA, "
                        "palette, CMYK and YCbCr images at 8 bits, and grey at 16 bits")


def channels_last(array: np.ndarray, path: Path) -> np.ndarray:
    """(H, W) or (H, W, C) -> (H, W, C); other shapes fail naming ``path``."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(f"{path}: expected a 2-D image (H, W) or (H, W, C), got an array of shape {array.shape}")
    return array


def exact_values(array: np.ndarray, path: Path) -> np.ndarray:
    """The decoded values in the dtype :func:`read_image` returns for them (uint8, int32 for
    16-bit, float32), unchanged; values float32 cannot hold exactly fail naming ``path``."""
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    dtype = array.dtype
    if dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if dtype in (np.uint8, np.float32):
        return array
    if dtype == np.uint16:
        return array.astype(np.int32)
    if dtype in (np.int8, np.int16, np.float16):
        return array.astype(np.float32)
    if np.issubdtype(dtype, np.integer):
        if array.size and max(-int(array.min()), int(array.max())) > FLOAT32_EXACT_INTEGERS:
            raise DataError(f"{path}: {dtype} values up to {max(-int(array.min()), int(array.max()))}; i2i computes "
                            f"in float32, which holds integers exactly only up to {FLOAT32_EXACT_INTEGERS}: store "
                            "8/16-bit unsigned integers, float32, or smaller values")
        return array.astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        single = array.astype(np.float32)
        if not np.array_equal(single.astype(dtype), array, equal_nan=True):
            raise DataError(f"{path}: {dtype} values that float32 (what i2i computes in) cannot hold exactly; "
                            "store them as float32")
        return single
    raise DataError(f"{path}: unsupported pixel type {dtype}; i2i reads unsigned 8/16-bit integers, "
                    "signed integers and floats")


def write_image(path: str | Path, image: torch.Tensor) -> None:
    """Write a (C, H, W) tensor as :func:`read_image` returns them, at its own depth:
    uint8 -> 8 bits, int32 (values 0..65535) or uint16 -> 16 bits, float -> float32 (TIFF,
    ``.npy``); see :func:`write_array` for what each format takes."""
    path = Path(path)
    if image.dtype in (torch.int32, torch.uint16):
        low, high = (int(v) for v in image.aminmax()) if image.numel() else (0, 0)
        if low < 0 or high > 65535:
            raise DataError(f"{path}: {image.dtype} values {low}..{high}; 16-bit images hold 0..65535")
        image = image.to(torch.int32)
    array = image.detach().cpu().numpy().transpose(1, 2, 0)
    if array.dtype == np.int32:
        array = array.astype(np.uint16)
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    write_array(path, array)


def write_array(path: str | Path, array: np.ndarray, quality: int = LOSSY_QUALITY) -> None:
    """Write an (H, W, C) array by ``path``'s suffix, losslessly except JPEG / WebP:

    - PNG: uint8 or uint16, 1 to 4 channels (grey, grey+alpha, RGB, RGBA), through imagecodecs;
    - TIFF: uint8, uint16 or float32, any number of channels (RGB for 3 and 4, the 2nd / 4th
      an alpha), deflate-compressed with a predictor, through tifffile;
    - JPEG (1 or 3 channels), WebP, BMP: uint8 through Pillow (JPEG, WebP at ``quality``, 95 by default);
    - ``.npy``: as given, ``(H, W)`` for one channel.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    channels = array.shape[2]
    if suffix == ".npy":
        np.save(path, array[:, :, 0] if channels == 1 else array)
        return
    plane = array[:, :, 0] if channels == 1 else array
    if suffix in TIFF_SUFFIXES:
        _check_dtype(path, array, (np.uint8, np.uint16, np.float32), "TIFF")
        _write_tiff(path, np.ascontiguousarray(plane))
        return
    if suffix == ".png":
        _check_dtype(path, array, (np.uint8, np.uint16), "PNG")
        if channels > 4:
            raise DataError(f"{path}: {channels} channels; PNG holds 1 to 4 (write .tif or .npy)")
        import imagecodecs

        path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(plane)))
        return
    _check_dtype(path, array, (np.uint8,), suffix.lstrip(".").upper() or "an image file")
    from PIL import Image

    options = {"quality": quality} if suffix in (".jpg", ".jpeg", ".webp") else {}
    try:
        Image.fromarray(plane).save(path, **options)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: cannot write a {channels}-channel image: {exc}") from None


def _check_dtype(path: Path, array: np.ndarray, accepted: tuple, what: str) -> None:
    if array.dtype not in accepted:
        names = ", ".join(np.dtype(d).name for d in accepted)
        raise DataError(f"{path}: {array.dtype} pixels; {what} files are written from {names} "
                        "(float images: .tif or .npy)")


def _write_tiff(path: Path, array: np.ndarray) -> None:
    import tifffile

    channels = 1 if array.ndim == 2 else array.shape[2]
    options = {"planarconfig": "contig"} if channels > 1 else {}
    if channels in (2, 4):
        options["extrasamples"] = ("unassalpha",)
    tifffile.imwrite(path, array, photometric="rgb" if channels in (3, 4) else "minisblack",
                     compression="zlib", predictor=True, metadata=None, **options)
