"""A render: read the inputs, climb the ladder rung by rung through the core, write the output.

This module holds the loop; the schedule is ``hires.ladder``, the method is ``core``, files are
``hires.images``. Progress goes to a ``Reporter``, so the same loop serves the rich display,
plain logs, batches and tests.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import tensorflow as tf

from core.backbones import (Backbone, activation_floats, find_vgg19_weights, load_backbone,
                            receptive_field)
from core.errors import CoreError
from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function
from core.optimize import ADAM_PRESETS, OptimizeResult, Progress, minimize_adam, minimize_lbfgs
from hires import images
from hires.config import RenderSettings
from hires.contact_sheet import SheetRung, make_contact_sheet
from hires.errors import HiresError
from hires.ladder import Rung, rung_shape

WEIGHTS_ENV = "HIRES_VGG19_WEIGHTS"
# Bytes per float the optimiser keeps per pixel value beyond the network: the image, its
# gradient, the search direction and a few line-search points.
_OPTIMIZER_VECTORS = 8


@dataclass(frozen=True)
class RenderJob:
    """One picture to render.

    Attributes:
        content: the photograph.
        styles: one or more paintings.
        output: the file to write; its extension picks the format.
        settings: the ladder and every render option.
        overwrite: replace an existing output.
        save_rungs: save each rung's result in ``<output>.rungs/`` as it finishes, and a
            contact sheet of the whole ladder as ``<output>.contact.png``.
    """

    content: Path
    styles: tuple[Path, ...]
    output: Path
    settings: RenderSettings
    overwrite: bool = False
    save_rungs: bool = True


@dataclass(frozen=True)
class RungPlan:
    """What one rung will do, known before any pixel is optimised."""

    index: int
    count: int
    rung: Rung
    height: int
    width: int
    style_shapes: tuple[tuple[int, int], ...]
    memory_bytes: int

    @property
    def pixels(self) -> int:
        return self.height * self.width


@dataclass(frozen=True)
class RungResult:
    """A finished rung: its plan, its image ``(H, W, 3)`` in [0, 1], its progress, where it was saved."""

    plan: RungPlan
    image: np.ndarray
    history: tuple[Progress, ...]
    stopped: str
    seconds: float
    path: Path | None


@dataclass(frozen=True)
class RenderResult:
    """A finished render."""

    output: Path
    rungs: tuple[RungResult, ...]
    backbone: str
    seconds: float


class Reporter(Protocol):
    """Receives a render's progress; every method may do nothing."""

    def message(self, text: str) -> None: ...
    def ladder_started(self, plans: Sequence[RungPlan]) -> None: ...
    def rung_started(self, plan: RungPlan) -> None: ...
    def chunk(self, plan: RungPlan, progress: Progress) -> None: ...
    def rung_finished(self, result: RungResult) -> None: ...


class SilentReporter:
    """A Reporter that ignores everything."""

    def message(self, text: str) -> None:
        pass

    def ladder_started(self, plans: Sequence[RungPlan]) -> None:
        pass

    def rung_started(self, plan: RungPlan) -> None:
        pass

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        pass

    def rung_finished(self, result: RungResult) -> None:
        pass


def choose_backbone(settings: RenderSettings) -> tuple[Backbone, str]:
    """Loads the backbone the settings name; for "auto", VGG19 if its weights are here, else vgg16-hed.

    Returns:
        The backbone and one line saying which it is and why.

    Raises:
        HiresError: when the named backbone cannot be loaded.
    """
    weights = settings.weights or os.environ.get(WEIGHTS_ENV) or None
    try:
        if settings.backbone != "auto":
            backbone = _cached_backbone(settings.backbone, weights)
            return backbone, f"backbone: {backbone.name} ({backbone.source})"
        path = find_vgg19_weights(weights)
        if path is not None:
            return _cached_backbone("vgg19", str(path)), f"backbone: vgg19, the paper's network (weights {path})"
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    backbone = _cached_backbone("vgg16-hed", None)
    return backbone, (
        "backbone: vgg16-hed, because no VGG19 weights were found (pass --weights, set "
        f"{WEIGHTS_ENV}, or use --backbone vgg19 to let Keras download them)")


@functools.lru_cache(maxsize=4)
def _cached_backbone(name: str, weights: str | None) -> Backbone:
    return load_backbone(name, weights_path=weights)


def loss_spec(settings: RenderSettings, rung: Rung) -> LossSpec:
    """The core's loss specification for one resolved rung."""
    try:
        return LossSpec(
            content_layer=settings.content_layer,
            style_layers=settings.style_layers,
            content_weight=rung.content_weight,
            style_weight=rung.style_weight,
            tv_weight=rung.tv_weight,
            pooling=settings.pooling,
        )
    except CoreError as exc:
        raise HiresError(str(exc)) from exc


def plan_ladder(
    settings: RenderSettings,
    backbone: Backbone,
    content_shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]],
) -> list[RungPlan]:
    """Sizes and memory estimates of every rung, for a content image of ``(height, width)``.

    Raises:
        HiresError: when a layer the settings name is not in the backbone.
    """
    spec_layers = [settings.content_layer] + [name for name, _ in settings.style_layers]
    try:
        _, stride = max(receptive_field(backbone, name) for name in spec_layers)
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    plans = []
    ladder = settings.ladder
    for index in range(len(ladder.rungs)):
        rung = ladder.resolve(index)
        height, width = rung_shape(*content_shape, rung.long_edge_px, multiple=stride)
        styles = tuple(_style_shape(shape, rung) for shape in style_shapes)
        memory = _memory_bytes(backbone, spec_layers, height, width, rung)
        if plans and max(height, width) <= max(plans[-1].height, plans[-1].width):
            raise HiresError(
                f"rungs {index} and {index + 1} ({ladder.rungs[index - 1].long_edge_px} and "
                f"{rung.long_edge_px} px) both round to a long edge of {max(height, width)} px "
                f"(sides are multiples of {stride} px); space the rungs further apart")
        plans.append(RungPlan(index, len(ladder.rungs), rung, height, width, styles, memory))
    return plans


def _style_shape(shape: tuple[int, int], rung: Rung) -> tuple[int, int]:
    long_edge = max(16, round(rung.style_scale * rung.long_edge_px))
    scale = long_edge / max(shape)
    return max(16, round(shape[0] * scale)), max(16, round(shape[1] * scale))


def _memory_bytes(backbone: Backbone, layers: list[str], height: int, width: int, rung: Rung) -> int:
    """Activations forward and backward, plus the optimiser's vectors and L-BFGS history."""
    network = 2 * activation_floats(backbone, layers, height, width)
    history = 2 * rung.correction_pairs if rung.optimizer == "lbfgs" else 2
    return 4 * (network + (history + _OPTIMIZER_VECTORS) * height * width * 3)


def rungs_folder(output: Path) -> Path:
    """Where each rung's result is saved: ``out.png`` -> ``out.rungs/``."""
    return output.with_name(output.name.rsplit(".", 1)[0] + ".rungs")


def to_tensor(image: np.ndarray) -> tf.Tensor:
    """``(H, W, 3)`` array -> ``(1, H, W, 3)`` float32 tensor."""
    return tf.constant(image[None].astype(np.float32))


def resize(image: tf.Tensor, height: int, width: int, method: str = "bicubic") -> tf.Tensor:
    """Resizes ``(1, H, W, 3)`` with anti-aliasing when shrinking, clipped to [0, 1]."""
    if tuple(image.shape[1:3]) == (height, width):
        return image
    shrinking = height < image.shape[1] or width < image.shape[2]
    resized = tf.image.resize(image, (height, width), method=method, antialias=shrinking)
    return tf.clip_by_value(resized, 0.0, 1.0)


def read_init(settings: RenderSettings) -> tf.Tensor | None:
    """The image file ``--init`` names, read up front with the other inputs; None for content or noise."""
    if settings.init in ("content", "noise"):
        return None
    return to_tensor(images.read_image(settings.init))


def initial_image(settings: RenderSettings, content: tf.Tensor, init: tf.Tensor | None,
                  height: int, width: int) -> tf.Tensor:
    """The first rung's starting point: the content, seeded uniform noise, or the ``--init`` image."""
    if settings.init == "noise":
        rng = np.random.default_rng(settings.seed)
        return tf.constant(rng.uniform(0.0, 1.0, size=(1, height, width, 3)).astype(np.float32))
    return resize(init if init is not None else content, height, width)


def render(job: RenderJob, reporter: Reporter | None = None) -> RenderResult:
    """Renders ``job``: every rung of its ladder, then the output file.

    Raises:
        HiresError: for unreadable inputs, an output that cannot be written, or bad settings;
            all are checked before the first rung starts.
    """
    reporter = reporter or SilentReporter()
    clock = time.perf_counter()
    images.check_output_path(job.output, overwrite=job.overwrite)
    if job.save_rungs:
        images.check_output_path(contact_sheet_path(job.output), overwrite=job.overwrite)
    content = to_tensor(images.read_image(job.content))
    styles = [to_tensor(images.read_image(path)) for path in job.styles]
    init = read_init(job.settings)
    if job.settings.style_blend is not None and len(job.settings.style_blend) != len(styles):
        raise HiresError(
            f"--style-blend has {len(job.settings.style_blend)} weights for {len(styles)} styles; give one per style")
    backbone, why = choose_backbone(job.settings)
    reporter.message(why)
    plans = plan_ladder(job.settings, backbone, tuple(content.shape[1:3]),
                        [tuple(s.shape[1:3]) for s in styles])
    reporter.ladder_started(plans)
    results: list[RungResult] = []
    image = None
    for plan in plans:
        result = _render_rung(job, backbone, plan, content, styles, image if image is not None else init,
                              reporter)
        results.append(result)
        reporter.rung_finished(result)
        image = to_tensor(result.image)
    images.write_image(job.output, results[-1].image, overwrite=job.overwrite)
    if job.save_rungs:
        sheet = make_contact_sheet(content[0].numpy(), [s[0].numpy() for s in styles],
                                   [_sheet_rung(result) for result in results])
        images.write_image(contact_sheet_path(job.output), sheet, overwrite=True)
    return RenderResult(job.output, tuple(results), backbone.name, time.perf_counter() - clock)


def contact_sheet_path(output: Path) -> Path:
    """Where the contact sheet goes: ``out.png`` -> ``out.contact.png``."""
    return output.with_name(output.name.rsplit(".", 1)[0] + ".contact.png")


def _sheet_rung(result: RungResult) -> SheetRung:
    plan = result.plan
    label = (f"rung {plan.index + 1}/{plan.count}  {plan.width}x{plan.height}  "
             f"({plan.rung.iterations} it, {result.seconds:.0f} s)")
    return SheetRung(label, result.image, [p.iteration for p in result.history],
                     [p.terms["total"] for p in result.history])


def _render_rung(job: RenderJob, backbone: Backbone, plan: RungPlan, content: tf.Tensor,
                 styles: list[tf.Tensor], previous: tf.Tensor | None, reporter: Reporter) -> RungResult:
    """Optimises one rung from the previous rung's upsampled result (for the first rung: the --init image, if any)."""
    settings, rung = job.settings, plan.rung
    clock = time.perf_counter()
    reporter.rung_started(plan)
    spec = loss_spec(settings, rung)
    extractor = make_extractor(backbone, spec)
    content_here = resize(content, plan.height, plan.width)
    styles_here = [resize(s, h, w) for s, (h, w) in zip(styles, plan.style_shapes)]
    targets = compute_targets(tf.function(extractor), spec, content_here, styles_here, settings.style_blend)
    loss_function = make_loss_function(extractor, spec, targets)
    if plan.index == 0:
        start = initial_image(settings, content, previous, plan.height, plan.width)
    else:
        start = resize(previous, plan.height, plan.width, settings.ladder.upsample)
    outcome = _optimize(settings, rung, loss_function, start, lambda p: reporter.chunk(plan, p))
    image = outcome.image[0].numpy()
    path = None
    if job.save_rungs:
        path = rungs_folder(job.output) / f"{plan.height if plan.height > plan.width else plan.width:04d}.png"
        images.write_image(path, image, overwrite=True)
    return RungResult(plan, image, outcome.history, outcome.stopped, time.perf_counter() - clock, path)


def _optimize(settings: RenderSettings, rung: Rung, loss_function, start: tf.Tensor, callback) -> OptimizeResult:
    if rung.optimizer == "adam":
        return minimize_adam(loss_function, start, iterations=rung.iterations,
                             settings=ADAM_PRESETS[settings.adam_preset],
                             chunk_iterations=settings.chunk_iterations, callback=callback)
    return minimize_lbfgs(loss_function, start, iterations=rung.iterations,
                          chunk_iterations=settings.chunk_iterations,
                          correction_pairs=rung.correction_pairs, tolerance=settings.tolerance,
                          callback=callback)
