"""The memory planner: for each rung, the whole image at once or tiles of what size, and how
much L-BFGS history, so that the rung fits the device.

What a rung needs on one device:

- the network on what one evaluation feeds it: the whole image, or one tile with its margins
  (its forward activations times NETWORK_FACTOR, for the backward pass and temporaries);
- vectors the size of the whole image that never tile: the image, its gradient, the search
  direction and line-search points, and L-BFGS's history of 2 x correction pairs vectors;
- the content target: the content layer's features of the whole image;
- the process itself (BASELINE_BYTES).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from core.backbones import Backbone, activation_floats, receptive_field
from core.tiles import tile_geometry
from hires.errors import HiresError

# Image-sized float vectors the optimiser keeps beside its history (see hires.render).
OPTIMIZER_VECTORS = 8
# Peak memory of one evaluation over the forward activations it keeps: the backward pass's
# gradients and TensorFlow's temporaries. Measured on CPU with vgg16-hed: 3.3 at 1024x768 whole
# (3.56 GiB peak), and the same factor predicts the 22.4 GiB peak of a 4096x3072 rung in tiles of
# 2048 px (22.36 GiB measured).
NETWORK_FACTOR = 3.3
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
    """

    tile_px: int | None
    tiles: int
    correction_pairs: int
    estimate_bytes: int
    budget_bytes: int = 0
    note: str = ""


def estimate_bytes(backbone: Backbone, layers: list[str], content_layer: str, height: int, width: int,
                   *, correction_pairs: int, optimizer: str, tile_px: int | None) -> int:
    """The peak bytes one device needs for a rung evaluated whole (``tile_px`` None) or in tiles."""
    stride, margin, _ = tile_geometry(backbone, layers)
    if tile_px is None:
        crop_h, crop_w = height, width
    else:
        crop_h, crop_w = min(height, tile_px + 2 * margin), min(width, tile_px + 2 * margin)
    network = NETWORK_FACTOR * activation_floats(backbone, layers, crop_h, crop_w)
    history = 2 * correction_pairs if optimizer == "lbfgs" else 2
    vectors = (history + OPTIMIZER_VECTORS) * height * width * 3
    floats = network + vectors + _content_floats(backbone, content_layer, height, width)
    return BASELINE_BYTES + int(_FLOAT_BYTES * floats)


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
                style_shapes: Sequence[tuple[int, int]] = ()) -> MemoryPlan:
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

    Raises:
        HiresError: when the rung cannot fit, with the numbers; or for a bad ``tile_px``.
    """
    stride = tile_geometry(backbone, layers)[0]

    # Measured with vgg16-hed, a 256 px rung at --style-scale 8 (the painting 2048x1280 px):
    # peak 2.8 GiB in all (/usr/bin/time); this says 3.9 GiB.
    styles = max((BASELINE_BYTES + _FLOAT_BYTES * activation_floats(backbone, layers, h, w)
                  for h, w in style_shapes), default=0)

    def estimate(tile: int | None, pairs: int) -> int:
        need = estimate_bytes(backbone, layers, content_layer, height, width, correction_pairs=pairs,
                              optimizer=optimizer, tile_px=tile)
        return max(need, styles) if tile is None else need  # tiled rungs tile the paintings too

    if tile_px is not None:
        return _forced(tile_px, stride, height, width, correction_pairs, estimate, budget_bytes)
    candidates = [t for t in candidate_tiles(height, width, stride) if tile_count(height, width, t) >= replicas]
    if not candidates:  # too small to give every device a tile: one device does it all
        candidates = [None]
    pairs_to_try = range(correction_pairs, min(correction_pairs, MIN_CORRECTION_PAIRS) - 1, -1)
    for pairs in (pairs_to_try if optimizer == "lbfgs" else [correction_pairs]):
        for tile in candidates:
            need = estimate(tile, pairs)
            if budget_bytes is None or need <= budget_bytes:
                note = "" if pairs == correction_pairs else (
                    f"L-BFGS history cut from {correction_pairs} to {pairs} correction pairs to fit")
                return MemoryPlan(tile, tile_count(height, width, tile), pairs, need, budget_bytes or 0, note)
    fewest = pairs_to_try[-1] if optimizer == "lbfgs" else None
    _refuse(height, width, candidates[-1], estimate(candidates[-1], fewest or correction_pairs), budget_bytes,
            pairs=fewest)


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
        least += f" and {pairs} correction pairs"
    first = "use a smaller --tile-px (or leave it out for the planner to choose)" if forced else "lower --size"
    raise HiresError(
        f"a {width}x{height} px rung needs {need / 2**30:.2f} GiB on one device ({least}), "
        f"but {budget_bytes / 2**30:.2f} GiB is usable there; {first}, use a device with more "
        f"memory, or give --memory-gb if the device has more than was detected")
