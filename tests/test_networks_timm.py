"""``unet_timm``: timm ``features_only`` encoders under an adaptive U-Net decoder, and
encoder weights from a local file. Uses timm's tiny ``test_*`` architectures; no network."""

from __future__ import annotations

import warnings

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models import adapt_input_conv

from i2i.errors import UsageError
from i2i.nn import forward_any_size, load_state_file
from i2i.plugins import load_plugins
from i2i_plugins.generators.timm_unet import decoder_plan
from i2i_plugins.generators.timm_weights import candidate_keys

GENERATORS = load_plugins()["generators"]
BACKBONES = ["test_resnet", "test_efficientnet", "test_convnext"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run fastest on one thread, above all on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build(in_channels: int = 3, out_channels: int = 3, **options):
    return GENERATORS.build("unet_timm", {"decoder_channels": 16, **options},
                            in_channels=in_channels, out_channels=out_channels)


def source_tensor(state: dict[str, torch.Tensor], encoder_key: str) -> torch.Tensor:
    return next(state[k] for k in candidate_keys(encoder_key) if k in state)


def save_timm_weights(backbone: str, path, in_chans: int = 3, extra: dict | None = None) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    state = {k: v.contiguous() for k, v in timm.create_model(backbone, in_chans=in_chans).state_dict().items()}
    state.update(extra or {})
    if str(path).endswith(".safetensors"):
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return state


@pytest.mark.parametrize("backbone", BACKBONES)
def test_decoder_adapts_to_the_backbone(backbone):
    torch.manual_seed(0)
    net = build(1, 2, backbone=backbone)
    info = net.encoder.feature_info
    assert net.size_divisor == max(info.reduction())
    assert [r for r, _ in net.plan][-1] == 1  # back to full resolution, input joined there
    x = torch.randn(1, 1, 72, 104)
    y = forward_any_size(net, x)
    assert y.shape == (1, 2, 72, 104) and y.abs().max() <= 1
    y.mean().backward()
    assert net.encoder.feature_info.channels() and all(
        torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_decoder_plan_fills_missing_resolutions():
    assert decoder_plan([2, 4, 8, 16, 32]) == [(16, 3), (8, 2), (4, 1), (2, 0), (1, -1)]
    assert decoder_plan([4, 8, 16, 32]) == [(16, 2), (8, 1), (4, 0), (2, None), (1, -1)]
    assert decoder_plan([16, 16, 16]) == [(16, 1), (16, 0), (8, None), (4, None), (2, None), (1, -1)]


@pytest.mark.parametrize(("backbone", "suffix"), [("test_resnet", ".safetensors"), ("test_convnext", ".pth"),
                                                   ("test_efficientnet", ".bin")])
def test_weights_from_a_local_file_are_loaded(tmp_path, backbone, suffix):
    path = tmp_path / f"{backbone}{suffix}"
    state = save_timm_weights(backbone, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the classifier head in the file is expected: no warning
        net = build(3, 3, backbone=backbone, weights=str(path))
    encoder = net.encoder.state_dict()
    assert encoder
    for key, value in encoder.items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(value, source_tensor(state, key), rtol=0, atol=0)


def test_one_channel_model_adapts_the_first_conv_like_timm(tmp_path):
    path = tmp_path / "rgb.safetensors"
    state = save_timm_weights("test_resnet", path)
    net = build(1, 1, backbone="test_resnet", weights=str(path))
    first = net.encoder.state_dict()["conv1.0.weight"]
    assert first.shape[1] == 1
    torch.testing.assert_close(first, adapt_input_conv(1, state["conv1.0.weight"]))
    torch.testing.assert_close(first, state["conv1.0.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(net.encoder.state_dict()["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])
    four = build(4, 1, backbone="test_resnet", weights=str(path)).encoder.state_dict()["conv1.0.weight"]
    torch.testing.assert_close(four, adapt_input_conv(4, state["conv1.0.weight"]))


def test_weights_of_another_backbone_are_rejected_listing_the_missing_keys(tmp_path):
    path = tmp_path / "effnet.safetensors"
    save_timm_weights("test_efficientnet", path)
    with pytest.raises(ValueError, match=r"does not fit timm backbone 'test_resnet' .* missing from the file: conv1"):
        build(backbone="test_resnet", weights=str(path))


def test_unknown_tensors_in_the_file_are_reported(tmp_path):
    path = tmp_path / "extra.safetensors"
    save_timm_weights("test_resnet", path, extra={"my_adapter.weight": torch.zeros(2)})
    with pytest.warns(UserWarning, match=r"1 tensors are not part of timm 'test_resnet' and were ignored: my_adapter"):
        build(backbone="test_resnet", weights=str(path))


def test_pickled_code_is_never_loaded(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "code": UsageError("pickled object")}, path)
    with pytest.raises(ValueError, match=r"torch.load\(weights_only=True\)"):
        load_state_file(path)


def test_weights_file_errors_name_the_file_and_what_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build(backbone="test_resnet", weights=str(tmp_path / "missing.safetensors"))
    odd = tmp_path / "weights.npz"
    odd.write_bytes(b"")
    with pytest.raises(ValueError, match=r"suffix '.npz'; accepted: .safetensors, .pth, .pt, .bin"):
        load_state_file(odd)


def test_wrapped_checkpoints_are_unwrapped(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "state_dict": {"module.a": torch.ones(2)}}, path)
    assert list(load_state_file(path)) == ["a"]


def test_unknown_backbone_suggests_close_names():
    with pytest.raises(ValueError, match=r"unknown timm backbone 'test_resnt' \(did you mean 'test_resnet'"):
        build(backbone="test_resnt")


def test_builds_on_the_meta_device_with_weights(tmp_path):
    path = tmp_path / "w.safetensors"
    save_timm_weights("test_resnet", path)
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("error")
        net = build(1, 3, backbone="test_resnet", weights=str(path))
    assert net.size_divisor == 32 and next(net.parameters()).device.type == "meta"
