"""Tissues of the phantoms measured on rendered slices (the label maps say which tissue
covers each pixel completely): HU ranges, skull, grey/white contrast, CSF, air cells,
anatomy by slice level."""

from __future__ import annotations

import numpy as np
import pytest

from i2i.medical.phantom import REGIONS, phantom_scene, render
from i2i.medical.phantom_tissues import GREY_WHITE_MARGIN, LABELS, TISSUES

SIZE = 256


@pytest.fixture(scope="module")
def heads():
    """24 head phantoms: (scene, HU, labels) at 256 px (0.98 mm pixels)."""
    return [(scene, *render(scene, SIZE, labels=True)) for scene in (phantom_scene(5, i, ["head"]) for i in range(24))]


def pixels(hu, labels, tissue):
    return hu[labels == LABELS[tissue]]


def test_every_pure_pixel_lies_in_its_tissues_range_plus_the_texture():
    for region in REGIONS:
        for i in range(6):
            scene = phantom_scene(1, i, [region])
            hu, labels = render(scene, 128, labels=True)
            texture = float(np.abs(scene.waves[:, 3]).sum()) + 1e-3
            for tissue, (lo, hi) in TISSUES.items():
                values = pixels(hu, labels, tissue)
                if values.size:
                    assert lo - texture <= values.min() and values.max() <= hi + texture, (region, i, tissue)


def test_the_skull_is_cortical_bone_above_1000_hu_around_less_dense_diploe(heads):
    for scene, hu, labels in heads:
        cortical, diploe = pixels(hu, labels, "cortical_bone"), pixels(hu, labels, "diploe")
        assert cortical.size > 50 and cortical.min() > 1000, scene.level
        if diploe.size:
            assert diploe.max() < 1000 and np.median(cortical) - np.median(diploe) > 340
    assert sum(pixels(hu, labels, "diploe").size > 20 for _, hu, labels in heads) >= 20


def test_grey_matter_is_brighter_than_white_matter_by_the_intended_margin(heads):
    lo, hi = GREY_WHITE_MARGIN
    for scene, hu, labels in heads:
        grey, white = pixels(hu, labels, "grey_matter"), pixels(hu, labels, "white_matter")
        if -10 < scene.level < 85:  # brain enough for both
            assert grey.size > 100 and white.size > 100, scene.level
            assert lo - 1 <= np.median(grey) - np.median(white) <= hi + 1, scene.level


def test_csf_is_near_water_and_the_ventricles_lie_in_the_middle(heads):
    for scene, hu, labels in heads:
        csf = pixels(hu, labels, "csf")
        assert csf.size and 0 - 3 <= csf.min() and csf.max() <= 15 + 3
        if 45 <= scene.level <= 62:  # lateral ventricles within 35 mm of the centre
            r = (np.arange(SIZE) - SIZE / 2 + 0.5) * scene.fov / SIZE
            near = r[:, None] ** 2 + r[None, :] ** 2 < 35 ** 2
            assert (labels[near] == LABELS["csf"]).sum() > 30, scene.level


def test_air_cells_and_sinuses_are_air_inside_the_head_at_the_skull_base():
    scenes = [scene for scene in (phantom_scene(6, i, ["head"]) for i in range(40)) if scene.level < 5][:6]
    assert len(scenes) == 6
    for scene in scenes:
        hu, labels = render(scene, SIZE, labels=True)
        air = pixels(hu, labels, "air")
        assert air.size > 10 and air.max() < -990, scene.level  # sinus, ethmoid or mastoid air
        walls = pixels(hu, labels, "thin_bone")
        assert walls.size and walls.min() > 400


def test_slices_vary_with_level_from_the_skull_base_to_the_vertex(heads):
    present = {scene.level: {t for t in TISSUES if (labels == LABELS[t]).any()} for scene, _, labels in heads}
    high = [t for level, t in present.items() if level > 45]
    low = [t for level, t in present.items() if level < 10]
    assert high and low
    assert all(not t & {"air", "vitreous", "petrous_bone", "lens"} for t in high)  # no face or skull base up there
    assert any("vitreous" in t for t in low) and any("petrous_bone" in t for t in low)
    widths = {scene.level: (labels > 0).any(0).sum() for scene, _, labels in heads}
    top, middle = max(widths), min(widths, key=lambda level: abs(level - 35))
    assert widths[top] < 0.9 * widths[middle]  # the head narrows towards the vertex


def test_trunk_regions_hold_their_organs():
    for region, organs in (("thorax", {"lung", "heart", "rib"}), ("abdomen", {"liver"}),
                           ("pelvis", {"bladder", "pelvic_bone"})):
        for i in range(5):
            _, labels = render(phantom_scene(2, i, [region]), 96, labels=True)
            found = {t for t in TISSUES if (labels == LABELS[t]).any()}
            assert organs <= found and {"vertebra_shell", "contrast_vessel", "soft_tissue"} <= found, (region, i)
