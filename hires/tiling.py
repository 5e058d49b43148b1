"""The memory planner: for each rung, the whole image at once or tiles of what size, and how
much L-BFGS history, so that the rung fits the device.

What a rung needs on one device:

- the network on what one evaluation feeds it: the whole image, or one tile with its margins
  (its forward activations times NETWORK_FACTOR, for the backward pass and temporaries);
- vectors the size of the whole image that never tile: the image, its gradient, the search
  direction and line-search points, the inputs at the rung's size, and L-BFGS's history of
  2 x correction pairs vectors (``core.lbfgs_memory`` keeps TFP's loop to that);
- the content target: the content layer's features of the whole image;
- the process itself (BASELINE_BYTES).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from core.backbones import Backbone, activation_floats, receptive_field
from core.tiles import tile_geometry
from hires.devices import USABLE_FRACTION
from hires.errors import HiresError

# Image-sized float vectors a rung holds beside L-BFGS's history: TFP's loop in flight (position,
# gradient, direction, trial point and its gradient), the previous chunk's state kept for the
# checkpoint, the tiled gradient's sum, the rung's start image, and TensorFlow's pool on top;
# and what each correction pair costs: its 2 vectors, and as much again in the pool. Fitted to
# the peak RSS (/usr/bin/time) of tiled rungs of the tiny network, whose activations are
# negligible: 4800x3600 with 1, 2 and 3 pairs (17.7, 22.6 and 25.9 vectors in all) and
# 4096x3072 with 3 pairs (25.7).
OPTIMIZER_VECTORS = 14
# A later rung's change of variables (core.precondition, --coarse-step): the picture A c held
# beside L-BFGS's position c while the network runs, and after it the filter's work on the
# gradient (a transposed copy, its spectrum, the spectrum filtered, the result); counted from the
# operations, not fitted.
PRECONDITIONER_VECTORS = 4
VECTORS_PER_PAIR = 4
# Peak memory of one evaluation over the forward activations it keeps: the backward pass's
# gradients and TensorFlow's temporaries. Measured on CPU with vgg16-hed, 3 pairs, peak RSS
# (/usr/bin/time) less the vectors and the baseline: 1.6 at 1024x768 whole, 1.5 at 2048x1536
# whole, 1.9 at 2048x1536 in tiles of 512 px; XLA's compiled evaluation keeps more, 2.8 at
# 1024x768.
NETWORK_FACTOR = 2.0
XLA_NETWORK_FACTOR = 2.8
# The process itself: TensorFlow's runtime and the network's weights.
BASELINE_BYTES = 2**30
# Fewest L-BFGS correction pairs the planner will go down to before refusing a rung.
MIN_CORRECTION_PAIRS = 3
_FLOAT_BYTES = 4


@dataclass(frozen=True)
class MemoryPlan:
    """How one rung will be evaluated.

    Attributes:
        tile_px: the side of a tile's owned square; None for the whole image at once.
        tiles: how many tiles (1 untiled).
        correction_pairs: the L-BFGS history the rung keeps.
        estimate_bytes: the peak the rung should need on one device.
        budget_bytes: what the device allows; 0 when no budget was given.
        note: why the plan differs from the rung's own settings, or "".
        content_bfloat16: keep the content target (the content layer's features of the whole
            image, 8 floats a pixel with VGG) in bfloat16: what gives last when a poster
            would not fit otherwise (its loss then differs from float32's by about 0.1 %).
    """

    tile_px: int | None
    tiles: int
    correction_pairs: int
    estimate_bytes: int
    budget_bytes: int = 0
    note: str = ""
    content_bfloat16: bool = False


def useful_pairs(correction_pairs: int, iterations: int) -> int:
    """The correction pairs a rung of ``iterations`` can use: at most one fewer than its iterations.

    Iteration k uses the pairs of the k - 1 before it, and the last iteration's pair is used by
    none, so a longer history holds only zeros and that unused pair: the same steps, more memory.
    """
    return max(1, min(correction_pairs, iterations - 1))


def estimate_bytes(backbone: Backbone, layers: list[str], content_layer: str, height: int, width: int,
                   *, correction_pairs: int, optimizer: str, tile_px: int | None,
                   content_bfloat16: bool = False, xla: bool = False, preconditioned: bool = False) -> int:
    """The peak bytes one device needs for a rung evaluated whole (``tile_px`` None) or in tiles.

    ``correction_pairs``: the pairs the history holds (all filled: see ``useful_pairs``).
    ``xla``: whether a whole-image evaluation is compiled with XLA (tiles never are).
    ``preconditioned``: whether L-BFGS runs over a filtered picture (``core.precondition``).
    """
    stride, margin, _ = tile_geometry(backbone, layers)
    if tile_px is None:
        crop_h, crop_w = height, width
    else:
        crop_h, crop_w = min(height, tile_px + 2 * margin), min(width, tile_px + 2 * margin)
    factor = XLA_NETWORK_FACTOR if xla and tile_px is None else NETWORK_FACTOR
    network = factor * activation_floats(backbone, layers, crop_h, crop_w)
    history = VECTORS_PER_PAIR * correction_pairs if optimizer == "lbfgs" else 2  # Adam: its moments
    vectors = (history + OPTIMIZER_VECTORS + PRECONDITIONER_VECTORS * preconditioned) * height * width * 3
    content = _content_floats(backbone, content_layer, height, width) * (0.5 if content_bfloat16 else 1.0)
    return BASELINE_BYTES + int(_FLOAT_BYTES * (network + vectors + content))


def _content_floats(backbone: Backbone, content_layer: str, height: int, width: int) -> int:
    """Floats of the content target: the content layer's features of the whole image."""
    stride = receptive_field(backbone, content_layer)[1]
    channels = next(layer.kernel.shape[3] for layer in backbone.layers if layer.name == content_layer)
    return (height // stride) * (width // stride) * channels


def tile_count(height: int, width: int, tile_px: int | None) -> int:
    if tile_px is None:
        return 1
    return math.ceil(height / tile_px) * math.ceil(width / tile_px)


def candidate_tiles(height: int, width: int, stride: int) -> list[int | None]:
    """Untiled first, then tile sides that split the long edge into 2, 3, 4 ... equal parts."""
    long_edge, sides = max(height, width), [None]
    for parts in range(2, long_edge // stride + 1):
        side = math.ceil(long_edge / parts / stride) * stride
        if side < 2 * stride:
            break
        if side not in sides:
            sides.append(side)
    return sides


def plan_memory(backbone: Backbone, layers: list[str], content_layer: str, height: int, width: int, *,
                correction_pairs: int, optimizer: str, budget_bytes: int | None,
                tile_px: int | None = None, replicas: int = 1,
                style_shapes: Sequence[tuple[int, int]] = (), iterations: int | None = None,
                xla: bool = False, preconditioned: bool = False) -> MemoryPlan:
    """The largest evaluation that fits ``budget_bytes``, keeping the history when it can.

    Args:
        backbone, layers, content_layer: the network and the layers the loss uses.
        height, width: the rung's size in pixels.
        correction_pairs, optimizer: the rung's own settings.
        budget_bytes: one device's usable memory; None plans no limit (untiled unless forced).
        tile_px: force this tile side (``--tile-px``); it is rounded up to the backbone's stride.
        replicas: devices sharing each evaluation; with several, the rung is cut into at least
            that many tiles so that every device has work.
        style_shapes: the paintings' sizes at this rung (``--style-scale`` times the rung's). A
            whole-image rung runs each through the network once for its targets; a painting
            enlarged 8 times can need more than the optimisation does.
        iterations: the rung's iterations; an L-BFGS history longer than they can fill is
            planned (and kept) at ``useful_pairs``, which changes no step.
        xla: whether a whole-image evaluation of this rung would be compiled with XLA.
        preconditioned: whether L-BFGS runs over a filtered picture (``core.precondition``).

    Raises:
        HiresError: when the rung cannot fit, with the numbers; or for a bad ``tile_px``.
    """
    stride = tile_geometry(backbone, layers)[0]
    if optimizer == "lbfgs" and iterations is not None:
        correction_pairs = useful_pairs(correction_pairs, iterations)

    # Measured with vgg16-hed, a 256 px rung at --style-scale 8 (the painting 2048x1280 px):
    # peak 2.8 GiB in all (/usr/bin/time); this says 3.9 GiB.
    styles = max((BASELINE_BYTES + _FLOAT_BYTES * activation_floats(backbone, layers, h, w)
                  for h, w in style_shapes), default=0)

    def estimate(tile: int | None, pairs: int, content_bfloat16: bool = False) -> int:
        need = estimate_bytes(backbone, layers, content_layer, height, width, correction_pairs=pairs,
                              optimizer=optimizer, tile_px=tile, content_bfloat16=content_bfloat16, xla=xla,
                              preconditioned=preconditioned)
        return max(need, styles) if tile is None else need  # tiled rungs tile the paintings too

    if tile_px is not None:
        return _forced(tile_px, stride, height, width, correction_pairs, estimate, budget_bytes)
    candidates = [t for t in candidate_tiles(height, width, stride) if tile_count(height, width, t) >= replicas]
    candidates = [t for t in candidates if t is None or t >= min_tile_px(backbone, layers)] or candidates[-1:]
    if not candidates:  # too small to give every device a tile: one device does it all
        candidates = [None]
    pairs_to_try = range(correction_pairs, min(correction_pairs, MIN_CORRECTION_PAIRS) - 1, -1)
    for content_bfloat16 in (False, True):  # the content target in bfloat16 gives last
        for pairs in (pairs_to_try if optimizer == "lbfgs" else [correction_pairs]):
            for tile in candidates if not content_bfloat16 else [t for t in candidates if t is not None]:
                need = estimate(tile, pairs, content_bfloat16)
                if budget_bytes is None or need <= budget_bytes:
                    return MemoryPlan(tile, tile_count(height, width, tile), pairs, need, budget_bytes or 0,
                                      _note(correction_pairs, pairs, content_bfloat16), content_bfloat16)
    fewest = pairs_to_try[-1] if optimizer == "lbfgs" else None
    last = candidates[-1]
    _refuse(height, width, last, estimate(last, fewest or correction_pairs, last is not None), budget_bytes,
            pairs=fewest)


def min_tile_px(backbone: Backbone, layers: list[str]) -> int:
    """The smallest tile worth planning: a core as wide as its two margins, so that a crop is at
    most 4 times the pixels it owns (smaller tiles spend most of each evaluation on margins)."""
    stride, margin, _ = tile_geometry(backbone, layers)
    return max(2 * stride, 2 * margin)


def _note(asked_pairs: int, pairs: int, content_bfloat16: bool) -> str:
    """Why a plan differs from the rung's own settings."""
    parts = []
    if pairs != asked_pairs:
        parts.append(f"L-BFGS history cut from {asked_pairs} to {pairs} correction pairs")
    if content_bfloat16:
        parts.append("the content target kept in bfloat16")
    return " and ".join(parts) + " to fit" if parts else ""


def _forced(tile_px, stride, height, width, pairs, estimate, budget_bytes) -> MemoryPlan:
    if tile_px < 2 * stride:
        raise HiresError(f"--tile-px must be at least {2 * stride} px on this backbone (twice its stride), not {tile_px}")
    tile = math.ceil(tile_px / stride) * stride
    tile = None if tile >= max(height, width) else tile
    need = estimate(tile, pairs)
    if budget_bytes is not None and need > budget_bytes:
        _refuse(height, width, tile, need, budget_bytes, forced=True)
    note = f"--tile-px {tile_px} rounded to {tile}" if tile is not None and tile != tile_px else ""
    return MemoryPlan(tile, tile_count(height, width, tile), pairs, need, budget_bytes or 0, note)


def _refuse(height, width, tile, need, budget_bytes, forced=False, pairs=None):
    """``pairs``: the fewest L-BFGS correction pairs tried (None for Adam, which keeps none)."""
    how = f"tiles of {tile} px" if tile else "the whole image"
    least = f"with {how}" if forced else f"at least, with {how}"
    if not forced and pairs is not None:
        least += f" and {pairs} correction pair{'s' if pairs != 1 else ''}"
    if forced:
        first = "use a smaller --tile-px (or leave it out for the planner to choose)"
    else:  # what would make it fit: a smaller picture, or a device with this much memory
        first = (f"lower --size (or --print / --dpi), or use a device with at least "
                 f"{need / USABLE_FRACTION / 2**30:.0f} GiB (a GPU: --devices)")
    raise HiresError(
        f"a {width}x{height} px rung needs {need / 2**30:.2f} GiB on one device ({least}), "
        f"but {budget_bytes / 2**30:.2f} GiB is usable there; {first}, or give --memory-gb if the device "
        f"has more than was detected")
