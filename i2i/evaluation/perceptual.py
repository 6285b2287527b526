"""FID, KID and LPIPS from weights files the user supplies (nothing is ever downloaded).

- FID and KID use torchmetrics with torchvision's Inception-v3 as the feature extractor
  (2048-d pool features, images resized to 299 x 299, ImageNet normalisation). The weights
  file is torchvision's ``inception_v3_google-*.pth`` (or the same state dict as
  ``.safetensors``). Values are comparable between i2i evaluations, not with papers that
  use the TF-Inception port of ``pytorch-fid``/``torch-fidelity``.
- LPIPS uses torchmetrics' LPIPS linear layers (shipped inside torchmetrics) on a torchvision
  backbone whose weights file the user gives: ``alexnet-*.pth`` (``--lpips-net alex``),
  ``vgg16-*.pth`` (``vgg``) or ``squeezenet1_1-*.pth`` (``squeeze``); only its ``features.*``
  tensors are used.

Both need the ``metrics`` extra (``pip install 'i2i-toolkit[metrics]'``: torchmetrics).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}


def _torchmetrics(what: str):
    try:
        import torchmetrics
    except ImportError:
        raise UsageError(f"{what} needs torchmetrics: pip install 'i2i-toolkit[metrics]' (or pip install torchmetrics)") from None
    return torchmetrics


def read_state_dict(path: str | Path, option: str) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a PyTorch file (loaded with ``weights_only=True``:
    never unpickling code). A missing file fails naming the option and where to get it."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{option}: {path}: no such file; i2i never downloads weights, give a local file "
                         "(see `i2i eval --help` for which)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"{option}: {path}: cannot read weights: {type(exc).__name__}: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(f"{option}: {path}: expected a state dict of tensors")
    return state


def three_channels(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images with 1 or 3 channels -> 3 channels (grey repeated)."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


class InceptionFeatures(nn.Module):
    """torchvision Inception-v3 pool features (N, 2048) of [0, 1] images (any size, 1 or 3
    channels; uint8 is divided by 255)."""

    num_features = 2048

    def __init__(self, weights: str | Path, option: str = "--inception"):
        super().__init__()
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
        state = read_state_dict(weights, option)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UsageError(f"{option}: {weights}: not torchvision Inception-v3 weights "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        net.fc = nn.Identity()
        net.AuxLogits = None
        net.aux_logits = False
        self.net = net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)  # always the eval network

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        x = F.interpolate(three_channels(x), size=(299, 299), mode="bilinear", align_corners=False)
        return self.net((x - self.mean) / self.std)


class _Given(nn.Module):
    """Features computed already: torchmetrics' FID/KID take them as their "images"."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class DistributionMetrics:
    """FID and KID of sets of images (``names``, e.g. the model's outputs and the inputs)
    against the targets. Features are extracted once per image batch and kept (2048
    floats per image)."""

    def __init__(self, features: nn.Module, names: list[str], device: torch.device):
        _torchmetrics("FID/KID")
        self.features = features.to(device)
        self.device = device
        self.real: list[torch.Tensor] = []
        self.fake: dict[str, list[torch.Tensor]] = {name: [] for name in names}

    def update(self, targets: torch.Tensor, outputs: dict[str, torch.Tensor]) -> None:
        """``targets`` and each ``outputs[name]``: [0, 1] display images (N, 1|3, H, W)."""
        self.real.append(self.features(targets.to(self.device)).double().cpu())
        for name, images in outputs.items():
            self.fake[name].append(self.features(images.to(self.device)).double().cpu())

    def compute(self) -> dict[str, dict[str, float | None]]:
        """``{name: {"fid", "kid_mean", "kid_std"}}``; None with fewer than 2 images. KID uses
        100 subsets of min(50, N) images."""
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        out: dict[str, dict[str, float | None]] = {}
        real = torch.cat(self.real) if self.real else torch.zeros(0, 1, dtype=torch.float64)
        for name, parts in self.fake.items():
            fake = torch.cat(parts) if parts else torch.zeros(0, 1, dtype=torch.float64)
            result: dict[str, float | None] = {"fid": None, "kid_mean": None, "kid_std": None}
            n = min(len(real), len(fake))
            if n >= 2:
                given = _Given(real.shape[1])
                fid = FrechetInceptionDistance(feature=given)
                fid.update(real, real=True)
                fid.update(fake, real=False)
                result["fid"] = float(fid.compute())
                with torch.random.fork_rng():  # KID draws its subsets from the global generator
                    torch.manual_seed(0)
                    kid = KernelInceptionDistance(feature=given, subset_size=min(50, n))
                    kid.update(real, real=True)
                    kid.update(fake, real=False)
                    mean, std = kid.compute()
                result["kid_mean"], result["kid_std"] = float(mean), float(std)
            out[name] = result
        return out


class LPIPS(nn.Module):
    """LPIPS distance per image of [0, 1] images (1 or 3 channels), from a local backbone
    weights file and torchmetrics' packaged linear layers."""

    def __init__(self, weights: str | Path, net: str = "alex", option: str = "--lpips"):
        super().__init__()
        _torchmetrics("LPIPS")
        if net not in LPIPS_BACKBONES:
            raise UsageError(f"--lpips-net: {net!r} is not one of {', '.join(LPIPS_BACKBONES)}")
        import torchvision
        from torchmetrics.functional.image.lpips import _LPIPS

        backbone = getattr(torchvision.models, LPIPS_BACKBONES[net])(weights=None)
        state = read_state_dict(weights, option)
        features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = backbone.features.load_state_dict(features, strict=False)
        if missing or unexpected or not features:
            raise UsageError(f"{option}: {weights}: not torchvision {LPIPS_BACKBONES[net]} weights "
                             f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
        self.lpips = _LPIPS(pretrained=True, net=net, pnet_rand=True)  # linear layers from torchmetrics' package
        for slice_ in (m for name, m in self.lpips.net.named_children() if name.startswith("slice")):
            for index, layer in slice_.named_children():
                layer.load_state_dict(backbone.features[int(index)].state_dict())
        self.lpips.eval()

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = three_channels(a.float()) * 2 - 1, three_channels(b.float()) * 2 - 1
        return self.lpips(a, b, normalize=False).reshape(-1)
