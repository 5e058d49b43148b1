"""The resolution ladder as data: rungs from small to large, kept apart from the optimiser loop.

A render runs the core at the first rung's size, upsamples the result as the initial image of
the next rung, and climbs to the target. Each rung may override the ladder's weights, style
scale, L-BFGS history length and optimiser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Sequence

from hires.errors import HiresError

FIRST_RUNG_PX = 256
OPTIMIZERS = ("lbfgs", "adam")
UPSAMPLE_METHODS = ("bandlimited", "bicubic", "bilinear", "lanczos3", "nearest")
# bandlimited: bicubic without the copies of the rung's finest texture that any interpolation
# adds above the rung's own band; they lock that texture to a grid of 2x2 px cells, which later
# rungs enlarge into 4, 8 and 16 px cells (hires.inputs.enlarge; docs/performance.md,
# "Enlarging without a grid"). bicubic was the default until 2026-12-07.
DEFAULT_UPSAMPLE = "bandlimited"
EARLIER_DEFAULT_UPSAMPLE = "bicubic"


@dataclass(frozen=True)
class Rung:
    """One size of the ladder; ``None`` fields take the ladder's value.

    Attributes:
        long_edge_px: the long edge of the image at this rung, before rounding to the backbone's stride.
        iterations: optimiser iterations at this rung.
        content_weight, style_weight, tv_weight: loss weights.
        style_scale: the style image's long edge relative to this rung's long edge.
        correction_pairs: L-BFGS history length.
        optimizer: "lbfgs" or "adam".
    """

    long_edge_px: int
    iterations: int
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_scale: float | None = None
    correction_pairs: int | None = None
    optimizer: str | None = None


@dataclass(frozen=True)
class Ladder:
    """Rungs from small to large, and the values a rung takes when it does not override them."""

    rungs: tuple[Rung, ...]
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 0.0
    style_scale: float = 1.0
    correction_pairs: int = 10
    optimizer: str = "lbfgs"
    upsample: str = DEFAULT_UPSAMPLE

    def resolve(self, index: int) -> Rung:
        """Rung ``index`` with every ``None`` replaced by the ladder's value."""
        rung = self.rungs[index]
        values = {f.name: getattr(rung, f.name) for f in fields(Rung)}
        for name, value in values.items():
            if value is None:
                values[name] = getattr(self, name)
        return Rung(**values)


# A rung closer to the next than this ratio is dropped when a ladder is built or cut to --size:
# a 512 px rung before a 520 px target costs nearly a rung and changes nothing (both would
# round to 512 px, and the render would refuse them).
MIN_STEP = 1.1


# The built-in ladder's top rung gets DefaultIterations.large_top when the rung below it is this
# size or larger: the rung below then holds the strokes, and the top rung adds only finer texture
# (measured on the ladder to 2048 px). A top rung above a smaller rung keeps ``top``, so that
# --size 1100 (512 px below it) is not cut to the iterations of --size 2048.
LARGE_BELOW_PX = 1024


@dataclass(frozen=True)
class DefaultIterations:
    """The built-in ladder's iterations: its first rung, the rungs between, its top rung, its top
    rung above a rung of ``LARGE_BELOW_PX`` or more (``large_top``; None: ``top``), and a rung
    between that lies under a top rung above a smaller one (``under_top``; None: ``middle``), with
    that rung's content weight as a multiple of the ladder's (``under_top_content``)."""

    first: int
    middle: int
    top: int
    large_top: int | None = None
    under_top: int | None = None
    under_top_content: float = 1.0

    def top_above(self, below_px: int) -> int:
        """The top rung's iterations when the rung below it is ``below_px``."""
        return self.large_top if self.large_top is not None and below_px >= LARGE_BELOW_PX else self.top

    def between(self, px: int, under_the_top: bool) -> int:
        """The iterations of a rung between the first and the top, ``px`` long."""
        return self.under_top if self._under_small_top(px, under_the_top) and self.under_top is not None else self.middle

    def content_factor(self, px: int, under_the_top: bool) -> float:
        """A rung between's content weight as a multiple of the ladder's."""
        return self.under_top_content if self._under_small_top(px, under_the_top) else 1.0

    @staticmethod
    def _under_small_top(px: int, under_the_top: bool) -> bool:
        return under_the_top and px < LARGE_BELOW_PX

    def __str__(self) -> str:
        notes = []
        if self.under_top not in (None, self.middle):
            notes.append(f"{self.under_top} just below the top, under {LARGE_BELOW_PX} px")
        if self.under_top_content != 1:
            notes.append(f"content weighed {self.under_top_content:g}x just below the top, under {LARGE_BELOW_PX} px")
        if self.large_top not in (None, self.top):
            notes.append(f"{self.large_top} above {LARGE_BELOW_PX} px")
        return f"{self.first} / {self.middle} / {self.top}" + (f" ({'; '.join(notes)})" if notes else "")


# Set from measured quality per evaluation (docs/performance.md, "Quality per evaluation"): the
# top rung is most of the cost. With later rungs' small steps for the layout (--coarse-step 0.1),
# 60 iterations on each rung above the first, at 0.64x the earlier default's cost (100 each),
# kept the held-out pair hardest on content within 1 % in style, 24 % closer in layout and 10 %
# further in content (against a reading from another machine); 40 on the top cost it 21 % of its
# content ("Later rungs: small steps for the layout").
# Above a 1024 px rung, 30 do: the ladder to 2048 px is then configs/print-2k.toml's, measured
# whole ("print-2k over the filtered picture"); Galerne et al. 2024 also end their largest
# renders (48.8 MP) on 30. Below a top rung above a smaller rung (--size 1024: the 512 px rung),
# 60 with the content weighed 3x the ladder's: the top rung starts from that rung's picture and
# reads its content at twice the scale (the 512 px picture enlarged is 0.55 from the photograph
# at 1024 px where it is 0.33 at 512). Measured on one machine against 100 iterations there at
# the ladder's weight (the default earlier on 2026-12-07, 0.71x), it took the hardest pair from 4 %
# to 1 % further in style and from 10 % to 9 % in content, moved two more pairs by 3 % or less, and costs
# 0.64x of the earlier default ("The rung below the top: content weighed 3x").
DEFAULT_ITERATIONS = DefaultIterations(first=200, middle=60, top=60, large_top=30, under_top_content=3.0)
# The built-in ladder's earlier iterations, newest first: a render begun under one of them
# resumes under it (hires.plan), since its checkpoint's digest holds the ladder it began with.
EARLIER_DEFAULT_ITERATIONS = (DefaultIterations(first=200, middle=60, top=60, large_top=30, under_top=100),  # 2026-12-07
                              DefaultIterations(first=200, middle=60, top=60, large_top=30),  # 2026-12-07, before under_top
                              DefaultIterations(first=200, middle=60, top=60),  # 2026-12-07, before large_top
                              DefaultIterations(first=200, middle=100, top=80),  # until 2026-12-07
                              DefaultIterations(first=200, middle=100, top=100))  # until 2026-12-05
# The shipped configs' earlier iterations, by their rungs' sizes, newest first: a render begun
# under one resumes under it, as for the built-in ladder (the digest decides; nothing else does).
EARLIER_CONFIG_ITERATIONS: dict[tuple[int, ...], tuple[tuple[int, ...], ...]] = {
    (256, 512, 1024, 2048): ((200, 100, 100, 40),  # configs/print-2k.toml until 2026-12-07
                             (300, 150, 100, 60)),  # and until 2026-12-06
}


def default_rungs(size_px: int, iterations: DefaultIterations = DEFAULT_ITERATIONS,
                  content_weight: float = 1.0) -> tuple[Rung, ...]:
    """256 px, doubling, up to ``size_px``; a target of 256 or less is one rung.

    The first rung does most of the work from the initial image, so it gets the most
    iterations (a one-rung ladder too); each later rung starts from an upsampled, already
    stylised image and needs fewer. A rung whose content weight is not the ladder's
    (``content_weight``, times ``iterations.content_factor``) carries its own.
    """
    sizes = []
    edge = FIRST_RUNG_PX
    while edge * MIN_STEP <= size_px:
        sizes.append(edge)
        edge *= 2
    sizes.append(size_px)
    last = len(sizes) - 1
    rungs = [Rung(sizes[0], iterations.first)]
    for i in range(1, last):
        factor = iterations.content_factor(sizes[i], i == last - 1)
        rungs.append(Rung(sizes[i], iterations.between(sizes[i], i == last - 1),
                          content_weight=None if factor == 1 else factor * content_weight))
    if last:
        rungs.append(Rung(sizes[last], iterations.top_above(sizes[last - 1])))
    return tuple(rungs)


def adjust_last_rung(ladder: Ladder, *, size_px: int | None, iterations: int | None) -> Ladder:
    """Applies ``--size`` (see ``fit_rungs``) and ``--iterations`` (the last rung's) to a ladder."""
    if size_px is None and iterations is None:
        return ladder
    rungs = fit_rungs(ladder.rungs, size_px) if size_px is not None else list(ladder.rungs)
    if iterations is not None:
        rungs[-1] = replace(rungs[-1], iterations=iterations)
    return replace(ladder, rungs=tuple(rungs))


def fit_rungs(rungs: Sequence[Rung], size_px: int) -> list[Rung]:
    """A config's rungs made to end at ``size_px``, each rung keeping its own settings.

    - Below the top: the rungs ``MIN_STEP`` or more below ``size_px`` stay, and the next one
      (the config's rung at that size, or the one above it) becomes the last, moved to
      ``size_px``: ``--size 1024`` on a poster ladder ends on the config's own 1024 px rung,
      not on its 8192 px rung's settings brought down.
    - Beyond the top: the top rung moves up to ``size_px``; when that is more than twice its
      size, copies of it double on the way (as the default ladder does), so that no step is a
      jump of 10x.
    """
    below = [rung for rung in rungs if rung.long_edge_px * MIN_STEP <= size_px]
    if len(below) < len(rungs):
        return below + [replace(rungs[len(below)], long_edge_px=size_px)]
    top = rungs[-1]
    steps = []
    edge = top.long_edge_px * 2
    while edge * MIN_STEP <= size_px:
        steps.append(replace(top, long_edge_px=edge))
        edge *= 2
    kept = list(rungs) if steps else list(rungs[:-1])
    return kept + steps + [replace(top, long_edge_px=size_px)]


def check_ladder(ladder: Ladder, source: str = "the ladder") -> None:
    """Raises HiresError naming the first impossible value in a ladder."""
    if not ladder.rungs:
        raise HiresError(f"{source}: the ladder has no rung; add at least one [[rung]] table")
    if ladder.optimizer not in OPTIMIZERS:
        raise HiresError(f"{source}: optimizer must be one of {', '.join(OPTIMIZERS)}, not {ladder.optimizer!r}")
    if ladder.upsample not in UPSAMPLE_METHODS:
        raise HiresError(f"{source}: upsample must be one of {', '.join(UPSAMPLE_METHODS)}, not {ladder.upsample!r}")
    previous = 0
    for number, rung in enumerate(ladder.rungs, start=1):
        where = f"{source}: rung {number}"
        if rung.long_edge_px < 16 or rung.long_edge_px > 200_000:
            raise HiresError(f"{where}: long_edge_px must be between 16 and 200000, not {rung.long_edge_px}")
        if rung.long_edge_px <= previous:
            raise HiresError(
                f"{where}: long_edge_px {rung.long_edge_px} is not larger than the rung before ({previous}); "
                "list rungs from small to large")
        if rung.iterations < 1:
            raise HiresError(f"{where}: iterations must be 1 or more, not {rung.iterations}")
        _check_values(ladder.resolve(number - 1), where)
        previous = rung.long_edge_px


def _check_values(rung: Rung, where: str) -> None:
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(rung, name)
        if not (math.isfinite(value) and value >= 0):  # NaN fails every comparison: test it first
            raise HiresError(f"{where}: {name} must be a finite number, 0 or more, not {value}")
    if not 0.01 <= rung.style_scale <= 16:
        raise HiresError(f"{where}: style_scale must be between 0.01 and 16, not {rung.style_scale}")
    if not 1 <= rung.correction_pairs <= 1000:
        raise HiresError(f"{where}: correction_pairs must be between 1 and 1000, not {rung.correction_pairs}")
    if rung.optimizer not in OPTIMIZERS:
        raise HiresError(f"{where}: optimizer must be one of {', '.join(OPTIMIZERS)}, not {rung.optimizer!r}")


def rung_shape(content_height: int, content_width: int, long_edge_px: int, *, multiple: int) -> tuple[int, int]:
    """The ``(height, width)`` of a rung: the content's aspect ratio, each side a multiple of ``multiple``.

    The backbone's pooling halves the image four times before block5; sides that are multiples
    of its total stride keep every layer's grid aligned with the pixels (and tiles exact).
    """
    scale = long_edge_px / max(content_height, content_width)
    height = max(multiple, round(content_height * scale / multiple) * multiple)
    width = max(multiple, round(content_width * scale / multiple) * multiple)
    return height, width


def painting_long_edge(own_px: int, asked_px: int, enlarge: float) -> int:
    """The long edge a painting of ``own_px`` is shown at where ``asked_px`` is asked: shrunk to
    it, or enlarged only to ``own_px * (asked_px / own_px) ** enlarge`` (``--style-enlarge``)."""
    return asked_px if asked_px <= own_px else round(own_px * (asked_px / own_px) ** enlarge)
