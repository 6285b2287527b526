"""The core recipe sections: every key, its type, default and meaning.

These dataclasses are the single source of truth for the core keys; component sections
(``task``, ``source``, ``generator``, ``discriminator``, ``schedule``, ``optim`` and
``losses.*``) hold a ``name`` and the options of that component's factory, checked against
its signature instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal


def key(default: Any, doc: str, *, ge: float | None = None, gt: float | None = None, le: float | None = None) -> Any:
    """A recipe key: its default, its documentation and numeric bounds."""
    return field(default=default, metadata={"doc": doc, "ge": ge, "gt": gt, "le": le})


@dataclass(frozen=True)
class RunSection:
    """``[run]``: where and how the run happens."""

    seed: int = key(0, "seed for every random number generator (data order, augmentation, init, dropout)",
                    ge=0, le=2**32 - 1)
    out: str = key("runs/{recipe}", "run directory; {recipe} is the recipe file's stem. An existing run is "
                   "never overwritten: the default gets a -2, -3... suffix, an explicit one is refused")
    device: Literal["auto", "cpu", "cuda"] = key("auto", "training device; auto picks cuda when available")
    deterministic: bool = key(False, "deterministic algorithms (torch.use_deterministic_algorithms, cuDNN "
                              "deterministic, no cuDNN autotuning, CUBLAS_WORKSPACE_CONFIG) so a CUDA resume is "
                              "bit-exact where PyTorch allows; the operations that prevent it are named at the end "
                              "of training. Slower on GPUs; CPU runs resume bit-exactly either way")


@dataclass(frozen=True)
class TrainSection:
    """``[train]``: how long and how the training loop runs."""

    mode: Literal["gan", "supervised"] = key(
        "gan", "gan: a conditional GAN (the generator's losses plus an adversarial one against a discriminator); "
        "supervised: the generator's reconstruction losses alone, with no discriminator built or stepped "
        "(FBPConvNet, RED-CNN): [discriminator] and adversarial and feature-matching losses are left out")
    steps: int | None = key(None, "optimisation steps; overrides train.epochs", ge=1)
    epochs: int | None = key(None, "passes over the training split (when train.steps is not set)", ge=1)
    batch_size: int = key(1, "images per step", ge=1)
    log_every: int = key(10, "steps between metrics.jsonl lines", ge=1)
    sample_every: int = key(500, "steps between sample grids in samples/", ge=1)
    checkpoint_every: int = key(1000, "steps between checkpoints (one is always written at the end)", ge=1)
    keep_checkpoints: int = key(3, "most recent checkpoints kept (the best one is kept as well)", ge=1)
    num_threads: int | None = key(None, "CPU threads for torch (default: torch's choice)", ge=1)
    val_every: int | None = key(None, "steps between validation passes (default: at each checkpoint when "
                                "there is a validation split)", ge=1)
    val_images: int | None = key(None, "validation images per pass (default: the whole split)", ge=1)
    best_metric: str | None = key(None, "validation metric that picks the kept 'best' checkpoint, e.g. "
                                  "\"val_psnr\" (higher is better for psnr/ssim, lower for the others)")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = key(
        "auto", "autocast precision; auto: bf16 on GPUs that compute it natively, fp32 on CPU; bf16 on a CPU "
        "without native bf16 (AMX-BF16, AVX512-BF16, Arm BF16) trains in fp32, with a warning; fp16 adds a grad scaler")
    channels_last: Literal["auto", "on", "off"] = key(
        "auto", "channels-last memory format; auto: on for CUDA unless a network has instance norm (PyTorch's "
        "instance norm returns NCHW, so the layout would be converted at every norm layer), off on CPU (measured "
        "slower there)")
    compile: bool = key(False, "torch.compile the generator and discriminator")
    accumulate: int = key(1, "micro-batches per optimiser step (gradient accumulation)", ge=1)
    clip_grad_norm: float | None = key(None, "clip each network's gradient norm to this value", gt=0)
    pool_size: int = key(0, "image pool of past generated pairs shown to D (0: off, as pix2pix)", ge=0)
    ema_decay: float | None = key(None, "exponential moving average of the generator weights (e.g. 0.999); "
                                  "evaluated and saved alongside", gt=0, le=1)
    ema_start: int = key(0, "step at which the EMA starts (it copies the weights then)", ge=0)
    sync_batchnorm: bool = key(False, "SyncBatchNorm across processes in distributed CUDA runs")
    eval_frame: Literal["full", "crop"] = key(
        "full", "what validation, sample grids and the final evaluation score: full = the whole image at the "
        "training scale, as the pix2pix test phase (resize_and_crop: resized to crop_size x crop_size; crop/none: "
        "the image as it is; scale_width*: crop_size wide); crop = the centre crop_size window of the "
        "training-size image. `i2i eval --frame` overrides it")
    final_eval: bool = key(True, "when the run completes, evaluate the final generator on the held-out split "
                           "(test, else val) into eval.json + eval.csv, as `i2i eval` does, then write "
                           "report.html; skipped when the data have no held-out split")
    final_eval_images: int | None = key(None, "images of the held-out split the final evaluation uses "
                                        "(default: all)", ge=1)
    final_eval_checkpoint: Literal["best", "last"] = key(
        "best", "the checkpoint the final evaluation scores: best = the one train.best_metric picked on the "
        "validation split (checkpoints/best.json; the last when there is none), last = the newest; the final "
        "evaluation names it and says when it is not the best")
    init_from: str | None = key(None, "fine-tuning: start the generator and discriminator from these weights: an "
                                "i2i run directory, checkpoint folder or .safetensors file, or a reference "
                                "pytorch-CycleGAN-and-pix2pix latest_net_G.pth (read with weights_only); the "
                                "networks must have the same tensors, the rest of the recipe may differ; "
                                "optimisers and schedule start at step 0. `i2i run --init-from` sets it")


@dataclass(frozen=True)
class DataSection:
    """``[data]``: how samples are decoded, cut, held out and loaded (the source that gives
    them, with its ``root`` and options, is the ``[source]`` section)."""

    preprocess: Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"] = key(
        "resize_and_crop", "reference preprocessing: resize_and_crop (resize to load_size x load_size, random "
        "crop crop_size), crop (random crop only), scale_width (width to load_size, aspect kept), "
        "scale_width_and_crop (then random crop), none (images as they are; any size is padded for the "
        "network)")
    load_size: int = key(286, "resize target in pixels (resize_and_crop: both sides; scale_width*: the width)",
                         ge=1)
    crop_size: int = key(256, "random crop size in pixels; validation and samples use a center crop", ge=1)
    patch_size: int | None = key(None, "training only: random square patches of this size cut from each pair after "
                                 "the task made it (CT: after the physics ran on the whole slice), so large images "
                                 "train at patch cost; validation, evaluation and prediction use whole images", ge=1)
    patches_per_image: int = key(1, "training patches cut from each image (with data.patch_size): a step trains on "
                                 "train.batch_size x patches_per_image patches, decoding and simulating each image "
                                 "once", ge=1)
    num_workers: int | Literal["auto"] = key(
        "auto", "DataLoader worker processes that decode training files (0: decode in the main process); auto: 0 "
        "on CPU, on CUDA the CPUs this process may use, shared by the processes of its node, less one for the "
        "training loop, at most 8. Numbers do not depend on it", ge=0)
    on_error: Literal["raise", "skip"] = key(
        "raise", "a file that cannot be used (unreadable, truncated, wrong channels, pair sizes differ): "
        "raise names it and stops; skip uses the next good sample and counts it in metrics.jsonl")
    val_fraction: float = key(0.0, "fraction held out for validation when the source has no val split",
                              ge=0, le=0.9)
    test_fraction: float = key(0.0, "fraction held out for testing (i2i eval) when the source has no test "
                               "split", ge=0, le=0.9)
    test_groups: list[str] | None = key(None, "groups (volumes, patients) held out as the test split, by name or glob "
                                 "(e.g. [\"head_cptac_gbm*\"]): the source's group names, or data.group_pattern's "
                                 "matches; replaces data.test_fraction")
    val_groups: list[str] | None = key(None, "groups held out for validation, by name or glob; replaces data.val_fraction")
    group_pattern: str | None = key(None, "regular expression on each sample's relative path whose first group "
                                    "(or whole match) names its group (a patient, a scene): held-out splits "
                                    "take whole groups, e.g. \"^([^/]+)/\" groups by top folder")
    slab_position: float = key(0.5, "one volume (one group) left to split: where its held-out slabs sit along the "
                               "stack, 0 = first slice, 1 = last; the default puts test and val in the middle "
                               "(a head's brain) and trains on both ends", ge=0, le=1)
    slab_count: int = key(1, "one volume left to split: slabs per held-out split, spread along the stack and "
                          "interleaved with training slices", ge=1)
    slab_gap: int = key(2, "one volume left to split: slices left unused on each side of a held-out slab "
                        "(neighbouring slices look alike)", ge=0)


@dataclass(frozen=True)
class AugmentSection:
    """``[augment]``: random augmentation on the training device, after the preprocessing.

    Geometric operations apply with one random draw to input and target alike; photometric
    ones to the input only, where the task allows it. Both name kornia.augmentation classes
    with their options, e.g. ``[[augment.geometric]] name = "RandomAffine", degrees = 10``.
    """

    flip: bool = key(True, "random horizontal flips (the reference's flip)")
    vflip: bool = key(False, "random vertical flips")
    rot90: bool = key(False, "random rotations by multiples of 90 degrees (square crops)")
    test_time: bool = key(False, "test-time augmentation: validation, evaluation and prediction average the "
                          "generator's outputs on the input and on its transforms that training uses (flip, vflip, "
                          "rot90 and their combinations: 2, 4 or 8 passes), each transformed back; needs one of them")
    geometric: list[dict] = key((), "kornia geometric augmentations for input and target: tables with "
                                "'name' (e.g. RandomAffine, RandomElasticTransform) and the class's options")
    photometric: list[dict] = key((), "kornia intensity augmentations for the input only: tables with 'name' "
                                  "(e.g. ColorJitter, RandomGaussianNoise) and the class's options")


CORE_SECTIONS: dict[str, type] = {
    "run": RunSection,
    "train": TrainSection,
    "data": DataSection,
    "augment": AugmentSection,
}

#: Sections holding one component, ``name`` plus the factory's options, with the registry
#: kind the name is looked up in.
COMPONENT_SECTIONS = {"task": "tasks", "source": "sources", "generator": "generators",
                      "discriminator": "discriminators", "schedule": "schedules", "optim": "optimizers"}
#: Sections whose options mean the same for every component that takes them: a change of
#: component keeps the lower layers' options the new one takes (``optim.lr_g``).
KEPT_ON_RENAME = ("source", "schedule", "optim")
#: The component a section without ``name`` chooses (a task preset may choose another).
DEFAULT_NAMES = {"task": "paired", "source": "aligned", "schedule": "linear", "optim": "adam"}
#: ``[optim]`` option suffixes naming one network: ``lr_g`` for the generator, ``lr_d`` for
#: the discriminator; an option without one (``lr``) is for both.
NETWORKS = {"g": "generator", "d": "discriminator"}

ALL_SECTIONS = (*CORE_SECTIONS, *COMPONENT_SECTIONS, "losses", "plugins")


def section_keys(section: type) -> dict[str, Any]:
    """The dataclass fields of a core section by key."""
    return {f.name: f for f in fields(section)}
