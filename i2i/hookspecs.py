"""The hooks an i2i plugin may implement.

Registration hooks are called once when plugins load; each receives a ``register``
callable and calls it once per component::

    @hookimpl
    def register_generators(register):
        register("my_unet", MyUNet)          # MyUNet(in_channels, out_channels, **options)

The options a recipe may set for a component are the keyword parameters of its factory;
their annotations and defaults are checked and shown by ``i2i recipe show``.

Training events are called by the engine on the main process (rank 0 under DDP) in this
order: ``on_train_start``, then per step ``on_step_end``, with ``on_validation_end`` and
``on_checkpoint`` when those happen, and ``on_train_end`` when training stops; ``i2i run``
then evaluates the final model, writes the report and calls ``on_run_end`` last. They must
not change the training state: they observe it (loggers, notifiers, experiment trackers).

Type imports live under ``TYPE_CHECKING`` so this module imports nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import torch
    from torch import nn

    from i2i.taskspec import TaskSpec


class Register(Protocol):
    """What a registration hook receives: call it once per component."""

    def __call__(self, name: str, factory: Callable[..., Any], description: str = "") -> None:
        """Register ``factory`` under ``name`` (``description``: one line for ``i2i
        list-plugins``; default the first paragraph of the factory's docstring)."""


class RegisterRecipe(Protocol):
    """What ``register_recipes`` receives: call it once per recipe file."""

    def __call__(self, name: str, path: Path) -> None:
        """Ship the TOML recipe at ``path`` under ``name``."""


class RecipeView(Protocol):
    """What an event plugin may read of the run's resolved recipe (an :class:`i2i.recipe.Recipe`)."""

    #: The recipe's name: its file stem or shipped name (``medical_ct``).
    stem: str

    def plugin_options(self, name: str) -> Mapping[str, Any]:
        """The recipe's ``[plugins.NAME]`` table (empty when absent)."""

    def as_dict(self) -> dict[str, Any]:
        """The resolved recipe as nested tables, every default filled in (what ``recipe.toml`` holds)."""

    def digest(self) -> str:
        """A short hash of what defines the model and its training (checkpoints carry it)."""


class TrainerView(Protocol):
    """What training events see of the trainer: read it, never change it. The engine's
    :class:`i2i.engine.trainer.Trainer` satisfies it; this is the stable surface."""

    recipe: RecipeView
    #: The run directory (``recipe.toml``, ``checkpoints/``, ``samples/``, ``metrics.jsonl``).
    run_dir: Path
    #: Optimisation steps done so far, and the run's length.
    step: int
    total_steps: int
    #: The networks (unwrapped from DDP/compile: plain modules); ``discriminator`` is None in
    #: supervised mode; ``ema`` holds the EMA generator as ``ema.module``, or is None.
    generator: nn.Module
    discriminator: nn.Module | None
    ema: Any
    task: TaskSpec
    device: torch.device
    #: This process's rank (events run on rank 0 only).
    rank: int
    #: The latest validation pass's mean metrics (``val_psnr``...), empty before the first.
    last_validation: Mapping[str, float]
    #: The training samples' pixel sizes (recorded in checkpoints), or None when unknown.
    geometry: Mapping[str, Any] | None

hookspec = pluggy.HookspecMarker("i2i")
#: Marker for hook implementations in i2i plugins (re-exported as ``i2i.hookimpl``).
hookimpl = pluggy.HookimplMarker("i2i")


# ---- registration -------------------------------------------------------------------


@hookspec
def register_generators(register: Register) -> None:
    """Register generator networks.

    A generator factory takes ``in_channels`` and ``out_channels`` (supplied by the task)
    plus its options, and returns an ``nn.Module`` mapping ``(N, in, H, W)`` to
    ``(N, out, H, W)``. It may set ``size_divisor`` (an int, default 1): i2i pads inputs
    to a multiple of it and crops the output back, so any ``H x W`` works.
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator networks.

    A discriminator factory takes ``in_channels`` (input plus output channels: every
    discriminator is conditional) and returns an ``nn.Module`` whose forward returns
    either a tensor of logits or, for several scales, a list with one list per scale of
    intermediate feature maps ending with that scale's logits (pix2pixHD's layout).
    It should set ``receptive_field`` (pixels) for ``i2i summary``.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register losses.

    A loss factory returns an object whose ``role`` attribute says how the engine calls it
    (the base classes in :mod:`i2i.losses` give each role's defaults):

    - ``"adversarial"`` (:class:`i2i.losses.AdversarialLoss`): ``discriminator_loss(real_scales,
      fake_scales)`` and ``generator_loss(fake_scales)`` (the base class sums ``d_term`` and
      ``g_term`` over the scales), and ``penalty(discriminator, real_pair, fake_pair)``, called
      at every discriminator step, returning an extra term added to D's loss as it is (the
      loss applies its own coefficient; WGAN-GP's gradient penalty) or ``None`` (the base class);
    - ``"reconstruction"`` (:class:`i2i.losses.ReconstructionLoss`): ``__call__(output, target)``,
      or ``__call__(output, target, weight)`` with per-pixel weights ``(N, 1, H, W)`` when the
      task gives them (inpainting);
    - ``"feature_matching"`` (:class:`i2i.losses.FeatureMatchingLoss`):
      ``__call__(fake_scales, real_scales)``, the real features detached.

    Scales are the discriminator's outputs as a list (one per scale) of lists of feature
    maps ending with the logits. Each call returns a scalar tensor; the recipe's
    ``weight`` multiplies it (not the penalty).
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register task presets.

    A task is a subclass of :class:`i2i.tasks.Task`: it knows its channels, value range,
    how to turn decoded samples into normalised ``(input, target)`` batches on the device,
    and the recipe defaults it brings (``recipe_defaults``).
    """


@hookspec
def register_sources(register: Register) -> None:
    """Register data sources.

    A source factory takes its options (the recipe's ``[source]`` table: a source that
    reads files takes ``root``, which users give as ``--set data.root=PATH``; ``seed``, the
    run's seed, is supplied when the factory takes it) and returns an
    :class:`i2i.data.Source`: ``splits()`` and ``dataset(split)``, a map-style dataset of
    decoded samples (dicts of tensors).
    """


@hookspec
def register_schedules(register: Register) -> None:
    """Register learning-rate schedules.

    A schedule factory takes its options (the recipe's ``[schedule]`` table) and, when it
    depends on the run's length, ``total_steps`` (supplied); it returns an object with
    ``factor(step) -> float``, the multiplier of both base learning rates at optimisation
    step ``step`` (0-based), and optionally ``observe(metrics)`` (called with every
    validation pass's metrics) and ``state_dict()`` / ``load_state_dict(state)`` (saved in
    checkpoints). Subclass :class:`i2i.schedules.Schedule` for those and for
    ``warmup_steps``. An option called ``metric`` must name a metric the task's validation
    logs (checked with the recipe).
    """


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimisers.

    An optimiser factory takes ``params`` (one network's parameters, supplied) and its
    options, among them ``lr`` (the base rate the schedule scales), and returns a
    ``torch.optim.Optimizer``. It is built once for the generator and once for the
    discriminator: the recipe sets each option for both (``optim.lr``) or for one
    (``optim.lr_g``, ``optim.lr_d``).
    """


@hookspec
def register_formats(register: Register) -> None:
    """Register file formats for ``i2i predict``.

    A format factory takes its options (``i2i predict --format-option KEY=VALUE``) and returns
    an :class:`i2i.data.formats.Format`: the suffixes it owns, a reader (file ->
    ``Decoded`` or ``Stack``) and a writer (an output in data units -> file), and whether
    it takes volumes (``stacks``), recognises files by content (``sniff``) and shows
    outputs as display images (``preview``). Two formats may not own one suffix.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register generic metrics: scored for every task by validation and ``i2i eval``.

    A metric factory takes its options (none, usually) and returns an
    :class:`i2i.metrics.Metric`: its name, ``compute(images)`` -> one value per image
    (``images`` an :class:`i2i.metrics.ScoredImages`: ``output_data`` and ``target_data`` in
    data units, ``data_range``), ``higher_is_better`` (which best-checkpoint selection and
    schedules that follow a metric obey) and its ``data_range`` when fixed. A task's own
    metrics (``Task.task_metrics``) win over generic ones of the same name. The built-in
    ``i2i.metrics`` plugin registers ``mae``, ``psnr``, ``ssim`` and ``ms_ssim``, and the
    records of ``lpips``, ``fid`` and ``kid`` (``on_request``: ``i2i eval`` computes them when
    given their weights files).
    """


@hookspec
def register_loggers(register: Register) -> None:
    """Register loggers: record a run somewhere (TensorBoard, MLflow...).

    A logger factory takes ``run_dir`` (the run directory, supplied) and its options, and
    returns an :class:`i2i.loggers.Logger`, whose methods the engine calls at the training
    events (rank 0 only). A recipe switches it on with a ``[plugins.NAME]`` table holding
    ``enabled = true`` and the factory's options, which ``i2i recipe check`` checks against
    its signature. One instance per run: keep state on the instance.
    """


@hookspec
def register_recipes(register: RegisterRecipe) -> None:
    """Register recipes that users run by name (``i2i run NAME``) and list with ``i2i recipes``.

    Call ``register(name, path)`` once per recipe: ``name`` is what users type (letters,
    digits, ``_`` and ``-``; the default run directory is ``runs/NAME``) and ``path`` a TOML
    recipe file the plugin ships as package data, e.g.
    ``Path(__file__).parent / "recipes" / "my_task.toml"``. The first paragraph of the
    file's leading ``#`` comment is the description ``i2i recipes`` shows.
    """


# ---- training events ----------------------------------------------------------------


@hookspec
def on_train_start(trainer: TrainerView) -> None:
    """Called once before the first step (after a resume, before the first new step)."""


@hookspec
def on_step_end(trainer: TrainerView, step: int, logs: dict[str, float]) -> None:
    """Called after each optimisation step; ``logs`` holds this step's losses when it is a
    logging step (every ``train.log_every`` steps) and is empty otherwise."""


@hookspec
def on_validation_end(trainer: TrainerView, step: int, metrics: dict[str, float]) -> None:
    """Called after a validation pass with its mean metrics."""


@hookspec
def on_checkpoint(trainer: TrainerView, step: int, path: str) -> None:
    """Called after a checkpoint directory has been completely and atomically written."""


@hookspec
def on_train_end(trainer: TrainerView, step: int, status: str) -> None:
    """Called once when training stops; ``status`` is ``"completed"``, ``"interrupted"`` or ``"failed"``."""


@hookspec
def on_run_end(run_dir: str, status: str) -> None:
    """Called once at the very end of ``i2i run``, after the final evaluation (``eval.json``,
    ``eval.csv``) and ``report.html`` are written, for every run whose training started:
    ``status`` is ``"completed"``, ``"interrupted"`` (Ctrl-C, SIGTERM) or ``"failed"`` (an
    error in training, the final evaluation or the report; nothing may have been written).
    The place to upload a run's final results."""
