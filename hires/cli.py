"""The ``hires`` command line: ``render`` and ``demo``.

Only this module turns errors into exit statuses: a HiresError (or the core's CoreError) is one
line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from dataclasses import fields, replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

# Before TensorFlow is imported anywhere: keep its start-up chatter off the user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer

from hires.errors import HiresError

app = typer.Typer(
    help="Render photographs in the style of paintings at print sizes (Gatys et al. 2016, coarse to fine).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class BackboneChoice(str, Enum):
    auto = "auto"
    vgg19 = "vgg19"
    vgg16_hed = "vgg16-hed"
    tiny = "tiny"


class OptimizerChoice(str, Enum):
    lbfgs = "lbfgs"
    adam = "adam"


class PoolingChoice(str, Enum):
    avg = "avg"
    max = "max"


class UpsampleChoice(str, Enum):
    bicubic = "bicubic"
    bilinear = "bilinear"
    lanczos3 = "lanczos3"
    nearest = "nearest"


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


def user_errors(command: Callable) -> Callable:
    """Turns a HiresError or CoreError into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from core.errors import CoreError

        try:
            import_tensorflow_quietly()
            return command(*args, **kwargs)
        except (HiresError, CoreError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing more was written", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _reporter(quiet: bool):
    from hires.display import PlainReporter, RichReporter
    from hires.render import SilentReporter

    if quiet:
        return SilentReporter()
    return RichReporter() if sys.stderr.isatty() else PlainReporter()


def _value(option):
    return option.value if isinstance(option, Enum) else option


def build_settings(config: Path | None, size: int | None, iterations: int | None, **overrides):
    """Defaults, then the config, then the command line; command-line weights beat rung overrides."""
    from hires.config import RenderSettings, check_settings, complete_ladder, load_config, parse_blend
    from hires.ladder import Ladder, Rung, check_ladder

    settings = load_config(config) if config is not None else RenderSettings(ladder=Ladder(rungs=()))
    settings = complete_ladder(settings, size_px=size, iterations=iterations)
    ladder = settings.ladder
    given = {name: _value(value) for name, value in overrides.items() if value is not None}
    ladder_fields = {f.name for f in fields(type(ladder))} - {"rungs"}
    rung_fields = {f.name for f in fields(Rung)}
    for name in ladder_fields & given.keys():
        ladder = replace(ladder, **{name: given[name]})
        if name in rung_fields:
            ladder = replace(ladder, rungs=tuple(replace(r, **{name: None}) for r in ladder.rungs))
    settings_values = {k: v for k, v in given.items() if k not in ladder_fields}
    if "style_blend" in settings_values:
        settings_values["style_blend"] = parse_blend(settings_values["style_blend"], "--style-blend")
    settings = replace(settings, ladder=ladder, **settings_values)
    check_ladder(settings.ladder, "the command line")
    check_settings(settings, "the command line")
    return settings


@app.command()
@user_errors
def render(
    content: Annotated[Path, typer.Argument(help="The photograph.", show_default=False)],
    styles: Annotated[list[Path], typer.Argument(help="One or more paintings.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .tif, .webp).")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A ladder config (TOML), e.g. configs/quick.toml.")] = None,
    size: Annotated[Optional[int], typer.Option(help="Long edge of the result in pixels; sets the last rung. [default: 512]")] = None,
    iterations: Annotated[Optional[int], typer.Option(help="Iterations of the last rung.")] = None,
    backbone: Annotated[Optional[BackboneChoice], typer.Option(help="Feature network; auto takes vgg19 when its weights are here, else vgg16-hed. [default: auto]")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="VGG19 weights file (or set HIRES_VGG19_WEIGHTS).")] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Weight of the content term. [default: 1]")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style term. [default: 10]")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Weight of total variation (smoothness). [default: 0]")] = None,
    style_scale: Annotated[Optional[float], typer.Option(help="Style image's long edge relative to each rung's. [default: 1]")] = None,
    style_blend: Annotated[Optional[str], typer.Option(help="Weights of several styles, e.g. 0.7,0.3. [default: equal]")] = None,
    init: Annotated[Optional[str], typer.Option(help="First rung's start: content, noise, or an image path. [default: content]")] = None,
    optimizer: Annotated[Optional[OptimizerChoice], typer.Option(help="lbfgs (the paper's) or adam. [default: lbfgs]")] = None,
    adam_preset: Annotated[Optional[str], typer.Option(help="Adam's settings: seed-report or standard. [default: seed-report]")] = None,
    correction_pairs: Annotated[Optional[int], typer.Option(help="L-BFGS history length. [default: 10]")] = None,
    tolerance: Annotated[Optional[float], typer.Option(help="Stop a rung when an iteration improves the loss by less than this fraction. [default: 0, run every iteration]")] = None,
    pooling: Annotated[Optional[PoolingChoice], typer.Option(help="avg (the paper's) or max. [default: avg]")] = None,
    upsample: Annotated[Optional[UpsampleChoice], typer.Option(help="How a rung's result is enlarged for the next. [default: bicubic]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the noise initial image. [default: 0]")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
    plan: Annotated[bool, typer.Option("--plan", help="Print the ladder that would run, and render nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Render CONTENT in the style of STYLES, climbing the ladder of sizes to --size."""
    settings = build_settings(
        config, size, iterations, backbone=backbone, weights=str(weights) if weights else None,
        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        style_scale=style_scale, style_blend=style_blend, init=init, optimizer=optimizer,
        adam_preset=adam_preset, correction_pairs=correction_pairs, tolerance=tolerance,
        pooling=pooling, upsample=upsample, seed=seed)
    from hires.render import RenderJob

    job = RenderJob(content, tuple(styles), output, settings, overwrite=overwrite)
    if plan:
        _print_plan(job)
        return
    _run(job, quiet)


def _run(job, quiet: bool) -> None:
    from hires.render import render as render_job

    reporter = _reporter(quiet)
    try:
        result = render_job(job, reporter)
    finally:
        if hasattr(reporter, "close"):
            reporter.close()
    typer.echo(f"wrote {result.output} ({result.rungs[-1].plan.width}x{result.rungs[-1].plan.height}, "
               f"{result.backbone}, {result.seconds:.0f} s)")


def _print_plan(job) -> None:
    from hires import images
    from hires.render import choose_backbone, plan_ladder

    content = images.read_image(job.content)
    styles = [images.read_image(path) for path in job.styles]
    backbone, why = choose_backbone(job.settings)
    plans = plan_ladder(job.settings, backbone, content.shape[:2], [s.shape[:2] for s in styles])
    typer.echo(why)
    typer.echo(f"{'rung':>4}  {'size':>11}  {'iterations':>10}  {'optimizer':>9}  {'memory':>9}")
    for p in plans:
        typer.echo(f"{p.index + 1:>4}  {p.width:>5}x{p.height:<5}  {p.rung.iterations:>10}  "
                   f"{p.rung.optimizer:>9}  {p.memory_bytes / 2**30:>7.2f} GiB")
    typer.echo(f"sides are rounded to multiples of {_stride(job, backbone)} px, the backbone's total stride")


def _stride(job, backbone) -> int:
    from core.backbones import receptive_field

    layers = [job.settings.content_layer] + [n for n, _ in job.settings.style_layers]
    return max(receptive_field(backbone, name)[1] for name in layers)


@app.command()
@user_errors
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the picture.")] = Path("hires-demo.png"),
    backbone: Annotated[BackboneChoice, typer.Option(help="Feature network.")] = BackboneChoice.auto,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Render a built-in example (pictures drawn in code; no network, no files needed)."""
    from hires import images
    from hires.demo_images import draw_demo_content, draw_demo_style
    from hires.render import RenderJob

    images.check_output_path(output, overwrite=overwrite)
    settings = replace(demo_settings(), backbone=backbone.value)
    with tempfile.TemporaryDirectory(prefix="hires-demo-") as folder:
        content, style = Path(folder) / "content.png", Path(folder) / "style.png"
        images.write_image(content, draw_demo_content(512, 384))
        images.write_image(style, draw_demo_style(512, 384))
        _run(RenderJob(content, (style,), output, settings, overwrite=overwrite), quiet)
    typer.echo(f"the demo's picture is at {output.resolve()}")


def demo_settings():
    """The quick ladder (configs/quick.toml), built in so that the demo needs no files."""
    from hires.config import default_settings
    from hires.ladder import Ladder, Rung

    rungs = (Rung(128, 100), Rung(192, 40), Rung(256, 30))
    return replace(default_settings(), ladder=Ladder(rungs=rungs))


bench_app = typer.Typer(help="Benchmarks: measure on this machine and report (never pass/fail).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("ladder")
@user_errors
def bench_ladder(
    content: Annotated[Path, typer.Argument(help="The photograph.")],
    style: Annotated[Path, typer.Argument(help="The painting.")],
    size: Annotated[int, typer.Option(help="Target long edge in pixels.")] = 512,
    single_iterations: Annotated[int, typer.Option(help="Iterations of the single rung.")] = 100,
    first_iterations: Annotated[int, typer.Option(help="Iterations of the ladder's first rung (256 px).")] = 100,
    top_iterations: Annotated[int, typer.Option(help="Iterations of each later rung of the ladder.")] = 30,
    backbone: Annotated[BackboneChoice, typer.Option(help="Feature network.")] = BackboneChoice.vgg16_hed,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the curves as JSON here.")] = None,
) -> None:
    """The ladder to --size against one rung at --size started from the content image, in one run."""
    import json
    import platform

    from hires.bench import compare_ladder_to_single
    from hires.config import default_settings
    from hires.ladder import default_rungs

    rungs = default_rungs(size, iterations=first_iterations, upper_iterations=top_iterations)
    settings = replace(default_settings(), backbone=backbone.value)
    with tempfile.TemporaryDirectory(prefix="hires-bench-") as folder:
        single, ladder = compare_ladder_to_single(
            content, style, settings=settings, ladder_rungs=rungs, single_iterations=single_iterations,
            folder=Path(folder))
    target = single.losses[-1]
    reached = ladder.time_to_reach(target)
    typer.echo(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; backbone {backbone.value}")
    typer.echo(f"ladder {' -> '.join(str(r.long_edge_px) for r in rungs)} px vs one {size} px rung")
    for curve in (single, ladder):
        typer.echo(f"  {curve.name:>6}: loss at {size} px {curve.losses[-1]:.4g} after {curve.seconds[-1]:.0f} s")
    if reached is None:
        typer.echo(f"  the ladder did not reach the single rung's final loss {target:.4g}")
    else:
        typer.echo(f"  the ladder reached {target:.4g} after {reached:.0f} s: "
                   f"{reached / single.seconds[-1]:.2f} of the single rung's time")
    if json_path is not None:
        data = {c.name: {"seconds": c.seconds, "losses": c.losses} for c in (single, ladder)}
        data["ladder_time_to_single_final_loss_seconds"] = reached
        json_path.write_text(json.dumps(data, indent=2))


def main() -> None:
    """The console entry point."""
    app()
