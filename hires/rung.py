"""One rung: its objective (the whole image, or the tiles its memory plan chose) and its optimisation."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import tensorflow as tf

from core.backbones import Backbone
from core.objective import Objective, compute_targets, make_extractor, whole_image_objective
from core.optimize import ADAM_PRESETS, OptimizeResult, OptimizerState, Progress, minimize_adam, minimize_lbfgs
from core.precondition import Preconditioner, band_below
from core.tiles import TiledObjective, compute_targets_tiled, plan_tiles
from hires.config import RenderSettings
from hires.images import shrink
from hires.inputs import Inputs, resize
from hires.job import RungPlan, RungResult
from hires.outputs import RUNG_PICTURE_MAX_PX
from hires.plan import loss_spec


def build_objective(settings: RenderSettings, backbone: Backbone, plan: RungPlan, inputs: Inputs,
                    strategy: tf.distribute.Strategy | None = None) -> Objective:
    """The rung's objective, with its targets: the photograph and the paintings at the rung's sizes."""
    spec = loss_spec(settings, plan.rung)
    extractor = make_extractor(backbone, spec)
    content_here = resize(inputs.transfer_content, plan.height, plan.width)
    styles_here = [resize(s, h, w) for s, (h, w) in zip(inputs.transfer_styles, plan.style_shapes)]
    blend = settings.style_blend
    if plan.memory.tile_px is None:
        # Eager: one forward pass per image; a tf.function here would trace for every new shape.
        targets = compute_targets(extractor, spec, content_here, styles_here, blend)
        return whole_image_objective(extractor, spec, targets, jit_compile=plan.xla)
    tiles = plan_tiles(plan.height, plan.width, tile_px=plan.memory.tile_px, backbone=backbone,
                       layer_names=spec.layer_names)
    targets = compute_targets_tiled(extractor, spec, tiles, content_here, styles_here, blend)
    return TiledObjective(extractor, spec, targets, tiles, strategy,
                          content_dtype=tf.bfloat16 if plan.memory.content_bfloat16 else tf.float32)


def preconditioner_for(settings: RenderSettings, plan: RungPlan, below: tuple[int, int] | None) -> Preconditioner | None:
    """The change of variables of a rung the plan filters (``RungPlan.preconditioned``), whose rung
    below was ``below`` (height, width) px; None for plain pixels."""
    if not plan.preconditioned:
        return None
    band = band_below(max(below), max(plan.height, plan.width))
    return Preconditioner(plan.height, plan.width, band, settings.coarse_step)


def optimize(settings: RenderSettings, plan: RungPlan, objective: Objective, start: tf.Tensor,
             callback: Callable[[Progress], None], state: OptimizerState | None = None,
             preconditioner: Preconditioner | None = None) -> OptimizeResult:
    """Runs the rung's optimiser from ``start`` (or from ``state``, exactly), reporting each chunk."""
    rung = plan.rung
    if rung.optimizer == "adam":
        return minimize_adam(objective, start, iterations=rung.iterations,
                             settings=ADAM_PRESETS[settings.adam_preset],
                             chunk_iterations=settings.chunk_iterations, callback=callback, state=state)
    return minimize_lbfgs(objective, start, iterations=rung.iterations,
                          chunk_iterations=settings.chunk_iterations,
                          correction_pairs=plan.memory.correction_pairs, tolerance=settings.tolerance,
                          callback=callback, state=state, compiled=plan.compiled_loop, stop_gain=settings.stop_gain,
                          preconditioner=preconditioner)


def finish(plan: RungPlan, outcome: OptimizeResult, earlier: tuple[Progress, ...], seconds: float,
           save: Callable[[RungPlan, np.ndarray], object] | None) -> RungResult:
    """The rung's result; ``save`` (if any) writes its picture, shrunk to a preview, and returns the path."""
    image = outcome.image[0].numpy()
    path = save(plan, shrink(image, RUNG_PICTURE_MAX_PX)) if save is not None else None
    return RungResult(plan, image, earlier + tuple(outcome.history), outcome.stopped, seconds, path)


def elapsed(clock: float) -> float:
    return time.perf_counter() - clock
