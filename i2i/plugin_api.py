"""Everything a plugin author imports from i2i, in one place (the stable surface for
third-party plugins; see CONTRIBUTING.md, "Writing a plugin")::

    from i2i.plugin_api import Task, hookimpl

Hooks and what they receive: :data:`hookimpl`, :class:`Register`, :class:`RegisterRecipe`,
:class:`TrainerView` (what training events see), :class:`RecipeView`. Bases and contracts,
by component kind:

- tasks: :class:`Task` (the base class) and the Protocols it implements, :class:`TaskSpec`
  (:class:`Values`, :class:`PairMaking`, :class:`Presentation`, :class:`Measuring`);
  :class:`PairRandom` for the random draws of a task that makes its inputs; :class:`CTTask`,
  the base of CT tasks (slices in HU, field of view, clinical windows: implement ``simulate``);
- networks: :class:`GeneratorSpec` and :class:`DiscriminatorSpec` (the attributes the engine
  reads), :func:`in_fp32` (an output layer in float32 under autocast: ``fp32_output``);
- losses: :class:`AdversarialLoss`, :class:`ReconstructionLoss`, :class:`FeatureMatchingLoss`,
  :data:`Scales` and :func:`as_scales`; :func:`input_gradients` for gradient penalties (fp16 safe);
- schedules: :class:`Schedule`; metrics: :class:`Metric` and :class:`ScoredImages`;
  loggers: :class:`Logger`;
- data sources: :class:`Source`; file formats of ``i2i predict`` (predict-only: sources read
  their own files): :class:`Format`, :class:`Decoded`, :class:`Stack`.
"""

from i2i.data.formats import Decoded, Format, Stack
from i2i.data.pair_random import PairRandom
from i2i.data.source import Source
from i2i.hookspecs import RecipeView, Register, RegisterRecipe, TrainerView, hookimpl
from i2i.loggers import Logger
from i2i.losses import (
           AdversarialLoss,
           FeatureMatchingLoss,
           ReconstructionLoss,
           Scales,
           as_scales,
           input_gradients,
)
from i2i.medical.ct_task import CTTask
from i2i.metrics import Metric, ScoredImages
from i2i.nn.layers import in_fp32
from i2i.nn.protocols import DiscriminatorSpec, GeneratorSpec
from i2i.schedules import Schedule
from i2i.tasks import Task
from i2i.taskspec import Measuring, PairMaking, Presentation, TaskSpec, Values

__all__ = ["AdversarialLoss", "CTTask", "Decoded", "DiscriminatorSpec", "FeatureMatchingLoss", "Format",
           "GeneratorSpec", "Logger", "Measuring", "Metric", "PairMaking", "PairRandom", "Presentation",
           "RecipeView", "ReconstructionLoss", "Register", "RegisterRecipe", "Scales", "ScoredImages", "Schedule",
           "Source", "Stack", "Task", "TaskSpec", "TrainerView", "Values", "as_scales", "hookimpl", "in_fp32",
           "input_gradients"]
