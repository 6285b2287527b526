"""Parallel-beam Radon transform and FBP against scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from i2i.medical import projector, projector_memory
from i2i.medical.angles import equal_angles, per_sample_angles
from i2i.medical.projector import (
    FILTERS,
    backproject,
    circle_mask,
    fbp,
    fourier_filter,
    radon,
)
from i2i.medical.sampling import full_view_count

skt = pytest.importorskip("skimage.transform")
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def shepp256() -> np.ndarray:
    """skimage's Shepp-Logan phantom (400x400, values 0..1) rescaled to 256x256 with anti-aliasing."""
    return skt.rescale(skdata.shepp_logan_phantom(), 256 / 400, anti_aliasing=True)


def as_batch(image: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).to(dtype)[None, None]


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


@pytest.mark.parametrize("method, tolerance", [("rotate", 1e-5), ("joseph", 0.01)])
def test_radon_matches_skimage(shepp256, method, tolerance):
    theta = np.linspace(0, 180, 180, endpoint=False)
    reference = skt.radon(shepp256, theta)  # (detector, view)
    ours = radon(as_batch(shepp256), 180, method=method)
    assert ours.shape == (1, 1, 180, 256)
    assert relative_error(ours[0, 0].T.numpy(), reference) < tolerance


def test_radon_conventions_single_pixel():
    """Angle direction and centre: t = (col - c) cos - (row - c) sin, like skimage: a point
    8 pixels right of and 8 below the centre projects to bin c + 8 at 0 degrees, c - 8 at 90."""
    image = np.zeros((33, 33))
    image[24, 24] = 1.0  # c = 16
    theta = np.array([0.0, 90.0, 45.0])
    reference = skt.radon(image, theta)
    for method in ("rotate", "joseph"):
        ours = radon(as_batch(image, torch.float64), torch.tensor(theta), method=method)[0, 0]
        for v in range(3):
            assert int(ours[v].argmax()) == int(np.argmax(reference[:, v]))
    assert int(np.argmax(reference[:, 0])) == 16 + 8 and int(np.argmax(reference[:, 1])) == 16 - 8


@pytest.mark.parametrize("filter_name", [*FILTERS, None])
def test_fbp_matches_iradon_on_the_same_sinogram(filter_name):
    image = skt.rescale(skdata.shepp_logan_phantom(), 64 / 400, anti_aliasing=True)
    theta = np.linspace(0, 180, 45, endpoint=False)
    sinogram = skt.radon(image, theta)
    reference = skt.iradon(sinogram, theta, filter_name=filter_name)
    ours = fbp(as_batch(sinogram.T, torch.float64), torch.from_numpy(theta), filter_name=filter_name)
    np.testing.assert_allclose(ours[0, 0].numpy(), reference, atol=1e-9 * max(1.0, np.abs(reference).max()))


def test_fourier_filter_matches_skimage():
    from skimage.transform.radon_transform import _get_fourier_filter

    for name in FILTERS:
        np.testing.assert_allclose(fourier_filter(128, name).numpy(), _get_fourier_filter(128, name)[:, 0],
                                   atol=1e-12)
    assert torch.equal(fourier_filter(64, "ram-lak"), fourier_filter(64, "ramp"))
    with pytest.raises(ValueError, match="unknown FBP filter 'gauss'.*hann"):
        fourier_filter(64, "gauss")


def test_full_view_fbp_reconstructs_shepp_logan_above_30_db(shepp256):
    """PSNR with data range 1 (the phantom's max - min), MSE over the pixels inside the
    reconstruction circle, 360 views over [0, 180)."""
    image = as_batch(shepp256)
    recon = fbp(radon(image, 360))
    inside = circle_mask(256)
    mse = ((recon - image)[0, 0][inside] ** 2).mean()
    psnr = 10 * math.log10(1.0 / float(mse))
    assert psnr > 30.0, psnr


def test_per_sample_views_equal_separate_calls():
    image = torch.rand(3, 1, 32, 32) * circle_mask(32)
    angles, mask = per_sample_angles([7, 12, 9])
    assert angles.shape == (3, 12) and mask.sum(1).tolist() == [7, 12, 9]
    sinogram = radon(image, angles, mask=mask)
    recon = fbp(sinogram, angles, mask=mask)
    for i, views in enumerate([7, 12, 9]):
        alone = radon(image[i:i + 1], views)
        torch.testing.assert_close(sinogram[i, 0, :views], alone[0, 0])
        assert sinogram[i, 0, views:].abs().max() == 0 if views < 12 else True
        torch.testing.assert_close(recon[i], fbp(alone)[0], atol=1e-5, rtol=1e-4)


def test_chunking_does_not_change_results(monkeypatch):
    image = torch.rand(2, 1, 24, 24, dtype=torch.float64)
    whole_sino, whole = radon(image, 30), fbp(radon(image, 30))
    torch.testing.assert_close(radon(image, 30, chunk_size=7), whole_sino)
    torch.testing.assert_close(fbp(whole_sino, chunk_size=4), whole)
    calls = []
    original = projector.F.grid_sample

    def spy(source, grid, **kw):
        calls.append(grid.numel() // 2)
        return original(source, grid, **kw)

    monkeypatch.setattr(projector.F, "grid_sample", spy)
    monkeypatch.setattr(projector_memory, "CHUNK_ELEMENTS", 24 * 24 * 2 * 5)
    torch.testing.assert_close(radon(image, 30), whole_sino)
    assert len(calls) == 6 and max(calls) <= 5 * 24 * 24


def test_default_chunks_bound_memory_for_512_at_720_views():
    """A 512x512 slice at 720 views is processed 16 views at a time (4M samples per chunk),
    never 720 * 512 * 512."""
    n, size = 1, 512
    chunk = max(1, projector_memory.chunk_elements(torch.device("cpu")) // (n * size * size))
    assert chunk * size * size <= 2**22 < 720 * size * size


def test_on_a_gpu_chunks_and_kept_grids_follow_its_free_memory(monkeypatch):
    """On a GPU a chunk may hold a share of the free memory (read once per device), between the
    CPU budget and a cap, and full-view grids of a 512-pixel slice are kept: a low-dose slice
    at full sampling is a few launches, not thousands. The memory query is faked (no GPU here)."""
    queries = []

    def mem_get_info(index):
        queries.append(index)
        return (80 * 2**30 if index == 0 else 2**30), 96 * 2**30

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    projector_memory._free_bytes.cache_clear()
    try:
        big, small = torch.device("cuda", 0), torch.device("cuda", 1)
        assert projector_memory.chunk_elements(big) == projector_memory.GPU_MAX_CHUNK_ELEMENTS
        assert projector_memory.chunk_elements(small) == 2**30 // 8 // 12 > projector_memory.CHUNK_ELEMENTS
        assert projector_memory.grid_cache_bytes(big) == 10 * 2**30
        assert projector_memory.grid_cache_bytes(small) == projector_memory.GRID_CACHE_BYTES  # never below the CPU's
        projector_memory.chunk_elements(big)
        assert queries == [0, 1]  # once per device
        views = full_view_count(512)
        assert views * 512 * 512 <= projector_memory.chunk_elements(big)  # all 806 views in one chunk
        assert views * 512 * 512 * 2 * 4 <= projector_memory.grid_cache_bytes(big)  # and their grids kept
    finally:
        projector_memory._free_bytes.cache_clear()


def test_gradients_flow_and_device_dtype_kept():
    image = torch.rand(2, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    out = fbp(radon(image, 12))
    assert out.dtype == torch.float64 and out.device == image.device
    out.square().sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()


def test_backproject_is_unfiltered_fbp():
    sinogram = torch.rand(1, 1, 10, 20, dtype=torch.float64)
    torch.testing.assert_close(backproject(sinogram), fbp(sinogram, filter_name=None))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"square images \(N, 1, S, S\)"):
        radon(torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match="angles must be"):
        radon(torch.zeros(2, 1, 8, 8), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="4 views .* 5 angles"):
        fbp(torch.zeros(1, 1, 4, 8), torch.zeros(5))
    with pytest.raises(ValueError, match="unknown projection method"):
        radon(torch.zeros(1, 1, 8, 8), method="siddon")
    assert equal_angles(4).tolist() == [0.0, 45.0, 90.0, 135.0]


def test_the_fbp_filter_is_copied_to_a_device_once(monkeypatch):
    """Before: the filter and the angles were made on the CPU and copied at every FBP (pageable
    copies per call on a GPU)."""
    from tests.host_reads import copies_to_other_devices

    copies = copies_to_other_devices(monkeypatch)
    sinogram = torch.empty(1, 1, 6, 24, device="meta")
    for _ in range(3):
        fbp(sinogram, 6)
    assert sorted(copies) == [(6,), (65,)]  # the angles and the filter's response, once each
