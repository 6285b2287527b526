"""HU windows and normalisation."""

from __future__ import annotations

import pytest
import torch

from i2i.medical.hu import WINDOWS, Window, apply_window, get_window, hu_to_network, network_to_hu, window_to_unit


def test_named_windows():
    expected = {"abdomen": (50, 400), "lung": (-600, 1500), "brain": (40, 80), "bone": (500, 2000),
                "soft_tissue": (40, 400),
                "mediastinum": (50, 350), "liver": (60, 160)}
    for name, (center, width) in expected.items():
        assert (WINDOWS[name].center, WINDOWS[name].width) == (center, width)
    assert get_window("Lung") is WINDOWS["lung"]
    assert get_window((10, 20)) == Window(10, 20)
    assert Window.from_range(-1000, 1000) == Window(0, 2000)
    assert (WINDOWS["abdomen"].lo, WINDOWS["abdomen"].hi) == (-150, 250)
    with pytest.raises(ValueError, match="unknown HU window 'lungs'.*did you mean 'lung'"):
        get_window("lungs")
    with pytest.raises(ValueError, match="width must be > 0"):
        Window(0, 0)


def test_window_to_unit():
    hu = torch.tensor([-1000.0, -150.0, 50.0, 250.0, 3000.0])
    assert window_to_unit(hu, 50, 400).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert torch.equal(apply_window(hu, "abdomen"), window_to_unit(hu, 50, 400))


def test_network_range_round_trip():
    hu = torch.linspace(-1024, 3071, 1001)
    x = hu_to_network(hu, -1024, 3071)
    assert x.min() == -1 and x.max() == 1
    torch.testing.assert_close(network_to_hu(x, -1024, 3071), hu, atol=1e-3, rtol=0)
    clipped = hu_to_network(torch.tensor([-2000.0, 5000.0]), -1000, 1000)
    assert clipped.tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="hi > lo"):
        hu_to_network(hu, 5, 5)
