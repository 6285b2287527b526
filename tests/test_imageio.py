"""Image files in and out at full depth: bit-exact round trips for every (format, depth,
channels) i2i writes, agreement with independent decoders on real files, header-only
sizes, and clear errors for what cannot be held without losing bits."""

from __future__ import annotations

import imagecodecs
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from i2i.data.imageio import DataError, image_size, read_image, write_array, write_image
from tests.conftest import data_path

RNG = np.random.default_rng(11)
TOPS = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}

#: (suffix, numpy dtype, channel counts) that round-trip bit for bit.
LOSSLESS = [(".png", np.uint8, (1, 2, 3, 4)), (".png", np.uint16, (1, 2, 3, 4)),
            (".tif", np.uint8, (1, 2, 3, 4, 5)), (".tiff", np.uint16, (1, 2, 3, 4, 5)),
            (".tif", np.float32, (1, 2, 3, 4, 5)), (".bmp", np.uint8, (1, 3)),
            (".npy", np.uint8, (1, 3, 7)), (".npy", np.uint16, (1, 2)), (".npy", np.float32, (1, 2, 3, 5))]
CASES = [(s, d, c) for s, d, cs in LOSSLESS for c in cs]


def random_array(dtype, channels: int, h: int = 13, w: int = 9) -> np.ndarray:
    """(H, W, C) values over the full range of ``dtype`` (floats: also outside [0, 1])."""
    if dtype == np.float32:
        return (RNG.normal(size=(h, w, channels)) * 3).astype(np.float32)
    array = RNG.integers(0, TOPS[dtype] + 1, (h, w, channels)).astype(dtype)
    array[0, 0], array[0, 1] = 0, TOPS[dtype]
    return array


def as_read(array: np.ndarray) -> np.ndarray:
    """The (H, W, C) values read_image returns for ``array``: uint16 as int32."""
    return array.astype(np.int32) if array.dtype == np.uint16 else array


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


# -- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix, dtype, channels", CASES, ids=[f"{s}-{d.__name__}-{c}" for s, d, c in CASES])
def test_round_trip_bit_for_bit(tmp_path, suffix, dtype, channels):
    array = random_array(dtype, channels)
    path = tmp_path / f"x{suffix}"
    write_array(path, array)
    image = read_image(path)
    assert image.shape == (channels, 13, 9) and image_size(path) == (13, 9)
    assert image.dtype == {np.uint8: torch.uint8, np.uint16: torch.int32, np.float32: torch.float32}[dtype]
    assert np.array_equal(hwc(image), as_read(array))
    write_image(tmp_path / f"again{suffix}", image)  # and the tensor as read goes back unchanged
    assert torch.equal(read_image(tmp_path / f"again{suffix}"), image)


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_float_tiff_any_channels_keeps_every_float(tmp_path, channels):
    array = random_array(np.float32, channels)
    array[1, 1, 0], array[1, 2, 0], array[1, 3, 0] = np.inf, -0.0, np.float32(1e-42)  # inf, signed zero, subnormal
    write_array(tmp_path / "f.tif", array)
    back = hwc(read_image(tmp_path / "f.tif"))
    assert back.dtype == np.float32 and back.tobytes() == array.tobytes()
    assert np.array_equal(tifffile.imread(tmp_path / "f.tif").reshape(array.shape), array)  # another reader agrees


# -- the bugs: 16-bit colour truncated, float colour unreadable, 16-bit colour unwritable ---------------

def test_16_bit_rgb_png_is_read_at_16_bits(tmp_path):
    array = random_array(np.uint16, 3)
    (tmp_path / "rgb16.png").write_bytes(imagecodecs.png_encode(array))  # written by libpng, not by i2i
    assert Image.open(tmp_path / "rgb16.png").mode == "RGB"  # what Pillow makes of it: 8 bits
    image = read_image(tmp_path / "rgb16.png")
    assert image.dtype == torch.int32 and np.array_equal(hwc(image), array)


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_16_bit_rgb_tiff_is_read_at_16_bits(tmp_path, planar):
    array = random_array(np.uint16, 3)
    data = array if planar == "contig" else np.ascontiguousarray(array.transpose(2, 0, 1))
    tifffile.imwrite(tmp_path / "rgb16.tif", data, photometric="rgb", planarconfig=planar)
    image = read_image(tmp_path / "rgb16.tif")
    assert image.dtype == torch.int32 and np.array_equal(hwc(image), array)
    assert image_size(tmp_path / "rgb16.tif") == (13, 9)


def test_float_rgb_tiff_is_readable(tmp_path):
    array = random_array(np.float32, 3)
    tifffile.imwrite(tmp_path / "f.tif", array, photometric="rgb")
    assert torch.equal(read_image(tmp_path / "f.tif"), torch.from_numpy(array).permute(2, 0, 1))
    assert image_size(tmp_path / "f.tif") == (13, 9)


def test_write_image_writes_16_bit_colour(tmp_path):
    image = torch.from_numpy(random_array(np.uint16, 3).astype(np.int32)).permute(2, 0, 1)
    for name in ("a.png", "a.tif"):
        write_image(tmp_path / name, image)
        assert torch.equal(read_image(tmp_path / name), image)
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "a.png").read_bytes()), hwc(image))
    assert np.array_equal(tifffile.imread(tmp_path / "a.tif"), hwc(image))


def test_int32_npy_is_values_not_16_bit_and_byte_order_is_kept(tmp_path):
    np.save(tmp_path / "i.npy", np.array([[-5, 70000]], dtype=np.int32))
    image = read_image(tmp_path / "i.npy")  # int32 means "16-bit values" only for 16-bit files
    assert image.dtype == torch.float32 and image.flatten().tolist() == [-5.0, 70000.0]
    np.save(tmp_path / "be.npy", np.array([[1, 65535]], dtype=">u2"))
    image = read_image(tmp_path / "be.npy")
    assert image.dtype == torch.int32 and image.flatten().tolist() == [1, 65535]


# -- other layouts and colour models ---------------------------------------------------------------

def test_channels_first_tiff_and_white_is_zero_tiff(tmp_path):
    array = random_array(np.uint8, 3)
    tifffile.imwrite(tmp_path / "ij.tif", np.ascontiguousarray(array.transpose(2, 0, 1)), imagej=True,
                     metadata={"axes": "CYX"})
    assert np.array_equal(hwc(read_image(tmp_path / "ij.tif")), array)
    grey = random_array(np.uint8, 1)[:, :, 0]
    tifffile.imwrite(tmp_path / "mw.tif", grey, photometric="miniswhite")
    assert np.array_equal(read_image(tmp_path / "mw.tif")[0].numpy(), np.array(Image.open(tmp_path / "mw.tif")))
    assert np.array_equal(read_image(tmp_path / "mw.tif")[0].numpy(), 255 - grey)


def test_palette_and_one_bit_files_expand_exactly(tmp_path):
    index = RNG.integers(0, 4, (13, 9)).astype(np.uint8)
    palette = [10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]
    for suffix in (".png", ".tif", ".bmp"):
        img = Image.fromarray(index, "P")
        img.putpalette(palette)
        img.save(tmp_path / f"p{suffix}")
        expected = np.array(palette, np.uint8).reshape(-1, 3)[index]
        assert np.array_equal(hwc(read_image(tmp_path / f"p{suffix}")), expected), suffix
    Image.fromarray(index.astype(bool)).save(tmp_path / "bits.png")
    assert np.array_equal(read_image(tmp_path / "bits.png")[0].numpy(), (index > 0) * 255)


def test_image_size_reads_headers_only(tmp_path):
    """Sizes come from the header: a file whose pixel data is cut off still has one
    (and fails only when decoded)."""
    array = random_array(np.uint16, 3, h=40, w=30)
    write_array(tmp_path / "a.png", array)
    tifffile.imwrite(tmp_path / "a.tif", array, photometric="rgb", metadata=None)  # directory before pixels
    Image.fromarray(random_array(np.uint8, 3, h=40, w=30)).save(tmp_path / "a.jpg")
    np.save(tmp_path / "a.npy", array)
    for name in ("a.png", "a.tif", "a.jpg", "a.npy"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[:len(data) // 2])
        assert image_size(tmp_path / name) == image_size(tmp_path / f"cut_{name}") == (40, 30), name
        with pytest.raises(DataError, match=f"cut_{name}"):
            read_image(tmp_path / f"cut_{name}")


# -- what cannot be held fails, naming the file ------------------------------------------------------

def test_files_that_would_lose_bits_fail_naming_the_file(tmp_path):
    tifffile.imwrite(tmp_path / "b12.tif", RNG.integers(0, 4096, (5, 6)).astype(np.uint16), bitspersample=12)
    with pytest.raises(DataError, match=r"b12\.tif: 12-bit samples.*16 bits"):
        read_image(tmp_path / "b12.tif")
    tifffile.imwrite(tmp_path / "stack.tif", RNG.integers(0, 255, (3, 5, 6)).astype(np.uint8), photometric="minisblack",
                     metadata={"axes": "ZYX"})
    for reader in (read_image, image_size):
        with pytest.raises(DataError, match=r"stack\.tif: holds axes \w+ of shape \(3, 5, 6\).*one 2-D image"):
            reader(tmp_path / "stack.tif")
    np.save(tmp_path / "d.npy", np.array([[0.1, 0.5]]))  # float64 0.1 is not a float32
    with pytest.raises(DataError, match=r"d\.npy: float64 values.*float32"):
        read_image(tmp_path / "d.npy")
    np.save(tmp_path / "ok.npy", np.array([[0.5, -2.0]]))
    assert read_image(tmp_path / "ok.npy").dtype == torch.float32
    np.save(tmp_path / "big.npy", np.array([[2 ** 24 + 1]], dtype=np.int64))
    with pytest.raises(DataError, match=r"big\.npy: int64 values up to 16777217"):
        read_image(tmp_path / "big.npy")
    frames = [Image.fromarray(random_array(np.uint8, 3)) for _ in range(2)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    with pytest.raises(DataError, match=r"anim\.webp: holds 2 frames"):
        read_image(tmp_path / "anim.webp")


def test_writes_that_a_format_cannot_hold_fail_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=r"f\.png: float32 pixels; PNG .*uint8, uint16.*\.tif or \.npy"):
        write_array(tmp_path / "f.png", random_array(np.float32, 3))
    with pytest.raises(DataError, match=r"five\.png: 5 channels; PNG holds 1 to 4"):
        write_array(tmp_path / "five.png", random_array(np.uint8, 5))
    with pytest.raises(DataError, match=r"deep\.jpg: uint16 pixels; JPG"):
        write_array(tmp_path / "deep.jpg", random_array(np.uint16, 3))
    with pytest.raises(DataError, match=r"over\.png: torch.int32 values 0\.\.70000"):
        write_image(tmp_path / "over.png", torch.tensor([[[0, 70000]]], dtype=torch.int32))
    assert not list(tmp_path.iterdir())


# -- real files: the reader agrees with another decoder ------------------------------------------------

def test_real_jpegs_and_pngs_agree_with_independent_decoders(tmp_path):
    jpegs = sorted(data_path("facades", "train").glob("*.jpg"))[:8]
    pngs = sorted(data_path("mr_ct_brain").glob("Patient_0[12]/*/*.png"))[::20][:8]
    assert jpegs and pngs
    for path in jpegs:  # i2i decodes JPEG with Pillow; libjpeg-turbo through imagecodecs agrees
        image = read_image(path)
        assert image.dtype == torch.uint8 and image.shape == (3, 256, 512)
        assert np.array_equal(hwc(image), imagecodecs.jpeg8_decode(path.read_bytes()))
    for path in pngs:  # i2i decodes PNG with imagecodecs; Pillow agrees
        image = read_image(path)
        assert image.dtype == torch.uint8 and image.shape == (1, 512, 512) and image_size(path) == (512, 512)
        assert np.array_equal(image[0].numpy(), np.array(Image.open(path)))
        for suffix in (".png", ".tif"):  # and what i2i writes, Pillow reads back the same
            write_image(tmp_path / f"copy{suffix}", image)
            assert np.array_equal(np.array(Image.open(tmp_path / f"copy{suffix}")), image[0].numpy())
