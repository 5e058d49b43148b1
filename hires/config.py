"""Render settings: defaults, then a TOML config, then the command line, under one precedence rule.

A config file holds any render option at its top level and the ladder as ``[[rung]]`` tables::

    backbone = "vgg16-hed"
    style_weight = 10.0

    [[rung]]
    long_edge_px = 256
    iterations = 200

    [[rung]]
    long_edge_px = 512
    iterations = 100
    style_weight = 20.0     # a rung may override the ladder's weights

Everything is checked when loaded: an unknown field, a wrong type or an impossible value raises
HiresError naming the file, the field and the fix.

Every source of settings is a table of these fields: a config file, a job file's defaults and
its job, the command line's options. ``settings_from_layers`` checks each on its own and merges
them under one rule (``merge_layers``): later layers win. ``final_ladder`` completes the ladder
once the photograph's size is known.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.choices import ADAM_PRESETS, BACKBONE_NAMES, POOLINGS, PRECISIONS
from hires.errors import HiresError
from hires.ladder import (DEFAULT_ITERATIONS, DefaultIterations, Ladder, Rung, adjust_last_rung, check_ladder,
                          default_rungs)
from hires.printsize import MAX_PRINT_PX, PrintTarget, fit_print, parse_print_size

DEFAULT_SIZE_PX = 512
DEFAULT_DPI = 300.0
BACKBONE_CHOICES = ("auto", *BACKBONE_NAMES)  # auto: VGG19 when its weights are here, else vgg16-hed
PAPER_STYLE_LAYERS = tuple((f"block{i}_conv1", 1.0) for i in range(1, 6))


# A rung whose last 10 iterations lowered the loss by less than this fraction stops (docs/performance.md,
# "A default stop on progress"): on four pairs it ends only first rungs that have levelled off
# (at 150-170 of 200), with the finished picture within 2 % on every measure; 0.01 also cut a
# middle rung short and cost 5 % of the layout.
DEFAULT_STOP_GAIN = 0.005
# The default until 2026-12-06 (every iteration run): a render begun under it resumes under it.
EARLIER_DEFAULT_STOP_GAIN = 0.0
# The standard deviation of the noise added to each later rung's start (0: none). Noise of 0.1
# gives a rung's first 20 iterations the worth of 30, but after the default ladder's 80 it left
# a grain that cost a held-out pair 14 % of its layout and content (docs/performance.md).
DEFAULT_START_NOISE = 0.0
# How far a painting smaller than a rung asks is enlarged: its long edge becomes its own times
# (asked / own) ** style_enlarge. Judged against larger scans of six paintings at 2x and 4x,
# halfway (0.5) was at worst 2.5x further from the scan than the best of full enlargement (1, the
# default until 2026-12-06: up to 10x off, soft), the painting's own size (0: up to 2.6x off) and
# itself (docs/performance.md, "A painting smaller than the picture").
DEFAULT_STYLE_ENLARGE = 0.5
EARLIER_DEFAULT_STYLE_ENLARGE = 1.0
# On a later rung, L-BFGS moves the frequencies the rung below already rendered (the layout) with
# steps this fraction of those for the new detail (core.precondition); 1 treats every frequency
# alike, plain pixels, the default until 2026-12-07. With 0.1 a 1024 px rung of 40 iterations
# reached the style that plain pixels reach in 60 and kept the layout they undo; at the default
# ladder's iterations a held-out pair was closer on every measure (docs/performance.md, "Later
# rungs: small steps for the layout").
DEFAULT_COARSE_STEP = 0.1
EARLIER_DEFAULT_COARSE_STEP = 1.0
# How much of the photograph's own detail above the rung below's band is added to a later rung's
# start (0: none, 1: all of it). The rung below could not hold that detail; without it the top
# rung spends its iterations drawing the photograph's finer structure back in, and on a
# photograph with detail of its own at 1024 px `--size 1024` ended 11-14 % further in content
# than the default until 2026-12-07; with it, 7-8 %, its style no further (docs/performance.md,
# "Photographs with detail of their own: the rung's start").
DEFAULT_START_DETAIL = 1.0
EARLIER_DEFAULT_START_DETAIL = 0.0


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides a render except its input and output files.

    Attributes:
        ladder: the rungs and the values they share; no rungs means the default ladder.
        backbone: "auto", "vgg19", "vgg16-hed" or "tiny".
        weights: a VGG19 weights file (for machines without internet).
        pooling: "avg" (the paper's) or "max".
        precision: "float32", or "bfloat16" for the network's convolutions (mixed precision;
            Gram matrices, losses and the optimiser stay float32).
        content_layer: the layer of the content term.
        style_layers: (layer, weight) pairs of the style term.
        init: "content", "noise" or the path of an image to start from.
        seed: seeds the noise initial image and ``start_noise``.
        tolerance: stop a rung early when an iteration improves the loss by less than this fraction (0: never).
        stop_gain: stop an L-BFGS rung when 10 iterations improve the loss by less than this
            fraction (0: never); see ``core.optimize.minimize_lbfgs`` and ``DEFAULT_STOP_GAIN``.
        start_noise: the standard deviation of Gaussian noise (seeded by ``seed`` and the rung)
            added to each later rung's start, the rung below enlarged (0: none); see
            ``hires.inputs.rung_start``.
        start_detail: how much of the photograph's detail above the rung below's band is added
            to each later rung's start, 0 (none) to 1 (all); see ``hires.inputs.rung_start``.
        style_enlarge: how far a painting smaller than a rung's ``style_scale`` asks is enlarged,
            from 0 (kept at its own size) to 1 (to the size asked); see ``hires.plan.style_shape``.
        coarse_step: on a later L-BFGS rung, the step for the frequencies the rung below rendered
            against that for the new detail, in (0, 1]; 1 is plain pixels; see ``core.precondition``.
        adam_preset: Adam's settings when the optimizer is adam.
        chunk_iterations: iterations between progress reports.
        style_blend: one weight per style image (None: equal).
        size: the last rung's long edge in pixels, as asked (None: the ladder's own); see ``final_ladder``.
        iterations: the last rung's iterations, as asked (None: the ladder's own).
        print_size: a print size such as "24x36in", "50x70cm"; sets the last rung (see hires.printsize).
        dpi: dots per inch, for --print and written into the output's metadata (None: 300 with a
            print size, else not written).
        bit_depth: 8 or 16 bits per sample in the output (16: PNG and TIFF).
        jpeg_quality: 1-100, for JPEG and WebP outputs.
        preserve_colors: "none", "luminance" (transfer on luminance only) or "histogram"
            (match the painting's colours to the photograph's first).
        max_input_megapixels: refuse larger input images (a guard against decompression bombs).
    """

    ladder: Ladder
    backbone: str = "auto"
    weights: str | None = None
    pooling: str = "avg"
    precision: str = "float32"
    content_layer: str = "block4_conv2"
    style_layers: tuple[tuple[str, float], ...] = PAPER_STYLE_LAYERS
    init: str = "content"
    seed: int = 0
    tolerance: float = 0.0
    stop_gain: float = DEFAULT_STOP_GAIN
    start_noise: float = DEFAULT_START_NOISE
    start_detail: float = DEFAULT_START_DETAIL
    style_enlarge: float = DEFAULT_STYLE_ENLARGE
    coarse_step: float = DEFAULT_COARSE_STEP
    adam_preset: str = "seed-report"
    chunk_iterations: int = 10
    style_blend: tuple[float, ...] | None = None
    size: int | None = None
    iterations: int | None = None
    print_size: str | None = None
    dpi: float | None = None
    bit_depth: int = 8
    jpeg_quality: int = 95
    preserve_colors: str = "none"
    max_input_megapixels: float = 250.0


# The type each TOML field must have; floats accept integers.
_SETTINGS_TYPES: dict[str, type] = {
    "backbone": str, "weights": str, "pooling": str, "precision": str, "content_layer": str, "init": str,
    "seed": int, "tolerance": float, "stop_gain": float, "start_noise": float, "start_detail": float, "style_enlarge": float,
    "coarse_step": float, "adam_preset": str, "chunk_iterations": int, "size": int, "iterations": int, "print_size": str, "dpi": float,
    "bit_depth": int, "jpeg_quality": int, "preserve_colors": str, "max_input_megapixels": float,
}
_LADDER_TYPES: dict[str, type] = {
    "content_weight": float, "style_weight": float, "tv_weight": float, "style_scale": float,
    "correction_pairs": int, "optimizer": str, "upsample": str,
}
_RUNG_TYPES: dict[str, type] = {
    "long_edge_px": int, "iterations": int, **{k: v for k, v in _LADDER_TYPES.items() if k != "upsample"},
}
_SPECIAL = ("rung", "style_layers", "style_blend")


def default_settings(size_px: int = DEFAULT_SIZE_PX) -> RenderSettings:
    """The settings with no config: the paper's loss and the default ladder to ``size_px``."""
    return RenderSettings(ladder=Ladder(rungs=default_rungs(size_px)))


def load_config(path: str | Path) -> RenderSettings:
    """Reads and checks a TOML config.

    Raises:
        HiresError: for a missing or unreadable file, broken TOML, an unknown field, a wrong
            type or an impossible value; the message names the file and the field.
    """
    path = Path(path)
    return settings_from_dict(read_toml(path, f"config {path}"), source=f"config {path}")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed TOML file ``path``; ``what`` names it in the one-line HiresError for any problem."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HiresError(f"{what} not found; check the path") from exc
    except IsADirectoryError as exc:
        raise HiresError(f"{what} is a folder; give the TOML file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HiresError(f"cannot read {what}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HiresError(f"{what} is not valid TOML: {exc}; fix the line it names") from exc


# Options about the machine and the run rather than the picture: given once on the command line.
RUN_OPTIONS = ("devices", "memory_gb", "tile_px", "xla", "checkpoint_minutes", "overwrite", "restart", "quiet")


def unknown_field(where: str, key: str, known) -> HiresError:
    """The error for a field a config or job file does not have, with the likely fix."""
    name = key.replace("-", "_")
    if name in RUN_OPTIONS:
        hint = (f"; --{name.replace('_', '-')} is about the machine or the run, not the picture: "
                "give it on the command line")
    elif name == "print":
        hint = "; the print size is print_size"
    elif name == "styles" and "style" in known:
        hint = "; a job's paintings are given as style"
    elif name != key and name in known:
        hint = f"; write it with underscores: {name}"
    else:
        hint = ""
    return HiresError(f"{where}: unknown field {key!r}{hint}; known fields are {', '.join(sorted(known))}")


def settings_from_dict(data: dict[str, Any], *, source: str) -> RenderSettings:
    """Builds RenderSettings from a parsed TOML table; see ``load_config``."""
    known = set(_SETTINGS_TYPES) | set(_LADDER_TYPES) | set(_SPECIAL)
    for key in data:
        if key not in known:
            raise unknown_field(source, key, known)
    settings_values = {k: _typed(data[k], t, f"{source}: {k}") for k, t in _SETTINGS_TYPES.items() if k in data}
    ladder_values = {k: _typed(data[k], t, f"{source}: {k}") for k, t in _LADDER_TYPES.items() if k in data}
    rungs = _rungs_from(data.get("rung"), source)
    ladder = Ladder(rungs=rungs, **ladder_values)
    check_ladder(replace(ladder, rungs=rungs or default_rungs(DEFAULT_SIZE_PX)), source)
    settings = replace(default_settings(), ladder=ladder, **settings_values)
    if "style_layers" in data:
        settings = replace(settings, style_layers=_style_layers_from(data["style_layers"], source))
    if "style_blend" in data:
        settings = replace(settings, style_blend=parse_blend(data["style_blend"], source))
    check_settings(settings, source)
    return settings


# Options that a ladder's rungs may set for themselves: given in a later layer, they replace the
# rung's own value too (a style_weight on the command line beats a config rung's style_weight).
RUNG_OVERRIDES = frozenset({f.name for f in fields(Rung)} & {f.name for f in fields(Ladder)})


def merge_layers(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The one precedence rule: later tables win, field by field.

    The layers are, in order: a config, a job file's defaults, its job, the command line (each
    may be absent). An option a later layer gives also replaces that option on every rung of the
    ladder so far; a size in pixels replaces an earlier print size, and the other way round.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        given = dict(layer)
        if "size" in given:
            merged.pop("print_size", None)
        if "print_size" in given:
            merged.pop("size", None)
        replaced = RUNG_OVERRIDES & given.keys()
        if replaced and isinstance(merged.get("rung"), list):
            merged["rung"] = [{k: v for k, v in rung.items() if k not in replaced} if isinstance(rung, dict) else rung
                              for rung in merged["rung"]]
        merged.update(given)
    return merged


def settings_from_layers(layers: Sequence[tuple[Mapping[str, Any], str]]) -> RenderSettings:
    """Settings from tables in precedence order, each ``(table, source)`` checked on its own first,
    so that a mistake is named with the source it is in; the merge is named by the last source.

    Raises:
        HiresError: for any field any layer gets wrong.
    """
    for table, source in layers:
        settings_from_dict(dict(table), source=source)
    return settings_from_dict(merge_layers([table for table, _ in layers]), source=layers[-1][1])


def _rungs_from(tables: Any, source: str) -> tuple[Rung, ...]:
    if tables is None:
        return ()  # no ladder in the file: complete_ladder builds the default one to --size
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        if isinstance(tables, list) and not tables:
            raise HiresError(f"{source}: the ladder has no rung; add [[rung]] tables or remove `rung`")
        raise HiresError(f"{source}: rung must be a list of tables, written [[rung]]")
    rungs = []
    for number, table in enumerate(tables, start=1):
        where = f"{source}: rung {number}"
        for key in table:
            if key not in _RUNG_TYPES:
                raise HiresError(f"{where}: unknown field {key!r}; known fields are {', '.join(_RUNG_TYPES)}")
        for key in ("long_edge_px", "iterations"):
            if key not in table:
                raise HiresError(f"{where}: {key} is missing; every [[rung]] needs long_edge_px and iterations")
        rungs.append(Rung(**{k: _typed(v, _RUNG_TYPES[k], f"{where}: {k}") for k, v in table.items()}))
    return tuple(rungs)


def _style_layers_from(value: Any, source: str) -> tuple[tuple[str, float], ...]:
    """A TOML table ``{layer = weight}``, or ``(layer, weight)`` pairs (the command line's, which keep repeats)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return tuple((str(name), _typed(weight, float, f"{source}: style_layers.{name}")) for name, weight in value)
    if not isinstance(value, dict) or not value:
        raise HiresError(f'{source}: style_layers must be a table of layer = weight, e.g. {{ block1_conv1 = 1.0 }}')
    return tuple((name, _typed(weight, float, f"{source}: style_layers.{name}")) for name, weight in value.items())


def parse_blend(value: Any, source: str) -> tuple[float, ...]:
    """Style blend weights from a list of numbers or a comma-separated string like "0.7,0.3"."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise HiresError(f"{source}: style_blend must be a list of weights, e.g. [0.7, 0.3]")
    if any(isinstance(item, bool) for item in items):  # TOML true/false would read as 1 and 0
        raise HiresError(f"{source}: style_blend {value!r} must be numbers, e.g. 0.7,0.3")
    try:
        weights = tuple(float(item) for item in items)
    except (TypeError, ValueError) as exc:
        raise HiresError(f"{source}: style_blend {value!r} must be numbers, e.g. 0.7,0.3") from exc
    # NaN passes "< 0" and "<= 0" alike; it would make the loss NaN and leave the photograph unstyled.
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise HiresError(f"{source}: style_blend weights must be finite numbers, 0 or more and not all 0, "
                         f"not {value!r}")
    return weights


def parse_style_layers(text: str, source: str = "--style-layers") -> tuple[tuple[str, float], ...]:
    """``"block1_conv1:1,block3_conv1:0.5"`` -> ((layer, weight), ...); a weight left out is 1."""
    layers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition(":")
        try:
            layers.append((name.strip(), float(weight) if weight else 1.0))
        except ValueError as exc:
            raise HiresError(f"{source}: weight {weight!r} of {name} is not a number; write e.g. "
                             "block1_conv1:1,block3_conv1:0.5") from exc
    if not layers:
        raise HiresError(f"{source}: name at least one layer, e.g. block1_conv1:1,block3_conv1:0.5")
    return tuple(layers)


def _typed(value: Any, kind: type, where: str) -> Any:
    """``value`` if it has type ``kind`` (an int passes for a float), else HiresError."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    names = {int: "a whole number", float: "a number", str: "a string in quotes"}
    raise HiresError(f"{where} must be {names[kind]}, not {value!r}")


def check_settings(settings: RenderSettings, source: str = "the settings") -> None:
    """Raises HiresError for impossible values outside the ladder."""
    if settings.backbone not in BACKBONE_CHOICES:
        raise HiresError(f"{source}: backbone must be one of {', '.join(BACKBONE_CHOICES)}, not {settings.backbone!r}")
    if settings.weights and settings.backbone in ("vgg16-hed", "tiny"):
        # Without this the file is silently unused and the user believes they rendered with VGG19.
        raise HiresError(f"{source}: a VGG19 weights file ({settings.weights}) was given with backbone "
                         f"{settings.backbone}, which does not use it; drop the weights, or choose backbone "
                         "vgg19 (or auto) to render with them")
    if settings.pooling not in POOLINGS:
        raise HiresError(f"{source}: pooling must be {' or '.join(POOLINGS)}, not {settings.pooling!r}")
    if settings.precision not in PRECISIONS:
        raise HiresError(f"{source}: precision must be {' or '.join(PRECISIONS)}, not {settings.precision!r}")
    if not 0 <= settings.tolerance < 1:
        raise HiresError(f"{source}: tolerance must be at least 0 and below 1, not {settings.tolerance}")
    if not 0 <= settings.stop_gain < 1:  # NaN fails too
        raise HiresError(f"{source}: stop_gain must be at least 0 and below 1, not {settings.stop_gain}")
    if not 0 <= settings.start_noise <= 1:  # NaN fails too; pixels are in [0, 1]
        raise HiresError(f"{source}: start_noise must be between 0 and 1, not {settings.start_noise}")
    if not 0 <= settings.start_detail <= 1:  # NaN fails too
        raise HiresError(f"{source}: start_detail must be between 0 (none of the photograph's detail) and 1 "
                         f"(all of it), not {settings.start_detail}")
    if not 0 <= settings.style_enlarge <= 1:  # NaN fails too
        raise HiresError(f"{source}: style_enlarge must be between 0 (never enlarge a painting) and 1 "
                         f"(enlarge it to the size style_scale asks), not {settings.style_enlarge}")
    if not 0.01 <= settings.coarse_step <= 1:  # NaN fails too; at 0 the rung could not move its layout at all
        raise HiresError(f"{source}: coarse_step must be between 0.01 (later rungs keep the layout the rung below "
                         f"made) and 1 (plain pixels), not {settings.coarse_step}")
    if settings.chunk_iterations < 1:
        raise HiresError(f"{source}: chunk_iterations must be 1 or more, not {settings.chunk_iterations}")
    if settings.seed < 0:
        raise HiresError(f"{source}: seed must be 0 or more, not {settings.seed}")
    names = [name for name, _ in settings.style_layers]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise HiresError(f"{source}: style layer {', '.join(twice)} is listed more than once; list each "
                         "layer once, with its weight, e.g. block1_conv1:1.5")
    weights = [weight for _, weight in settings.style_layers]
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise HiresError(f"{source}: style layer weights must be finite, 0 or more, and not all 0; got {weights}")
    _check_output_settings(settings, source)
    if settings.adam_preset not in ADAM_PRESETS:
        raise HiresError(f"{source}: adam_preset must be one of {', '.join(ADAM_PRESETS)}, not {settings.adam_preset!r}")


def _check_output_settings(settings: RenderSettings, source: str) -> None:
    from hires.colour import PRESERVE_COLORS

    if settings.size is not None and not 16 <= settings.size <= MAX_PRINT_PX:
        raise HiresError(f"{source}: size must be between 16 and {MAX_PRINT_PX} px, not {settings.size}")
    if settings.iterations is not None and settings.iterations < 1:
        raise HiresError(f"{source}: iterations must be 1 or more, not {settings.iterations}")
    if settings.size is not None and settings.print_size is not None:
        raise HiresError(f"{source}: give a size in pixels or a print size, not both")
    if settings.print_size is not None:
        try:
            parse_print_size(settings.print_size)
        except HiresError as exc:  # the source: a job file's job, a config, the command line
            raise HiresError(f"{source}: {exc}") from None
    if settings.dpi is not None and not (math.isfinite(settings.dpi) and 1 <= settings.dpi <= 10_000):
        raise HiresError(f"{source}: dpi must be between 1 and 10000, not {settings.dpi}; 300 is usual for prints")
    if settings.bit_depth not in (8, 16):
        raise HiresError(f"{source}: bit_depth must be 8 or 16, not {settings.bit_depth}")
    if not 1 <= settings.jpeg_quality <= 100:
        raise HiresError(f"{source}: jpeg_quality must be between 1 and 100, not {settings.jpeg_quality}")
    if settings.preserve_colors not in PRESERVE_COLORS:
        raise HiresError(f"{source}: preserve_colors must be one of {', '.join(PRESERVE_COLORS)}, "
                         f"not {settings.preserve_colors!r}")
    if not (math.isfinite(settings.max_input_megapixels) and settings.max_input_megapixels > 0):
        raise HiresError(f"{source}: max_input_megapixels must be a positive number, "
                         f"not {settings.max_input_megapixels}")


def final_ladder(settings: RenderSettings, content_shape: tuple[int, int] | None = None,
                 defaults: DefaultIterations | None = None) -> tuple[Ladder, PrintTarget | None]:
    """The ladder a render climbs: its own rungs (or the default ladder), ended at ``size`` or
    at the print's pixels, with ``iterations`` on its last rung.

    Args:
        content_shape: the photograph's ``(height, width)``: a print size's pixels depend on it.
        defaults: the built-in ladder's iterations, when the settings name no rungs (None:
            today's, ``DEFAULT_ITERATIONS``).

    Returns:
        The ladder, and the print target when a print size was given.

    Raises:
        HiresError: for a print size or ladder that cannot be rendered.
    """
    target, size = None, settings.size
    if settings.print_size is not None:
        if content_shape is None:
            raise ValueError("a print size's pixels need the photograph's shape")
        dpi = settings.dpi if settings.dpi is not None else DEFAULT_DPI
        target = fit_print(settings.print_size, dpi, *content_shape)
        size = target.long_edge_px
        if size < 16:  # else the ladder's check would blame "rung 1", which the user never wrote
            raise HiresError(f"--print {settings.print_size} at {dpi:g} DPI is only {target.width_px}x"
                             f"{target.height_px} px, below the 16 px a render needs; give a larger "
                             "--print or a higher --dpi")
    ladder = settings.ladder
    if ladder.rungs:
        ladder = adjust_last_rung(ladder, size_px=size, iterations=settings.iterations)
    else:
        rungs = default_rungs(size if size is not None else DEFAULT_SIZE_PX, defaults or DEFAULT_ITERATIONS,
                              ladder.content_weight)
        ladder = adjust_last_rung(replace(ladder, rungs=rungs), size_px=None, iterations=settings.iterations)
    check_ladder(ladder, "the ladder")
    return ladder, target


def settings_fields() -> tuple[str, ...]:
    """Names of the RenderSettings fields, for the command line's overrides."""
    return tuple(f.name for f in fields(RenderSettings))
