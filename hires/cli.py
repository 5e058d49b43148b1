"""The ``hires`` command line: ``render`` and ``demo``.

Only this module turns errors into exit statuses: a HiresError (or the core's CoreError) is one
line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Callable, Literal, Optional

# Before TensorFlow is imported anywhere: keep its start-up chatter off the user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer

from core.choices import ADAM_PRESETS, POOLINGS, PRECISIONS
from hires.colour import PRESERVE_COLORS
from hires.config import (BACKBONE_CHOICES, DEFAULT_COARSE_STEP, DEFAULT_START_DETAIL, DEFAULT_START_NOISE, DEFAULT_STOP_GAIN,
                          DEFAULT_STYLE_ENLARGE)
from hires.errors import HiresError
from hires.ladder import OPTIMIZERS, UPSAMPLE_METHODS
from hires.stopping import silence_tensorflow

app = typer.Typer(
    help="Render photographs in the style of paintings at print sizes (Gatys et al. 2016, coarse to fine).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help text: "[default: 512]" is text here, not Rich markup
)


def _print_version(given: bool) -> None:
    if given:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"hires {version('hires')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("hires (not installed: no version recorded)")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Render photographs in the style of paintings at print sizes (Gatys et al. 2016, coarse to fine)."""


# Each set of choices is defined once, by the module that owns it (checked there too); the
# command line offers the same tuples.
Backbone = Literal[BACKBONE_CHOICES]
Optimizer = Literal[OPTIMIZERS]
Pooling = Literal[POOLINGS]
Precision = Literal[PRECISIONS]
Preserve = Literal[PRESERVE_COLORS]
Upsample = Literal[UPSAMPLE_METHODS]
AdamPreset = Literal[tuple(ADAM_PRESETS)]

# The options about the machine and the run, which render and batch share (never in configs).
DevicesOption = Annotated[str, typer.Option(help="Devices: all (every GPU, else the CPU), cpu, gpu, GPU indices such as 0,1, or names such as /gpu:0,/gpu:1. Several devices share each rung's tiles; TF_CONFIG spreads them over hosts.")]
MemoryOption = Annotated[Optional[float], typer.Option(help="Memory of each device in GiB, instead of what the machine reports; the planner tiles rungs to fit it.")]
TileOption = Annotated[Optional[int], typer.Option(help="Force tiles of this side (px) on every rung larger than it. [default: the planner's choice]")]
XlaOption = Annotated[bool, typer.Option("--xla/--no-xla", help="Compile whole-image evaluations with XLA (rungs of 256x192 px or more).")]
CheckpointOption = Annotated[float, typer.Option(help="Minutes between checkpoints within a rung (one is also written at the end of every rung and on SIGTERM/Ctrl-C).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
WeightsOption = Annotated[Optional[Path], typer.Option(help="VGG19 weights file (or set HIRES_VGG19_WEIGHTS).")]


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and finds its devices with file descriptor 2 silenced.

    TensorFlow's C++ start-up (absl's "All log messages before absl::InitializeLog()", a CUDA
    probe on machines without a GPU) writes past Python's sys.stderr, so only the descriptor
    can silence it. Python-level errors still surface: they are raised after it is restored.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def user_errors(command: Callable | None = None, *, resumable: bool = True) -> Callable:
    """Turns a HiresError or CoreError (or an OSError on a path) into one line on stderr and exit status 2.

    ``resumable``: whether an interrupted run keeps a checkpoint to resume (renders, batches),
    and the interrupt's message says so; a benchmark starts afresh every time.
    """
    if command is None:
        return functools.partial(user_errors, resumable=resumable)
    def after(exc: BaseException, restart: bool) -> str:
        if not resumable:
            return ""
        # --restart would throw the checkpoint away again: the command that resumes leaves it out.
        same = "the same command without --restart" if restart else "the same command"
        if not hasattr(exc, "state_folder"):  # stopped outside a render's rungs (a batch, loading)
            return f"; run {same} to resume from the last checkpoint"
        if exc.state_folder is None:
            return f"; it had not written a checkpoint yet, so {same} starts it afresh"
        return f"; the checkpoint in {exc.state_folder} is kept; run {same} to resume"

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from core.errors import CoreError

        try:
            import_tensorflow_quietly()
            return command(*args, **kwargs)
        except (HiresError, CoreError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a path the system refused where no check foresaw it: still one line
            if exc.filename is None:
                raise
            typer.echo(f"error: {exc.filename}: {exc.strerror or exc}; check the path", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            silence_tensorflow()
            typer.echo(f"interrupted{after(exc, bool(kwargs.get('restart')))}", err=True)
            raise typer.Exit(130) from None
        except BaseException as exc:
            from hires.stopping import RenderInterrupted

            if not isinstance(exc, RenderInterrupted):
                raise
            silence_tensorflow()
            typer.echo(f"terminated{after(exc, bool(kwargs.get('restart')))}", err=True)
            raise typer.Exit(exc.exit_status) from None

    return wrapper


def _reporter(quiet: bool):
    from hires.display import PlainReporter, RichReporter
    from hires.job import SilentReporter

    if quiet:
        return SilentReporter()
    return RichReporter() if sys.stderr.isatty() else PlainReporter()


def build_settings(config: Path | None, size: int | None, iterations: int | None, **overrides):
    """The settings of a render: the config's table, then the command line's options
    (``hires.config.merge_layers``: the one rule the batch's job files follow too).

    An option left out (None) is not given. The ladder is completed later, once the
    photograph's size is known (``hires.config.final_ladder``).
    """
    from hires.config import parse_blend, parse_style_layers, read_toml, settings_from_layers

    layers = [] if config is None else [(read_toml(config, f"config {config}"), f"config {config}")]
    given = {"size": size, "iterations": iterations, **overrides}
    table = {name: value for name, value in given.items() if value is not None}
    if "style_layers" in table:  # text on the command line: read here, so that errors name the option
        table["style_layers"] = parse_style_layers(table["style_layers"])
    if "style_blend" in table:
        table["style_blend"] = parse_blend(table["style_blend"], "--style-blend")
    return settings_from_layers([*layers, (table, "the command line")])


@app.command()
@user_errors
def render(
    content: Annotated[Path, typer.Argument(help="The photograph.", show_default=False)],
    styles: Annotated[list[Path], typer.Argument(help="One or more paintings.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .tif, .webp).")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A ladder config (TOML), e.g. configs/quick.toml.")] = None,
    size: Annotated[Optional[int], typer.Option(help="Long edge of the result in pixels, each side rounded to a multiple of the backbone's stride (16 px; --print gives exact pixels); ends the ladder. [default: 512, or the config's last rung]")] = None,
    iterations: Annotated[Optional[int], typer.Option(help="Iterations of the last rung.")] = None,
    backbone: Annotated[Optional[Backbone], typer.Option(help="Feature network; auto takes vgg19 when its weights are here, else vgg16-hed. [default: auto]")] = None,
    weights: WeightsOption = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Weight of the content term. [default: 1]")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style term. [default: 10]")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Weight of total variation (smoothness). [default: 0]")] = None,
    style_scale: Annotated[Optional[float], typer.Option(help="Style image's long edge relative to each rung's. [default: 1]")] = None,
    style_enlarge: Annotated[Optional[float], typer.Option(help=f"How far a painting smaller than --style-scale asks is enlarged: its size times (asked / its size) to this power; 1 keeps its strokes in proportion to the picture but soft, 0 keeps it sharp at its own size. [default: {DEFAULT_STYLE_ENLARGE:g}]")] = None,
    style_blend: Annotated[Optional[str], typer.Option(help="Weights of several styles, e.g. 0.7,0.3. [default: equal]")] = None,
    init: Annotated[Optional[str], typer.Option(help="First rung's start: content, noise, or an image path. [default: content]")] = None,
    optimizer: Annotated[Optional[Optimizer], typer.Option(help="lbfgs (the paper's) or adam. [default: lbfgs]")] = None,
    adam_preset: Annotated[Optional[AdamPreset], typer.Option(help="Adam's settings. [default: seed-report]")] = None,
    correction_pairs: Annotated[Optional[int], typer.Option(help="L-BFGS history length. [default: 10]")] = None,
    tolerance: Annotated[Optional[float], typer.Option(help="Stop an L-BFGS rung when an iteration improves the loss by less than this fraction (Adam rungs run every iteration). [default: 0, run every iteration]")] = None,
    stop_gain: Annotated[Optional[float], typer.Option(help=f"Stop an L-BFGS rung when 10 iterations improve the loss by less than this fraction (deterministic; a resume stops where the render would have). 0 runs every iteration. [default: {DEFAULT_STOP_GAIN}]")] = None,
    start_noise: Annotated[Optional[float], typer.Option(help=f"Standard deviation of the seeded noise added to each later rung's start, the rung below enlarged, for its fine texture to grow from: a head start for rungs of about 20 iterations, a grainier picture after many. 0 adds none. [default: {DEFAULT_START_NOISE:g}]")] = None,
    start_detail: Annotated[Optional[float], typer.Option(help=f"How much of the photograph's own detail that the rung below could not hold is added to each later rung's start: 1 all of it, 0 none (the rung draws it in). [default: {DEFAULT_START_DETAIL:g}]")] = None,
    coarse_step: Annotated[Optional[float], typer.Option(help=f"On each later L-BFGS rung, the step for the frequencies the rung below already rendered (its layout), against the step for the new detail: small keeps the layout and spends the rung on detail; 1 treats every frequency alike (plain pixels). Between 0.01 and 1. [default: {DEFAULT_COARSE_STEP:g}]")] = None,
    content_layer: Annotated[Optional[str], typer.Option(help="Layer of the content term. [default: block4_conv2]")] = None,
    style_layers: Annotated[Optional[str], typer.Option(help="Layers of the style term with weights, e.g. block1_conv1:1,block3_conv1:0.5 (weight 1 when omitted). [default: block1_conv1 ... block5_conv1, equal]")] = None,
    pooling: Annotated[Optional[Pooling], typer.Option(help="avg (the paper's) or max. [default: avg]")] = None,
    upsample: Annotated[Optional[Upsample], typer.Option(help="How a rung's result is enlarged for the next: bandlimited is bicubic without the copies of the rung's finest texture above its band, which would lock that texture to a grid of 2 px cells. [default: bandlimited]")] = None,
    precision: Annotated[Optional[Precision], typer.Option(help="The network's arithmetic: float32, or bfloat16 (mixed precision, for GPUs with bfloat16 tensor cores; Gram matrices, losses and L-BFGS stay float32). [default: float32]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the noise initial image and of --start-noise. [default: 0]")] = None,
    print_size: Annotated[Optional[str], typer.Option("--print", help="Print size, e.g. 24x36in, 50x70cm, 210x297mm: the photograph is fitted inside (the box turned to its orientation) at --dpi.")] = None,
    dpi: Annotated[Optional[float], typer.Option(help="Dots per inch for --print, written into the file. [default: 300 with --print]")] = None,
    bit_depth: Annotated[Optional[int], typer.Option(help="8 or 16 bits per sample (16: .png, .tif). [default: 8]")] = None,
    jpeg_quality: Annotated[Optional[int], typer.Option(help="Quality of .jpg and .webp outputs, 1-100. [default: 95]")] = None,
    preserve_colors: Annotated[Optional[Preserve], typer.Option(help="Keep the photograph's colours: luminance (transfer on luminance only) or histogram (recolour the painting first). [default: none]")] = None,
    max_input_megapixels: Annotated[Optional[float], typer.Option(help="Refuse larger input images (a 100-megapixel scan reads; each megapixel takes 12 MB). [default: 250]")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the state folder of an unfinished render of this output and start afresh.")] = False,
    checkpoint_minutes: CheckpointOption = 5.0,
    devices: DevicesOption = "all",
    memory_gb: MemoryOption = None,
    tile_px: TileOption = None,
    xla: XlaOption = True,
    plan: Annotated[bool, typer.Option("--plan", help="Print what would run (rungs, memory, time) and render nothing.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Render CONTENT in the style of STYLES, climbing the ladder of sizes to --size."""
    # A quoted ~ (--output='~/x.png') reaches us unexpanded; every path is expanded once, here,
    # so that what is checked is what is written.
    content, output, styles = content.expanduser(), output.expanduser(), [s.expanduser() for s in styles]
    config, weights = _expand(config), _expand(weights)
    if init is not None and init not in ("content", "noise"):
        init = str(Path(init).expanduser())
    if not checkpoint_minutes > 0:
        raise HiresError(f"--checkpoint-minutes must be more than 0, not {checkpoint_minutes}")
    settings = build_settings(
        config, size, iterations, backbone=backbone, weights=str(weights) if weights else None,
        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        style_scale=style_scale, style_enlarge=style_enlarge, style_blend=style_blend, init=init,
        optimizer=optimizer, adam_preset=adam_preset, correction_pairs=correction_pairs, tolerance=tolerance,
        stop_gain=stop_gain, start_noise=start_noise, start_detail=start_detail, coarse_step=coarse_step, content_layer=content_layer, style_layers=style_layers,
        pooling=pooling, precision=precision, upsample=upsample, seed=seed, print_size=print_size, dpi=dpi,
        bit_depth=bit_depth, jpeg_quality=jpeg_quality, preserve_colors=preserve_colors,
        max_input_megapixels=max_input_megapixels)
    from hires.devices import MachineOptions
    from hires.job import RenderJob

    machine = MachineOptions(devices=devices, memory_gb=memory_gb, tile_px=tile_px, xla=xla)
    job = RenderJob(content, tuple(styles), output, settings, overwrite=overwrite, machine=machine)
    if plan:
        _print_plan(job, restart=restart)
        return
    _run(job, quiet, restart=restart, checkpoint_minutes=checkpoint_minutes)


def _expand(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser()


def _run(job, quiet: bool, *, restart: bool = False, checkpoint_minutes: float = 5.0) -> None:
    from hires.devices import start_workers
    from hires.render import render as render_job
    from hires.stopping import stop_on_signals

    start_workers()  # with TF_CONFIG: before TensorFlow starts, as its collectives require
    reporter = _reporter(quiet)
    # SIGTERM (a scheduler's pre-emption, `kill`) checkpoints and exits 143, as Ctrl-C exits 130.
    try:
        with stop_on_signals():
            result = render_job(job, reporter, restart=restart, checkpoint_seconds=60.0 * checkpoint_minutes)
    finally:
        if hasattr(reporter, "close"):
            reporter.close()
    if not result.width_px:  # a non-chief worker of TF_CONFIG: the chief writes the files
        typer.echo(f"this worker's tiles are done ({result.seconds:.0f} s); the chief writes {result.output}")
        return
    typer.echo(f"wrote {result.output} ({result.width_px}x{result.height_px}, "
               f"{result.backbone}, {result.seconds:.0f} s)")


def _pairs(plan) -> str:
    """The plan's L-BFGS history length; "-" for Adam, which keeps none."""
    return str(plan.memory.correction_pairs) if plan.rung.optimizer == "lbfgs" else "-"


def _own_weights(rung, ladder) -> list[str]:
    """The loss weights a resolved rung holds other than the ladder's, in words."""
    return [f"{name.replace('_', ' ')} {getattr(rung, name):g} (the ladder's: {getattr(ladder, name):g})"
            for name in ("content_weight", "style_weight", "tv_weight") if getattr(rung, name) != getattr(ladder, name)]


def _print_plan(job, *, restart: bool = False) -> None:
    from hires.display import format_seconds
    from hires.plan import make_plan
    from hires.quality import cost_of
    from hires.speed import DAY_SECONDS

    # What render does before its first rung, checks included, so that a printed plan is one it runs.
    ready = make_plan(job, restart=restart)
    typer.echo(ready.why)
    for note in ready.inputs.notes:
        typer.echo(note)
    typer.echo(ready.devices.description)
    if ready.target is not None:
        typer.echo(ready.target.description)
    for note in ready.enlarged:
        typer.echo(note)
    typer.echo(f"{'rung':>4}  {'size':>11}  {'iterations':>10}  {'optimizer':>9}  {'pairs':>5}  "
               f"{'evaluation':>18}  {'memory':>10}  {'time':>7}")
    for p, seconds in zip(ready.rungs, ready.seconds):
        how = "whole image" if p.memory.tile_px is None else f"{p.memory.tiles} tiles of {p.memory.tile_px}"
        typer.echo(f"{p.index + 1:>4}  {p.width:>5}x{p.height:<5}  {p.rung.iterations:>10}  "
                   f"{p.rung.optimizer:>9}  {_pairs(p):>5}  {how:>18}  "
                   f"{p.memory_bytes / 2**30:>6.2f} GiB  {format_seconds(seconds):>7}")
        if p.memory.note:
            typer.echo(f"      rung {p.index + 1}: {p.memory.note}")
        for words in _own_weights(p.rung, ready.ladder):
            typer.echo(f"      rung {p.index + 1}: {words}")
    xla = [str(p.index + 1) for p in ready.rungs if p.xla]
    loop = [str(p.index + 1) for p in ready.rungs if p.compiled_loop]
    typer.echo(f"compiled: XLA on {'rungs ' + ', '.join(xla) if xla else 'no rung'}; the L-BFGS loop on "
               f"{'rungs ' + ', '.join(loop) if loop else 'no rung'} (only where it pays)")
    work = cost_of([(p.pixels, p.rung.iterations) for p in ready.rungs])  # the unit ladders are judged in
    typer.echo(f"work: {work:.3g} megapixel-iterations (each rung's pixels times its iterations)")
    from core.optimize import STOP_WINDOW  # here, not at the top: importing TensorFlow waits for the log settings

    gain = ready.settings.stop_gain
    if gain > 0 and any(p.rung.optimizer == "lbfgs" and p.rung.iterations > STOP_WINDOW for p in ready.rungs):
        typer.echo(f"stops early: an L-BFGS rung ends when 10 iterations lower the loss by less than {gain:.2%}, "
                   f"so work and time are at most these (--stop-gain {gain:g}; 0 runs every iteration)")
    total = sum(ready.seconds)
    typer.echo(f"time: about {format_seconds(total)} in all, from {ready.rate_source}")
    if total > DAY_SECONDS:
        typer.echo(f"warning: this render would take about {total / DAY_SECONDS:.1f} days on this machine. "
                   "A GPU (--devices), fewer iterations on the largest rungs (a config), or a smaller "
                   "--size, --print or --dpi shortens it; it checkpoints, so it may also be stopped and "
                   "resumed.")
    typer.echo(f"each rung keeps the photograph's aspect ratio, sides rounded to multiples of "
               f"{ready.rungs[0].stride} px (the backbone's total stride)")
    if ready.resume.would:
        typer.echo(ready.resume.would)


@app.command()
@user_errors
def demo(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the picture. [default: hires-demo.png, replaced by each run of the demo]", show_default=False)] = None,
    backbone: Annotated[Backbone, typer.Option(help="Feature network.")] = "auto",
    weights: WeightsOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output named with -o.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Render a built-in example (pictures drawn in code; no network, no files needed)."""
    from hires import images
    from hires.config import check_settings
    from hires.demo_images import draw_demo_content, draw_demo_style
    from hires.job import RenderJob
    from hires.outputs import contact_sheet_path, rungs_folder

    # Its own default output is the demo's to replace: the README's first command runs twice.
    output, overwrite = (DEMO_OUTPUT, True) if output is None else (output.expanduser(), overwrite)
    images.check_output_path(output, overwrite=overwrite)
    settings = replace(demo_settings(), backbone=backbone, weights=str(weights.expanduser()) if weights else None)
    check_settings(settings, "the command line")
    with tempfile.TemporaryDirectory(prefix="hires-demo-") as folder:
        content, style = Path(folder) / "content.png", Path(folder) / "style.png"
        images.write_image(content, draw_demo_content(512, 384))
        images.write_image(style, draw_demo_style(512, 384))
        _run(RenderJob(content, (style,), output, settings, overwrite=overwrite), quiet)
    typer.echo(f"the demo's picture is at {output.resolve()}")
    typer.echo(f"its contact sheet (the inputs, every rung and its loss curve): {contact_sheet_path(output).resolve()}")
    typer.echo(f"each rung's picture: {rungs_folder(output).resolve()}/")


DEMO_OUTPUT = Path("hires-demo.png")


def demo_settings():
    """The quick ladder (configs/quick.toml), built in so that the demo needs no files."""
    from hires.config import default_settings
    from hires.ladder import Ladder, Rung

    rungs = (Rung(128, 100), Rung(192, 40), Rung(256, 30))
    return replace(default_settings(), ladder=Ladder(rungs=rungs))


@app.command()
@user_errors
def batch(
    job_file: Annotated[Path, typer.Argument(help="A TOML job file: a job table per picture (content, style, output, any picture setting).", show_default=False)],
    shard: Annotated[Optional[str], typer.Option(help="Run only shard I of N (from 1), e.g. 2/4: the jobs k (from 0) with k mod N = I-1. Default: the Slurm array task's (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT), else every job.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Render again the jobs whose output exists.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Start unfinished jobs over instead of continuing from their saved state.")] = False,
    summary: Annotated[Optional[Path], typer.Option(help="Where to write the JSON summary. Default: beside the job file, JOBS.summary.json (JOBS.shard-I-of-N.summary.json for a shard).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (job lines and the summary still print).")] = False,
    checkpoint_minutes: CheckpointOption = 5.0,
    devices: DevicesOption = "all",
    memory_gb: MemoryOption = None,
    tile_px: TileOption = None,
    xla: XlaOption = True,
) -> None:
    """Render every job of JOB_FILE in turn; several processes or machines may share one job file.

    Exit status 0 when no job failed, 1 when one did, 2 when the job file is wrong (then
    nothing is rendered).
    """
    from hires import batch as batch_module
    from hires.devices import MachineOptions
    from hires.stopping import stop_on_signals

    if not checkpoint_minutes > 0:
        raise HiresError(f"--checkpoint-minutes must be more than 0, not {checkpoint_minutes}")
    _check_machine_options(devices, memory_gb, tile_px)
    chosen = batch_module.choose_shard(shard, os.environ)
    jobs = batch_module.select_shard(batch_module.load_jobs(job_file), chosen)
    summary_file = summary if summary is not None else batch_module.summary_path(job_file, chosen)
    typer.echo(f"{job_file}: {len(jobs)} job{'s' if len(jobs) != 1 else ''}"
               f"{f' in shard {chosen}' if chosen else ''}", err=True)
    machine = MachineOptions(devices=devices, memory_gb=memory_gb, tile_px=tile_px, xla=xla)

    # SIGTERM (Slurm's scancel, time limit, pre-emption) checkpoints the job that is rendering,
    # releases its lock and writes the summary, as Ctrl-C does.
    with stop_on_signals():
        batch_module.check_plans(jobs, job_file=job_file, overwrite=overwrite, machine=machine,
                                 log=lambda text: typer.echo(text, err=True))
        result = batch_module.run_batch(
            jobs, job_file=job_file, shard=chosen, summary_file=summary_file, overwrite=overwrite,
            restart=restart, reporter_for=lambda: _reporter(quiet), log=lambda text: typer.echo(text, err=True),
            checkpoint_seconds=60.0 * checkpoint_minutes, machine=machine)
    _print_batch_summary(result, summary_file)
    if result.interruption is not None:
        raise result.interruption  # user_errors: a line on stderr, exit status 130 or 143
    if result.failed:
        raise typer.Exit(1)


def _check_machine_options(devices: str, memory_gb: float | None, tile_px: int | None) -> None:
    """Refuses bad --devices, --memory-gb and --tile-px once, before any job, not once per job."""
    from hires.devices import find_devices

    find_devices(devices, memory_gb=memory_gb)
    if tile_px is not None and tile_px < 1:  # the least size depends on each job's backbone and layers
        raise HiresError(f"--tile-px must be a number of pixels (at least twice the backbone's stride), not {tile_px}")


def _print_batch_summary(result, summary_file: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    title = f"{escape(str(result.job_file))}{f' (shard {result.shard})' if result.shard else ''}"
    table = Table(title=title)
    for name, justify in (("job", "right"), ("output", "left"), ("status", "left"),
                          ("seconds", "right"), ("message", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    colours = {"done": "green", "failed": "red", "locked-elsewhere": "yellow"}
    advice = ""
    for o in result.outcomes:
        status = f"[{colours[o.status]}]{o.status}[/]" if o.status in colours else o.status
        message = o.message
        if o.status == "locked-elsewhere" and "; " in message:  # the advice, once below the table
            message, advice = message.split("; ", 1)
        table.add_row(str(o.job), escape(o.output), status, f"{o.seconds:.0f}", escape(message))
    Console().print(table)
    if advice:
        typer.echo(f"locked-elsewhere: {advice}")
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    typer.echo(f"{counts}; summary in {summary_file}")


bench_app = typer.Typer(invoke_without_command=True, rich_markup_mode=None)  # help: bench's docstring
app.add_typer(bench_app, name="bench")


@bench_app.callback()
@user_errors(resumable=False)
def bench(
    ctx: typer.Context,
    backbone: Annotated[Backbone, typer.Option(help="Feature network; auto takes vgg19 when its weights are here, else vgg16-hed.")] = "auto",
    weights: WeightsOption = None,
    sizes: Annotated[str, typer.Option(help="Long edges in pixels to time, comma-separated (the demo picture, 4:3, sides rounded to the backbone's stride).")] = "256,512",
    iterations: Annotated[int, typer.Option(help="L-BFGS iterations of the L-BFGS/Adam comparison, at the smallest size.")] = 20,
    repeats: Annotated[int, typer.Option(help="Warm evaluations timed per size (the median is reported); the first, compiling call is timed apart.")] = 5,
    xla: Annotated[bool, typer.Option("--xla/--no-xla", help="Compile the timed whole-image evaluations with XLA, as render --xla does.")] = False,
    precision: Annotated[Precision, typer.Option(help="The network's arithmetic, as render --precision.")] = "float32",
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as one JSON document on stdout instead of the table (progress still goes to stderr).")] = False,
    json_file: Annotated[Optional[Path], typer.Option(help="Also write the JSON document to this file.")] = None,
) -> None:
    """Benchmarks: measure on this machine and report (never pass/fail).

    Without a command, time the objective at each of --sizes: seconds per evaluation (value
    and gradient, compiled, warm: the median of --repeats), megapixel-evaluations and GFLOP per
    second (FLOPs counted from the backbone's layer shapes) and the fraction of the device's
    nominal peak where one is known; L-BFGS's evaluations per iteration and its loss after
    --iterations against Adam's after as many evaluations, at the smallest size; tiled against
    untiled seconds per megapixel-evaluation, at the largest. A table, or JSON with --json.
    """
    if ctx.invoked_subcommand is not None:
        _refuse_bench_options(ctx)
        return
    import json

    from hires.bench import parse_sizes, run_bench
    from hires.config import check_settings, default_settings
    from hires.plan import choose_backbone, loss_spec

    chosen_sizes = parse_sizes(sizes)
    settings = replace(default_settings(), backbone=backbone, weights=str(weights) if weights else None,
                       precision=precision)
    check_settings(settings, "the command line")
    if json_file is not None:
        _check_writable(json_file, "--json-file")
    network, why = choose_backbone(settings)
    report = run_bench(network, spec=loss_spec(settings, settings.ladder.resolve(0)), sizes_px=chosen_sizes,
                       iterations=iterations, repeats=repeats, xla=xla, backbone_note=why,
                       log=lambda text: typer.echo(text, err=True))
    document = json.dumps(report.to_json(), indent=2)
    if json_output:
        typer.echo(document)
    else:
        _print_bench(report)
    if json_file is not None:
        _write_text(json_file, document + "\n")
    _record_rate(report, xla)


def _record_rate(report, xla: bool) -> None:
    """Keeps the measured rate for --plan's time estimates (a failure to keep it is only told)."""
    from hires import speed

    key = speed.machine_key(report.backbone, report.precision, xla, "GPU" if report.machine.gpus else "CPU")
    points = [(t.height_px * t.width_px, t.gflops_per_second * 1e9) for t in report.sizes]
    try:
        path = speed.record(key, points, note=f"hires bench on {report.device}")
    except OSError as exc:
        typer.echo(f"warning: the measured rate could not be kept for --plan ({exc})", err=True)
        return
    typer.echo(f"rate kept for --plan's time estimates in {path}", err=True)


def _refuse_bench_options(ctx: typer.Context) -> None:
    """Options of ``hires bench`` itself given before a subcommand would be silently ignored."""
    given = [param.opts[0] for param in ctx.command.params
             if getattr(ctx.get_parameter_source(param.name), "name", "") == "COMMANDLINE"]
    if given:
        raise HiresError(f"{', '.join(given)} belong to hires bench's own timing, not to "
                         f"'hires bench {ctx.invoked_subcommand}'; give that command's options after its name "
                         f"(hires bench {ctx.invoked_subcommand} --help lists them)")


def _check_writable(path: Path, option: str) -> None:
    """Refuses, before a long measurement, a file that could not be written after it."""
    folder = path.expanduser().absolute().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise HiresError(f"{option} {path}: the folder {folder} does not exist or is not writable; "
                         "create it or choose another path")
    if path.is_dir():
        raise HiresError(f"{option} {path} is a folder; give a file name such as report.json")


def _write_text(path: Path, text: str) -> None:
    """Writes a report whole or not at all, as every other file hires writes."""
    from hires.files import write_text_atomically

    try:
        write_text_atomically(path, text)
    except OSError as exc:
        raise HiresError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _print_bench(report) -> None:
    from rich.console import Console
    from rich.table import Table

    machine, peak = report.machine, report.peak
    console = Console()
    gpus = ", ".join(machine.gpus) if machine.gpus else "no GPU"
    console.print(f"machine: {machine.cpu}, {machine.logical_cpus} logical CPUs ({machine.usable_cpus} usable), "
                  f"{gpus}; TensorFlow {machine.tensorflow}", markup=False)
    if report.load_average is not None:
        start, end = report.load_average
        busy = " (the minute before it was busy: other work may have shared the CPUs)" if start >= 0.5 else ""
        console.print(f"load average {start:.1f} before the run, {end:.1f} after it{busy}", markup=False)
    console.print(report.backbone_note, markup=False)
    table = Table(title=f"one evaluation (value and gradient) on {report.device}"
                        f"{', XLA' if report.xla else ''}{', bfloat16' if report.precision == 'bfloat16' else ''}")
    for name in ("size", "MP", "first call s", "s / eval", "MP·eval / s", "GFLOP / eval", "GFLOP/s", "of peak"):
        table.add_column(name, justify="right")
    for t in report.sizes:
        fraction = f"{t.peak_fraction:.1%}" if t.peak_fraction is not None else "-"
        table.add_row(f"{t.width_px}x{t.height_px}", f"{t.megapixels:.3f}", f"{t.first_call_seconds:.2f}",
                      f"{t.seconds_per_evaluation:.3f}", f"{t.megapixel_evaluations_per_second:.3f}",
                      f"{t.flops_per_evaluation / 1e9:.1f}", f"{t.gflops_per_second:.1f}", fraction)
    console.print(table)
    if peak.tflops is None:
        console.print(f"peak: unknown ({peak.reason})", markup=False)
    else:
        console.print(f"peak: {peak.tflops:g} TFLOP/s {peak.precision}, {peak.source}"
                      f"{f'; fp32 {peak.fp32_tflops:g}' if peak.precision != 'fp32' else ''}", markup=False)
    o = report.lbfgs_vs_adam
    console.print(f"at {o.width_px}x{o.height_px}, from the content image (loss {o.initial_total:.4g}):", markup=False)
    console.print(f"  L-BFGS: {o.lbfgs_iterations} iterations, {o.lbfgs_evaluations} evaluations "
                  f"({o.evaluations_per_iteration:.2f} per iteration): loss {o.lbfgs_total:.4g} "
                  f"in {o.lbfgs_seconds:.1f} s", markup=False)
    console.print(f"  Adam ({o.adam_preset}): {o.adam_steps} steps, {o.adam_evaluations} evaluations: "
                  f"loss {o.adam_total:.4g} in {o.adam_seconds:.1f} s", markup=False)
    if report.loop is not None:
        loop = report.loop
        console.print(f"L-BFGS's own loop at {loop.long_edge_px} px, beside its evaluations: "
                      f"{loop.eager_overhead_per_iteration_seconds * 1e3:.1f} ms an iteration eager, "
                      f"{loop.compiled_overhead_per_iteration_seconds * 1e3:.1f} ms compiled "
                      f"(compiled once in {loop.compile_seconds:.1f} s)", markup=False)
    t = report.tiling
    if t.ratio is None:
        console.print(f"tiled against untiled at {t.width_px}x{t.height_px}: not measured ({t.reason})", markup=False)
    else:
        console.print(f"tiled against untiled at {t.width_px}x{t.height_px}: {t.tiles} tiles of {t.tile_px} px, "
                      f"{t.tiled_seconds_per_megapixel_evaluation:.3f} s per MP·eval against "
                      f"{t.untiled_seconds_per_megapixel_evaluation:.3f}: {t.ratio:.2f}x", markup=False)


def _parse_rungs(text: str) -> tuple:
    """``"128:100,256:30"`` -> rungs; HiresError naming the part that is wrong."""
    from hires.ladder import Rung

    rungs = []
    for part in text.split(","):
        try:
            edge, iterations = (int(v) for v in part.split(":"))
        except ValueError:
            raise HiresError(f"--ladder: {part!r} is not PX:ITERATIONS, e.g. 256:100") from None
        if edge < 16 or iterations < 1 or (rungs and edge <= rungs[-1].long_edge_px):
            raise HiresError(f"--ladder: rungs must grow from at least 16 px, with 1 or more iterations; got {part!r}")
        rungs.append(Rung(edge, iterations))
    return tuple(rungs)


@bench_app.command("ladder")
@user_errors(resumable=False)
def bench_ladder(
    content: Annotated[Path, typer.Argument(help="The photograph.")],
    style: Annotated[Path, typer.Argument(help="The painting.")],
    size: Annotated[int, typer.Option(help="Target long edge in pixels.")] = 512,
    single_iterations: Annotated[int, typer.Option(help="Iterations of the single rung.")] = 100,
    first_iterations: Annotated[int, typer.Option(help="Iterations of the ladder's first rung (256 px).")] = 100,
    top_iterations: Annotated[int, typer.Option(help="Iterations of each later rung of the ladder.")] = 30,
    ladder_rungs: Annotated[Optional[str], typer.Option("--ladder", help="The ladder's rungs as PX:ITERATIONS, e.g. 128:100,256:30,512:20 (the last is the target; replaces --size, --first-iterations and --top-iterations).")] = None,
    chunk_iterations: Annotated[int, typer.Option(help="Iterations between the loss readings of both curves.")] = 10,
    backbone: Annotated[Backbone, typer.Option(help="Feature network.")] = "vgg16-hed",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the curves as JSON here.")] = None,
    pictures: Annotated[Optional[Path], typer.Option("--pictures", help="Keep both finished pictures in this folder, as single.png and ladder.png.")] = None,
) -> None:
    """The ladder to --size against one rung at --size started from the content image, in one run."""
    import json
    import platform

    from hires.bench import best_time_ratio, compare_ladder_to_single
    from hires.images import check_output_path
    from hires.config import check_settings, default_settings
    from hires.ladder import DefaultIterations, default_rungs

    counts = DefaultIterations(first=first_iterations, middle=top_iterations, top=top_iterations)
    rungs = (default_rungs(size, counts)
             if ladder_rungs is None else _parse_rungs(ladder_rungs))
    size = rungs[-1].long_edge_px
    settings = replace(default_settings(), backbone=backbone, chunk_iterations=chunk_iterations)
    check_settings(settings, "the command line")  # --chunk-iterations 0 would never advance
    for option, value in (("--single-iterations", single_iterations), ("--first-iterations", first_iterations),
                          ("--top-iterations", top_iterations)):
        if value < 1:  # checked now, not after the single rung has run for minutes
            raise HiresError(f"{option} must be 1 or more, not {value}")
    if json_path is not None:
        _check_writable(json_path, "--json")
    if pictures is not None:  # checked now, not after the first render has run for minutes
        for name in ("single.png", "ladder.png"):
            check_output_path(pictures / name, overwrite=False)
    with tempfile.TemporaryDirectory(prefix="hires-bench-") as folder:
        single, ladder = compare_ladder_to_single(
            content, style, settings=settings, ladder_rungs=rungs, single_iterations=single_iterations,
            folder=pictures or Path(folder))
    target = single.losses[-1]
    reached = ladder.time_to_reach(target)
    typer.echo(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; backbone {backbone}")
    typer.echo(f"ladder {' -> '.join(str(r.long_edge_px) for r in rungs)} px vs one {size} px rung")
    for curve in (single, ladder):
        typer.echo(f"  {curve.name:>6}: loss at {size} px {curve.losses[-1]:.4g} after {curve.seconds[-1]:.0f} s "
                   f"(this process had {curve.cpu_share:.0%} of the CPUs' time; other work lowers it)")
    if reached is None:
        typer.echo(f"  the ladder did not reach the single rung's final loss {target:.4g}")
    else:
        typer.echo(f"  the ladder reached {target:.4g} after {reached:.0f} s: "
                   f"{reached / single.seconds[-1]:.2f} of the single rung's time")
    best = best_time_ratio(single, ladder)
    if best is not None:
        typer.echo(f"  its best against any reading of the single rung: {best[0]:.2f} of the time "
                   f"(the single rung's {best[2]:.4g} after {best[1]:.0f} s)")
    if single.coarse_loss is not None:
        typer.echo(f"  both pictures shrunk to {rungs[0].long_edge_px} px (the layout of the whole): loss "
                   f"{single.coarse_loss:.4g} single, {ladder.coarse_loss:.4g} ladder")
    typer.echo("judged on layers the objective does not use (lower is better), at the cost each run spent:")
    typer.echo(f"  {'':>6}  {'style':>8}  {'layout':>8}  {'content':>8}  {'grid':>8}  {'MP·eval':>8}")
    for curve in (single, ladder):
        q = curve.quality
        typer.echo(f"  {curve.name:>6}  {q.style:>8.4g}  {q.layout:>8.4g}  {q.content:>8.4g}  {q.grid:>8.4g}  "
                   f"{curve.cost:>8.1f}")
    if json_path is not None:
        data = {c.name: {"seconds": c.seconds, "losses": c.losses, "loss_at_first_size": c.coarse_loss,
                         "cpu_share": c.cpu_share, "quality": c.quality.__dict__,
                         "megapixel_evaluations": c.cost} for c in (single, ladder)}
        data["ladder_time_to_single_final_loss_seconds"] = reached
        data["best_time_ratio"] = None if best is None else {"ratio": best[0], "single_seconds": best[1], "loss": best[2]}
        _write_text(json_path, json.dumps(data, indent=2))


def main() -> None:
    """The console entry point."""
    app()
