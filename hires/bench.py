"""Benchmarks: they measure and report; tests never assert on their timings.

``compare_ladder_to_single`` runs, side by side in one process, a ladder to the target size and a
single rung at the target size started from the content image, and records the loss at the
target size over wall time for both.

``run_bench`` (``hires bench``) measures the objective on this machine: seconds per compiled
value-and-gradient evaluation at each size, the FLOP rate that implies (``hires.flops``) and its
fraction of the device's nominal peak where one is known, L-BFGS's evaluations per iteration and
its loss against Adam's after as many evaluations, and tiled against untiled cost per pixel.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import tensorflow as tf

from core.backbones import Backbone, Extractor, receptive_field
from core.objective import (LossSpec, Targets, WholeImageObjective, compute_targets, make_extractor,
                            make_loss_function, whole_image_objective)
from core.optimize import ADAM_PRESETS, Progress, minimize_adam, minimize_lbfgs
from core.tiles import TiledObjective, plan_tiles
from hires import images
from hires.config import RenderSettings
from hires.demo_images import draw_demo_content, draw_demo_style
from hires.errors import HiresError
from hires.flops import count_flops
from hires.ladder import Rung, rung_shape
from hires.quality import Judge, Quality, cost_of
from hires.inputs import resize, to_tensor
from hires.job import RenderJob, SilentReporter
from hires.plan import choose_backbone, loss_spec, plan_ladder
from hires.render import render  # the ladder comparison times the loop itself

# The demo pictures' own shape (hires demo draws them at 512 x 384): the bench keeps their aspect.
_DEMO_HEIGHT_PX, _DEMO_WIDTH_PX = 384, 512


@dataclass(frozen=True)
class Curve:
    """Loss at the target size against seconds since the run began.

    ``coarse_loss`` is the finished picture's loss at the ladder's first size (see
    ``losses_at_size``): how well its composition, as a whole, matches the painting.
    ``quality`` is the finished picture judged on layers the objective does not use
    (``hires.quality``), and ``cost`` the run's evaluations times megapixels, summed over its
    rungs: compare runs on those, at equal cost.
    ``cpu_share`` is the CPU time this process used over the run's wall time and the CPUs it may
    use: near 1 on a CPU with nothing else running, lower where other work took CPUs from it, so
    that a comparison of two runs that were not equally served can be seen for what it is.
    """

    name: str
    seconds: tuple[float, ...]
    losses: tuple[float, ...]
    coarse_loss: float | None = None
    cpu_share: float | None = None
    quality: Quality | None = None
    cost: float = 0.0

    def time_to_reach(self, loss: float) -> float | None:
        """The first time at which the loss was at or below ``loss``, or None."""
        for seconds, value in zip(self.seconds, self.losses):
            if value <= loss:
                return seconds
        return None


def best_time_ratio(single: Curve, ladder: Curve) -> tuple[float, float, float] | None:
    """The single rung's reading that the ladder came closest to beating, as a ratio of times.

    For each reading of the single rung (seconds, loss), the time the ladder took to reach that
    loss over the single rung's seconds; returns the smallest ``(ratio, seconds, loss)``, or None
    where the ladder reached none of them. It answers: had the single rung been stopped at any
    of its readings, how fast would the ladder have caught up?
    """
    ratios = []
    for seconds, loss in zip(single.seconds, single.losses):
        reached = ladder.time_to_reach(loss)
        if reached is not None and seconds > 0:
            ratios.append((reached / seconds, seconds, loss))
    return min(ratios) if ratios else None


class _TimedReporter(SilentReporter):
    """Records the top rung's loss and the time since the render started."""

    def __init__(self, top_index: int) -> None:
        self.top_index = top_index
        self.start = time.perf_counter()
        self.points: list[tuple[float, float]] = []
        self.offset = 0.0
        self.rungs: list[tuple[int, int]] = []  # (pixels, evaluations) of each finished rung

    def rung_started(self, plan) -> None:
        if plan.index == self.top_index:
            self.offset = time.perf_counter() - self.start

    def chunk(self, plan, progress: Progress) -> None:
        if plan.index == self.top_index:
            self.points.append((self.offset + progress.seconds, progress.terms.total))

    def rung_finished(self, result) -> None:
        evaluations = result.history[-1].evaluations if result.history else 0
        self.rungs.append((result.plan.pixels, evaluations))


def _run_curve(name: str, job: RenderJob, top_index: int) -> Curve:
    reporter = _TimedReporter(top_index)
    wall, cpu = time.perf_counter(), time.process_time()
    render(job, reporter, restart=True)  # a leftover state folder (an interrupted bench) must not be timed as a resume
    share = (time.process_time() - cpu) / max(time.perf_counter() - wall, 1e-9) / _usable_cpus()
    return Curve(name, tuple(p[0] for p in reporter.points), tuple(p[1] for p in reporter.points),
                 cpu_share=share, cost=cost_of(reporter.rungs))


def losses_at_size(content: Path, style: Path, pictures: Sequence[Path], settings: RenderSettings,
                   long_edge_px: int) -> tuple[float, ...]:
    """The total loss of each finished picture shrunk to ``long_edge_px``, the objective of a rung that size.

    At a small size the network's deepest layers see the whole picture, so this scores the
    large-scale layout of strokes that a loss at the full size cannot see. The objective is
    built once for all the pictures.
    """
    backbone, _ = choose_backbone(settings)
    settings = replace(settings, ladder=replace(settings.ladder, rungs=(Rung(long_edge_px, 1),)))
    photo, painting = (images.read_image(path) for path in (content, style))
    plan = plan_ladder(settings, backbone, photo.shape[:2], [painting.shape[:2]])[0]
    spec = loss_spec(settings, plan.rung)
    extractor = make_extractor(backbone, spec)
    targets = compute_targets(extractor, spec, resize(to_tensor(photo), plan.height, plan.width),
                              [resize(to_tensor(painting), *plan.style_shapes[0])])
    loss_function = make_loss_function(extractor, spec, targets)
    shrunk = (resize(to_tensor(images.read_image(picture)), plan.height, plan.width) for picture in pictures)
    return tuple(float(loss_function(image).total) for image in shrunk)


def compare_ladder_to_single(
    content: Path, style: Path, *, settings: RenderSettings, ladder_rungs: tuple[Rung, ...],
    single_iterations: int, folder: Path,
) -> tuple[Curve, Curve]:
    """Runs the ladder and the single rung on the same target size; returns their loss curves.

    Both use the same weights and targets at the target size, so their losses compare directly.
    The ladder's curve starts at its top rung, timed from the start of its first rung. Both
    finished pictures are also scored at the ladder's first size (``Curve.coarse_loss``).
    """
    top = ladder_rungs[-1].long_edge_px
    settings = replace(settings, stop_gain=0.0)  # both run the iterations asked for: the costs compared are those
    single = replace(settings, ladder=replace(settings.ladder, rungs=(Rung(top, single_iterations),)))
    ladder = replace(settings, ladder=replace(settings.ladder, rungs=ladder_rungs))
    curves = []
    for name, chosen, index in (("single", single, 0), ("ladder", ladder, len(ladder_rungs) - 1)):
        job = RenderJob(content, (style,), folder / f"{name}.png", chosen, overwrite=True, save_rungs=False)
        curves.append(_run_curve(name, job, index))
    first = ladder_rungs[0].long_edge_px
    pictures = [folder / f"{c.name}.png" for c in curves]
    if first < top:
        scores = losses_at_size(content, style, pictures, settings, first)
        curves = [replace(c, coarse_loss=score) for c, score in zip(curves, scores)]
    backbone, _ = choose_backbone(settings)
    judge = Judge(backbone, images.read_image(content), images.read_image(style),
                  used=[settings.content_layer, *(name for name, _ in settings.style_layers)],
                  style_scale=settings.ladder.style_scale)
    curves = [replace(c, quality=judge(images.read_image(picture))) for c, picture in zip(curves, pictures)]
    return curves[0], curves[1]


# ---------------------------------------------------------------------------------------------
# `hires bench`: the objective's cost on this machine, side by side in one run
# ---------------------------------------------------------------------------------------------

# Nominal peaks from NVIDIA's data sheets, in TFLOP/s: (name contains, fp32, TF32 tensor cores
# dense (the data sheets' "with sparsity" figure halved), or None where there are none).
# Matched as whole words of the device name, in order, so the more specific names come first.
NOMINAL_GPU_PEAKS = (
    ("H100 PCIe", 51.2, 378.0),
    ("H100 NVL", 60.0, 417.5),
    ("H100", 67.0, 494.7),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H200 NVL", 60.0, 417.5),
    ("H200", 67.0, 494.7),  # SXM
    ("A100", 19.5, 156.0),
    ("L4", 30.3, 60.0),
    ("V100", 15.7, None),
    ("T4", 8.1, None),
)
PEAK_SOURCE = "nominal (NVIDIA data sheet)"
CPU_PEAK_REASON = (
    "no dependable peak for a CPU: it depends on its vector units (AVX2 or AVX-512, FMA ports), "
    "clocks and turbo under load, which neither /proc/cpuinfo nor TensorFlow reports")


@dataclass(frozen=True)
class Machine:
    """Where the bench ran.

    Attributes:
        cpu: the CPU model (/proc/cpuinfo, else ``platform``).
        logical_cpus: ``os.cpu_count()``.
        usable_cpus: the CPUs this process may run on (its affinity mask).
        gpus: the names of the GPUs TensorFlow sees; the bench runs on the first, else the CPU.
        tensorflow: TensorFlow's version.
        tf32: whether TensorFlow may use TF32 for fp32 matmuls and convolutions (its default;
            it matters only on GPUs with TF32 tensor cores).
    """

    cpu: str
    logical_cpus: int
    usable_cpus: int
    gpus: tuple[str, ...]
    tensorflow: str
    tf32: bool


@dataclass(frozen=True)
class Peak:
    """The device's nominal peak, or why it is unknown (``tflops`` None, ``reason`` says why)."""

    tflops: float | None
    precision: str | None  # "fp32", "tf32" or "bf16": the arithmetic the convolutions run in
    fp32_tflops: float | None
    source: str | None
    reason: str | None


@dataclass(frozen=True)
class EvaluationTiming:
    """One objective evaluation (value and gradient, compiled) at one size.

    Attributes:
        first_call_seconds: the first call, which traces and compiles; not in the median.
        runs_seconds: each warm call.
        seconds_per_evaluation: the median of ``runs_seconds``.
        flops_per_evaluation: from the layer shapes (``hires.flops.count_flops``).
        peak_fraction: achieved over nominal peak; None where the peak is unknown.
    """

    long_edge_px: int
    height_px: int
    width_px: int
    megapixels: float
    first_call_seconds: float
    runs_seconds: tuple[float, ...]
    seconds_per_evaluation: float
    megapixel_evaluations_per_second: float
    flops_per_evaluation: int
    gflops_per_second: float
    peak_fraction: float | None


@dataclass(frozen=True)
class OptimizerComparison:
    """L-BFGS for some iterations, then Adam for exactly as many evaluations, from the content image.

    Evaluations count value-and-gradient calls as ``OptimizeResult.evaluations`` does (L-BFGS's
    include the one at the start); each optimiser's one extra call to choose its gradient scale
    is in neither. Totals are ``OptimizeResult.terms.total``; seconds include tracing.
    """

    long_edge_px: int
    height_px: int
    width_px: int
    initial_total: float
    lbfgs_iterations: int
    lbfgs_evaluations: int
    evaluations_per_iteration: float
    lbfgs_total: float
    lbfgs_seconds: float
    adam_preset: str
    adam_steps: int
    adam_evaluations: int
    adam_total: float
    adam_seconds: float


@dataclass(frozen=True)
class LoopOverhead:
    """What L-BFGS's own loop costs beside its evaluations, eager and compiled (``core.compiled``).

    Per iteration: the wall time of the chunks after the first, less their evaluations at this
    size's measured seconds per evaluation. The first chunk is left out (it traces); its time
    beyond its evaluations is ``compile_seconds``. Both runs in the same process, from the same
    image, with the same objective.
    """

    long_edge_px: int
    iterations: int
    chunk_iterations: int
    seconds_per_evaluation: float
    eager_overhead_per_iteration_seconds: float
    compiled_overhead_per_iteration_seconds: float
    compile_seconds: float
    eager_evaluations_per_iteration: float
    compiled_evaluations_per_iteration: float


@dataclass(frozen=True)
class TilingComparison:
    """Seconds per megapixel-evaluation tiled (``core.tiles``) over untiled, at the largest size.

    The tiled fields are None, and ``reason`` says why, when the size is too small to cut.
    The untiled figure is this run's whole-image timing at that size (with XLA under ``--xla``).
    """

    long_edge_px: int
    height_px: int
    width_px: int
    untiled_seconds_per_megapixel_evaluation: float
    tile_px: int | None = None
    tiles: int | None = None
    tiled_first_call_seconds: float | None = None
    tiled_seconds_per_megapixel_evaluation: float | None = None
    ratio: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BenchReport:
    """Everything ``hires bench`` measured; ``to_json`` is its JSON document."""

    machine: Machine
    backbone: str
    backbone_note: str
    device: str
    xla: bool  # the size timings were compiled with XLA
    peak: Peak
    sizes: tuple[EvaluationTiming, ...]
    lbfgs_vs_adam: OptimizerComparison
    tiling: TilingComparison
    loop: LoopOverhead | None = None
    # The 1-minute load average as the run started and as it ended (None where the system does
    # not say). The run's own threads raise the second; a high first one means other work was
    # running, and may have shared the CPUs with the bench.
    load_average: tuple[float, float] | None = None
    precision: str = "float32"  # the network's arithmetic (--precision)

    def to_json(self) -> dict:
        """A JSON-ready dict: the dataclasses' fields by name, tuples as lists; the compiled loop's
        overhead per iteration also at the top level, as ``lbfgs_overhead_per_iteration_seconds``."""
        overhead = self.loop.compiled_overhead_per_iteration_seconds if self.loop else None
        return {"schema": "hires-bench/2", "lbfgs_overhead_per_iteration_seconds": overhead, **asdict(self)}


@dataclass(frozen=True)
class BenchProblem:
    """The objective at one size: the demo picture as content (and initial image), the demo painting as style."""

    long_edge_px: int
    spec: LossSpec
    extractor: Extractor
    targets: Targets
    content: tf.Tensor  # (1, H, W, 3)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.content.shape[1]), int(self.content.shape[2])

    @property
    def megapixels(self) -> float:
        return self.shape[0] * self.shape[1] / 1e6


# The bench times whole-image evaluations of a drawn picture: at 16384x12288 px that is already
# about 200 GiB of activations; a larger size would only exhaust memory drawing its picture.
MAX_BENCH_PX = 16384


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"256,512"`` -> ``(256, 512)``.

    Raises:
        HiresError: for anything but comma-separated whole numbers from 16 to MAX_BENCH_PX.
    """
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise HiresError(f"--sizes takes long edges in pixels separated by commas, e.g. 256,512; not {text!r}") from None
    bad = [size for size in sizes if not 16 <= size <= MAX_BENCH_PX]
    if bad:
        raise HiresError(f"--sizes: each long edge must be between 16 and {MAX_BENCH_PX} px, not {bad[0]} "
                         "(the bench evaluates whole images; renders beyond that run in tiles)")
    return sizes


def describe_machine() -> Machine:
    """The CPU, the GPUs TensorFlow sees, and TensorFlow's version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = _usable_cpus()
    gpus = tuple(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                 for gpu in tf.config.list_physical_devices("GPU"))
    return Machine(cpu, os.cpu_count() or 1, usable, gpus, tf.__version__,
                   bool(tf.config.experimental.tensor_float_32_execution_enabled()))


def find_peak(machine: Machine, precision: str = "float32") -> Peak:
    """The nominal peak of the device the bench runs on (the first GPU, else the CPU), if known.

    ``precision`` is the network's ("float32" or "bfloat16"); mixed precision runs most of the
    FLOPs in bfloat16, whose dense tensor-core peak is twice TF32's on the GPUs listed with one.
    """
    if not machine.gpus:
        return Peak(None, None, None, None, CPU_PEAK_REASON)
    name = machine.gpus[0]
    for pattern, fp32, tf32 in NOMINAL_GPU_PEAKS:
        if re.search(rf"\b{re.escape(pattern)}\b", name, re.IGNORECASE):  # "L4" is not "L40S"
            if precision == "bfloat16":
                if tf32 is None:
                    return Peak(None, None, fp32, None, f"{name} has no bfloat16 tensor cores")
                return Peak(2 * tf32, "bf16", fp32, PEAK_SOURCE, None)
            if machine.tf32 and tf32 is not None:
                # TensorFlow runs fp32 convolutions on TF32 tensor cores by default on these.
                return Peak(tf32, "tf32", fp32, PEAK_SOURCE, None)
            return Peak(fp32, "fp32", fp32, PEAK_SOURCE, None)
    return Peak(None, None, None, None, f"no nominal peak known for {name}")


def make_problem(backbone: Backbone, spec: LossSpec, *, long_edge_px: int, stride: int) -> BenchProblem:
    """The demo picture and painting at the rung shape of ``long_edge_px``, and the targets there.

    Sides are multiples of ``stride`` and keep the demo's 4:3, as a render's rung would.
    """
    height, width = rung_shape(_DEMO_HEIGHT_PX, _DEMO_WIDTH_PX, long_edge_px, multiple=stride)
    content = tf.constant(draw_demo_content(width, height)[None])
    style = tf.constant(draw_demo_style(width, height)[None])
    extractor = make_extractor(backbone, spec)
    targets = compute_targets(extractor, spec, content, [style])
    return BenchProblem(long_edge_px, spec, extractor, targets, content)


def _time_calls(call: Callable[[], tuple[tf.Tensor, tf.Tensor]], repeats: int) -> tuple[float, tuple[float, ...]]:
    """The first call's seconds (tracing, compiling, autotuning), then ``repeats`` warm calls' seconds."""

    def timed() -> float:
        start = time.perf_counter()
        value, gradient = call()
        # Wait for the device: reading a scalar that depends on the gradient does.
        float(value)
        float(tf.reduce_sum(gradient))
        return time.perf_counter() - start

    first = timed()
    return first, tuple(timed() for _ in range(repeats))


def time_evaluation(problem: BenchProblem, backbone: Backbone, peak: Peak, *, repeats: int,
                    xla: bool = False) -> EvaluationTiming:
    """Seconds per value-and-gradient evaluation of the whole image, compiled as renders compile it."""
    height, width = problem.shape
    loss_function = make_loss_function(problem.extractor, problem.spec, problem.targets)
    objective = WholeImageObjective(loss_function, jit_compile=xla)
    first, runs = _time_calls(lambda: objective.value_and_gradient(problem.content), repeats)
    seconds = statistics.median(runs)
    flops = count_flops(backbone, layer_names=problem.spec.layer_names,
                        style_layer_names=[name for name, _ in problem.spec.style_layers],
                        height_px=height, width_px=width).evaluation
    achieved = flops / seconds
    fraction = achieved / (peak.tflops * 1e12) if peak.tflops else None
    return EvaluationTiming(problem.long_edge_px, height, width, problem.megapixels, first, runs, seconds,
                            problem.megapixels / seconds, flops, achieved / 1e9, fraction)


def compare_optimizers(problem: BenchProblem, *, iterations: int, adam_preset: str = "seed-report") -> OptimizerComparison:
    """Runs L-BFGS for ``iterations``, then Adam for as many steps as L-BFGS used evaluations."""
    height, width = problem.shape
    loss_function = make_loss_function(problem.extractor, problem.spec, problem.targets)
    initial = float(loss_function(problem.content).total)
    start = time.perf_counter()
    lbfgs = minimize_lbfgs(loss_function, problem.content, iterations=iterations, chunk_iterations=iterations)
    lbfgs_seconds = time.perf_counter() - start
    start = time.perf_counter()
    adam = minimize_adam(loss_function, problem.content, iterations=lbfgs.evaluations,
                         settings=ADAM_PRESETS[adam_preset], chunk_iterations=lbfgs.evaluations)
    adam_seconds = time.perf_counter() - start
    return OptimizerComparison(
        problem.long_edge_px, height, width, initial, lbfgs.iterations, lbfgs.evaluations,
        lbfgs.evaluations / max(lbfgs.iterations, 1), lbfgs.terms.total, lbfgs_seconds,
        adam_preset, adam.iterations, adam.evaluations, adam.terms.total, adam_seconds)


def measure_loop(problem: BenchProblem, timing: EvaluationTiming, *, iterations: int, xla: bool,
                 chunk_iterations: int = 10) -> LoopOverhead | None:
    """L-BFGS's loop beside its evaluations, eager then compiled; None for fewer than two chunks."""
    if iterations < 2 * chunk_iterations:
        return None
    runs = []
    for compiled in (False, True):
        objective = whole_image_objective(problem.extractor, problem.spec, problem.targets, jit_compile=xla)
        marks = [(time.perf_counter(), 0, 0)]
        minimize_lbfgs(objective, problem.content, iterations=iterations, chunk_iterations=chunk_iterations,
                       compiled=compiled, callback=lambda p: marks.append((time.perf_counter(), p.iteration,
                                                                            p.evaluations)))
        (t0, _, _), (t1, i1, e1), (t2, i2, e2) = marks[0], marks[1], marks[-1]
        per_iteration = (t2 - t1) / (i2 - i1)
        evaluations = (e2 - e1) / (i2 - i1)
        # The first chunk less what its iterations cost later, and less its extra evaluations (the start's).
        first = (t1 - t0) - i1 * per_iteration - (e1 - i1 * evaluations) * timing.seconds_per_evaluation
        runs.append((per_iteration - evaluations * timing.seconds_per_evaluation, evaluations, first))
    (eager, eager_evaluations, _), (compiled_overhead, compiled_evaluations, compile_seconds) = runs
    return LoopOverhead(problem.long_edge_px, iterations, chunk_iterations, timing.seconds_per_evaluation, eager,
                        compiled_overhead, max(0.0, compile_seconds), eager_evaluations, compiled_evaluations)


def compare_tiling(problem: BenchProblem, backbone: Backbone, untiled: EvaluationTiming, *, stride: int,
                   repeats: int) -> TilingComparison:
    """Tiled (``core.tiles.TiledObjective``, tiles about half the long edge) against untiled cost per pixel."""
    height, width = problem.shape
    untiled_per_megapixel = untiled.seconds_per_evaluation / untiled.megapixels
    base = TilingComparison(problem.long_edge_px, height, width, untiled_per_megapixel)
    tile_px = max(2 * stride, round(max(height, width) / 2 / stride) * stride)
    plan = plan_tiles(height, width, tile_px=tile_px, backbone=backbone, layer_names=problem.spec.layer_names)
    if plan.tile_count == 1:
        return replace(base, tile_px=tile_px, tiles=1, reason="too small to cut into tiles")
    objective = TiledObjective(problem.extractor, problem.spec, problem.targets, plan)
    first, runs = _time_calls(lambda: objective.value_and_gradient(problem.content), repeats)
    tiled_per_megapixel = statistics.median(runs) / problem.megapixels
    return replace(base, tile_px=tile_px, tiles=plan.tile_count, tiled_first_call_seconds=first,
                   tiled_seconds_per_megapixel_evaluation=tiled_per_megapixel,
                   ratio=tiled_per_megapixel / untiled_per_megapixel)


def run_bench(
    backbone: Backbone, *, spec: LossSpec, sizes_px: Sequence[int], iterations: int, repeats: int = 5,
    xla: bool = False, backbone_note: str = "", log: Callable[[str], None] = lambda text: None,
) -> BenchReport:
    """Measures the objective's cost at each size, L-BFGS against Adam, and tiled against untiled.

    Args:
        backbone: the network.
        spec: the loss (layers, weights, pooling, precision), as a render's first rung has it.
        sizes_px: long edges; each image is the demo picture at the backbone's stride multiples.
        iterations: L-BFGS iterations of the optimiser comparison, run at the smallest size.
        repeats: warm evaluations per size; their median is reported.
        xla: time the whole-image evaluations compiled with XLA (the optimiser and
            tiling comparisons run as renders do, without).
        backbone_note: why this backbone, for the report.
        log: receives a line as each measurement starts.

    Returns:
        A ``BenchReport``. Nothing in it is a verdict: it measures.
    """
    if not sizes_px:
        raise HiresError("--sizes needs at least one long edge")
    if iterations < 1 or repeats < 1:
        raise HiresError(f"--iterations and --repeats must be 1 or more, not {iterations} and {repeats}")
    load_at_start = _load_average()
    machine = describe_machine()
    peak = find_peak(machine, spec.precision)
    _, stride = max(receptive_field(backbone, name) for name in spec.layer_names)
    timings, problems = [], {}
    for size in sizes_px:
        problems[size] = problem = make_problem(backbone, spec, long_edge_px=size, stride=stride)
        log(f"bench: {size} px ({problem.shape[1]}x{problem.shape[0]}): 1 + {repeats} evaluations")
        timings.append(time_evaluation(problem, backbone, peak, repeats=repeats, xla=xla))
    smallest, largest = min(sizes_px), max(sizes_px)
    log(f"bench: L-BFGS, {iterations} iterations, then Adam for as many evaluations, at {smallest} px")
    optimizers = compare_optimizers(problems[smallest], iterations=iterations)
    log(f"bench: L-BFGS's loop, eager then compiled, {iterations} iterations at {smallest} px")
    loop = measure_loop(problems[smallest], next(t for t in timings if t.long_edge_px == smallest),
                        iterations=iterations, xla=xla)
    log(f"bench: tiled against untiled at {largest} px")
    untiled = next(t for t in reversed(timings) if t.long_edge_px == largest)
    tiling = compare_tiling(problems[largest], backbone, untiled, stride=stride, repeats=repeats)
    device = f"GPU:0 ({machine.gpus[0]})" if machine.gpus else "CPU"
    load_at_end = _load_average()
    load = (load_at_start, load_at_end) if load_at_start is not None and load_at_end is not None else None
    return BenchReport(machine, backbone.name, backbone_note, device, xla, peak, tuple(timings),
                       optimizers, tiling, loop, load, spec.precision)


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load_average() -> float | None:
    """The 1-minute load average, or None where the system does not report one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
