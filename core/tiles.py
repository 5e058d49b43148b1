"""The objective of ``core.objective`` evaluated in tiles, exactly: the same loss and gradient.

An image too large for one forward and backward pass is cut into tiles. Each tile owns a *core*
rectangle (the cores partition the image) and is evaluated on a *crop*: the core plus a margin on
each side, clipped to the image. The margin is the reach of the deepest layer's receptive field
beyond its stride cell, so every feature a tile owns (a feature whose stride cell lies in the
core) is computed from the same pixels, with the same zero padding, as in the whole image.

The style term is not a sum over tiles: it compares Gram matrices of the whole image. So the
objective takes two passes. Pass 1 sums over tiles each style layer's Gram sum ``F^T F`` of the
owned features and the content squared error; from these come the global Grams and the loss.
Pass 2 back-propagates, tile by tile, a surrogate that is linear in the tile's own Gram sums,
weighted by ``d loss / d Gram sum`` from pass 1: its gradient with respect to the crop is the
tile's exact share of the whole image's gradient. Total variation and the range penalty are
pixel-local and cheap; they are computed on the whole image directly.

Only one tile's activations are alive at a time on each device; with a ``tf.distribute``
strategy, each pass spreads groups of tiles over the replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from core import losses
from core.backbones import Backbone, Extractor, receptive_field
from core.errors import CoreError
from core.losses import EPSILON  # the same epsilon as losses.content_loss: tiled equals whole
from core.objective import RANGE_WEIGHT, LastTerms, LossSpec, Targets, assemble_terms, blend_weights


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in pixels or in feature positions: rows ``[top, bottom)``."""

    top: int
    left: int
    height: int
    width: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width

    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices that cut this rectangle out of an ``(1, H, W, C)`` array."""
        return slice(self.top, self.bottom), slice(self.left, self.right)


@dataclass(frozen=True)
class Tile:
    """One tile: the pixels it owns (``core``) and the pixels it is evaluated on (``crop``)."""

    row: int
    column: int
    core: Rect
    crop: Rect


@dataclass(frozen=True)
class TilePlan:
    """How an image is cut into tiles for one network and set of layers.

    Attributes:
        height_px, width_px: the image's size.
        tile_px: the side of a full core; the last row and column may be smaller (or, where a
            side is not a multiple of ``stride_px``, larger by the remainder).
        stride_px: the total stride of the deepest layer used; core and crop origins are
            multiples of it, so that every pooling grid of a crop matches the image's.
        margin_px: pixels added to each side of a core to make its crop.
        layer_strides: (layer name, total stride in pixels) for every layer used.
        rows, columns: the grid.
        tiles: row by row.
    """

    height_px: int
    width_px: int
    tile_px: int
    stride_px: int
    margin_px: int
    layer_strides: tuple[tuple[str, int], ...]
    rows: int
    columns: int
    tiles: tuple[Tile, ...]

    @property
    def tile_count(self) -> int:
        return len(self.tiles)

    def layer_stride(self, layer_name: str) -> int:
        """The total stride in pixels of one of the plan's layers."""
        strides = dict(self.layer_strides)
        if layer_name not in strides:
            raise CoreError(f"the tile plan has no layer {layer_name}; it has {', '.join(strides)}")
        return strides[layer_name]

    def feature_shape(self, layer_name: str) -> tuple[int, int]:
        """``(h, w)`` of the whole image's feature map at ``layer_name`` (pools drop odd rows)."""
        stride = self.layer_stride(layer_name)
        return self.height_px // stride, self.width_px // stride

    def owned_in_image(self, tile: Tile, layer_name: str) -> Rect:
        """The features of ``layer_name`` that ``tile`` owns, in the whole image's feature map.

        A feature is owned by the tile whose core holds the origin of its stride cell. Core
        origins are multiples of every layer's stride, so ``origin / stride`` is exact; a core
        that ends at the image's edge takes the features of a ragged remainder, if any.
        """
        stride = self.layer_stride(layer_name)
        core = tile.core
        top, left = core.top // stride, core.left // stride
        return Rect(top, left, core.bottom // stride - top, core.right // stride - left)

    def owned_in_crop(self, tile: Tile, layer_name: str) -> Rect:
        """The same features as ``owned_in_image``, in the crop's own feature map."""
        stride = self.layer_stride(layer_name)
        owned = self.owned_in_image(tile, layer_name)
        top = (tile.core.top - tile.crop.top) // stride
        left = (tile.core.left - tile.crop.left) // stride
        return Rect(top, left, owned.height, owned.width)


def tile_geometry(backbone: Backbone, layer_names: Sequence[str]) -> tuple[int, int, tuple[tuple[str, int], ...]]:
    """The stride and exact margin of a tiling for the given layers.

    A feature's receptive field reaches ``(size - stride) / 2`` pixels beyond its stride cell on
    each side (3x3 SAME convolutions, 2x2 VALID pools). The margin is the largest reach over the
    layers, rounded up to a multiple of the deepest stride so that crop origins stay aligned with
    every pooling grid.

    Args:
        backbone: the network.
        layer_names: the layers the loss uses.

    Returns:
        ``(stride_px, margin_px, layer_strides)``: the largest total stride, the margin, and
        ``(layer name, stride)`` for each layer.

    Raises:
        CoreError: for an unknown layer or no layers.
    """
    if not layer_names:
        raise CoreError("tiling needs at least one layer")
    fields = {name: receptive_field(backbone, name) for name in dict.fromkeys(layer_names)}
    stride = max(stride for _, stride in fields.values())
    reach = max((size - stride) // 2 for size, stride in fields.values())
    margin = -(-reach // stride) * stride
    return stride, margin, tuple((name, s) for name, (_, s) in fields.items())


def plan_tiles(
    height_px: int,
    width_px: int,
    *,
    tile_px: int,
    backbone: Backbone,
    layer_names: Sequence[str],
    margin_px: int | None = None,
) -> TilePlan:
    """Cuts an image into tiles whose features equal the whole image's.

    Sides need not be multiples of the stride (style images rarely are): the last core of a row
    or column then runs to the image's edge, and its crop with it, so that the pools drop the
    same odd rows as in the whole image. Render sizes are multiples of the stride anyway.

    Args:
        height_px, width_px: the image's size.
        tile_px: the side of a core, a positive multiple of the network's total stride.
        backbone: the network.
        layer_names: the layers the loss uses (``LossSpec.layer_names``).
        margin_px: overrides the exact margin of ``tile_geometry``; a smaller one gives wrong
            features along tile borders (for tests that show the margin is needed).

    Returns:
        The plan.

    Raises:
        CoreError: for a tile size or margin that is not a positive multiple of the stride, an
            image smaller than one stride, or an unknown layer.
    """
    stride, margin, layer_strides = tile_geometry(backbone, layer_names)
    margin = margin if margin_px is None else margin_px
    if tile_px <= 0 or tile_px % stride or margin < 0 or margin % stride:
        raise CoreError(
            f"tile size {tile_px} px and margin {margin} px must be multiples of the network's "
            f"stride, {stride} px, and the tile size more than 0"
        )
    if min(height_px, width_px) < stride:
        raise CoreError(f"an image of {height_px}x{width_px} px is smaller than the network's stride, {stride} px")
    plan = TilePlan(height_px, width_px, tile_px, stride, margin, layer_strides, 0, 0, ())
    return plan_like(plan, height_px, width_px)


def plan_like(plan: TilePlan, height_px: int, width_px: int) -> TilePlan:
    """The plan's tiling (tile size, stride, margin, layers) for an image of another size.

    Raises:
        CoreError: for an image smaller than one stride.
    """
    if min(height_px, width_px) < plan.stride_px:
        raise CoreError(
            f"an image of {height_px}x{width_px} px is smaller than the network's stride, {plan.stride_px} px"
        )
    rows = _spans(height_px, plan.tile_px, plan.stride_px)
    columns = _spans(width_px, plan.tile_px, plan.stride_px)
    tiles = tuple(
        Tile(r, c, Rect(top, left, bottom - top, right - left),
             _crop(top, left, bottom, right, plan.margin_px, height_px, width_px))
        for r, (top, bottom) in enumerate(rows)
        for c, (left, right) in enumerate(columns)
    )
    return TilePlan(height_px, width_px, plan.tile_px, plan.stride_px, plan.margin_px,
                    plan.layer_strides, len(rows), len(columns), tiles)


def _spans(side_px: int, tile_px: int, stride_px: int) -> list[tuple[int, int]]:
    """``[start, end)`` of the cores along one side; the last one runs to the edge."""
    aligned = side_px - side_px % stride_px
    count = max(1, math.ceil(aligned / tile_px))
    starts = [i * tile_px for i in range(count)]
    return list(zip(starts, starts[1:] + [side_px]))


def _crop(top: int, left: int, bottom: int, right: int, margin: int, height: int, width: int) -> Rect:
    """The core grown by the margin on each side, clipped to the image."""
    top, left = max(0, top - margin), max(0, left - margin)
    bottom, right = min(height, bottom + margin), min(width, right + margin)
    return Rect(top, left, bottom - top, right - left)


def _crop_of(image: tf.Tensor, tile: Tile) -> tf.Tensor:
    rows, columns = tile.crop.slices()
    return image[:, rows, columns, :]


def _owned_slice(features: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    """Cuts ``window`` = ``[top, left, height, width]`` out of features ``(1, h, w, C)``."""
    return tf.slice(features, [0, window[0], window[1], 0], [1, window[2], window[3], -1])


def _windows(plan: TilePlan, tile: Tile, layer_names: Sequence[str]) -> tf.Tensor:
    """``(L, 4)`` int32: each layer's owned window in the crop's features, as ``_owned_slice`` wants."""
    rects = [plan.owned_in_crop(tile, name) for name in layer_names]
    return tf.constant([[r.top, r.left, r.height, r.width] for r in rects], tf.int32)


def compute_targets_tiled(
    extractor: Extractor,
    spec: LossSpec,
    plan: TilePlan,
    content_image: tf.Tensor,
    style_images: Sequence[tf.Tensor],
    style_blend: Sequence[float] | None = None,
    *,
    style_plans: Sequence[TilePlan] | None = None,
) -> Targets:
    """``core.objective.compute_targets``, one tile at a time: the same content features and Grams.

    Args:
        extractor: from ``core.objective.make_extractor``.
        spec: the loss specification.
        plan: the tiling of ``content_image``, from ``plan_tiles`` with ``spec.layer_names``.
        content_image: ``(1, H, W, 3)`` with ``(H, W)`` the plan's size.
        style_images: one or more ``(1, H_s, W_s, 3)``, any size of at least one stride.
        style_blend: one weight per style image, normalised to sum 1; equal weights if None.
        style_plans: one plan per style image; by default ``plan_like(plan, H_s, W_s)``, the
            same tile size (any side is tileable: see ``plan_tiles``).

    Returns:
        Targets; the content features ``(1, H / s, W / s, C)`` are assembled from the tiles'
        owned features, each Gram is the sum over tiles of ``F^T F`` over the total positions.

    Raises:
        CoreError: for no style image, a bad blend, or an image whose size is not its plan's.
    """
    blend = blend_weights(style_images, style_blend)
    _check_size(content_image, plan)
    content = _assemble_features(extractor, plan, content_image, spec.content_layer)
    plans = style_plans or [plan_like(plan, *image.shape[1:3]) for image in style_images]
    if len(plans) != len(style_images):
        raise CoreError(f"{len(plans)} style tile plans given for {len(style_images)} style images")
    style_names = [name for name, _ in spec.style_layers]
    grams: dict[str, tf.Tensor] = {}
    for image, style_plan, weight in zip(style_images, plans, blend):
        _check_size(image, style_plan)
        for name, gram in _tiled_grams(extractor, style_plan, image, style_names).items():
            grams[name] = grams[name] + gram * weight if name in grams else gram * weight
    return Targets(content=content, grams=grams)


def _check_size(image: tf.Tensor, plan: TilePlan) -> None:
    if tuple(image.shape[1:3]) != (plan.height_px, plan.width_px):
        raise CoreError(
            f"an image of {image.shape[1]}x{image.shape[2]} px does not match its tile plan "
            f"of {plan.height_px}x{plan.width_px} px"
        )


def _assemble_features(extractor: Extractor, plan: TilePlan, image: tf.Tensor, layer_name: str) -> tf.Tensor:
    """The whole image's features ``(1, h, w, C)`` at one layer, from the tiles' owned parts."""
    rows = []
    for r in range(plan.rows):
        parts = []
        for tile in plan.tiles[r * plan.columns:(r + 1) * plan.columns]:
            features = extractor(_crop_of(image, tile))[layer_name]
            owned_rows, owned_columns = plan.owned_in_crop(tile, layer_name).slices()
            parts.append(features[:, owned_rows, owned_columns, :])
        rows.append(tf.concat(parts, axis=2))
    return tf.concat(rows, axis=1)


def _tiled_grams(extractor: Extractor, plan: TilePlan, image: tf.Tensor, names: Sequence[str]) -> dict[str, tf.Tensor]:
    """Position-averaged Gram matrices ``(C, C)`` of the whole image, summed tile by tile."""
    sums: dict[str, tf.Tensor] = {}
    for tile in plan.tiles:
        features = extractor(_crop_of(image, tile))
        for name in names:
            rows, columns = plan.owned_in_crop(tile, name).slices()
            part = losses.gram_sum(features[name][:, rows, columns, :])
            sums[name] = sums[name] + part if name in sums else part
    return {name: sums[name] / float(np.prod(plan.feature_shape(name))) for name in names}


class TiledObjective:
    """The objective of ``core.objective.make_loss_function``, evaluated one tile at a time.

    ``value_and_gradient`` and ``terms`` give the whole image's numbers (up to float32 rounding)
    while the network only ever sees one crop per device at a time.

    Attributes:
        plan: the tiling.
        traces: how many times the compiled per-tile and per-image functions were traced; one
            per function and device, however many tiles and calls.
    """

    def __init__(
        self,
        extractor: Extractor,
        spec: LossSpec,
        targets: Targets,
        plan: TilePlan,
        strategy: tf.distribute.Strategy | None = None,
        content_dtype: tf.DType = tf.float32,
    ) -> None:
        """Builds the compiled functions.

        Args:
            extractor: from ``core.objective.make_extractor``.
            spec: the loss specification.
            targets: from ``compute_targets`` or ``compute_targets_tiled`` at the plan's size.
            plan: from ``plan_tiles`` with ``spec.layer_names``.
            strategy: spreads each pass's tiles over its replicas; the default strategy (one
                device) if None.
            content_dtype: how the content target is kept: float32, or bfloat16 to halve the
                largest array a poster's objective holds (each tile's slice is compared in
                float32; the content term then differs from float32's by bfloat16's rounding).

        Raises:
            CoreError: if the content target's shape is not the plan's, or the plan lacks a layer.
        """
        self.plan = plan
        self.traces = 0
        self._spec = spec
        self._extractor = extractor
        self._targets = targets
        self._strategy = strategy or tf.distribute.get_strategy()
        self._layer_names = spec.layer_names
        for name in self._layer_names:
            plan.layer_stride(name)  # raises CoreError for a plan made for other layers
        self._style_names = [name for name, _ in spec.style_layers]
        expected = plan.feature_shape(spec.content_layer)
        if tuple(targets.content.shape[1:3]) != expected:
            raise CoreError(
                f"the content target is {targets.content.shape[1]}x{targets.content.shape[2]} "
                f"features but the tile plan's image gives {expected[0]}x{expected[1]}"
            )
        self._content_scale = 1.0 / (
            float(np.prod(targets.content.shape)) * (float(tf.reduce_mean(tf.square(targets.content))) + EPSILON)
        )
        if content_dtype != targets.content.dtype:  # the float32 target is let go: only the copy stays
            targets = Targets(content=tf.cast(targets.content, content_dtype), grams=targets.grams)
            self._targets = targets
        self._last = LastTerms()
        self._build_functions()

    def _build_functions(self) -> None:
        """Compiles the per-tile passes and the pixel terms once, for every tile shape."""
        crop = tf.TensorSpec([1, None, None, 3], tf.float32)
        windows = tf.TensorSpec([len(self._layer_names), 4], tf.int32)
        target = tf.TensorSpec([1, None, None, self._targets.content.shape[-1]], tf.float32)
        weights = tuple(tf.TensorSpec(self._targets.grams[n].shape, tf.float32) for n in self._style_names)
        # autograph=False: see WholeImageObjective (no generated files left in $TMPDIR).
        self._tile_parts = tf.function(self._trace_parts, input_signature=[crop, windows, target], autograph=False)
        self._tile_gradient = tf.function(
            self._trace_gradient, input_signature=[crop, windows, target, weights, tf.TensorSpec([], tf.float32)],
            autograph=False)
        self._pixel_terms = tf.function(self._trace_pixels, input_signature=[crop], autograph=False)

    def _owned_parts(self, crop: tf.Tensor, windows: tf.Tensor, target: tf.Tensor) -> tuple[tuple, tf.Tensor]:
        """The tile's Gram sums ``(C, C)`` per style layer and content squared error, a scalar."""
        features = self._extractor(crop)
        owned = {name: _owned_slice(features[name], windows[i]) for i, name in enumerate(self._layer_names)}
        gram_sums = tuple(losses.gram_sum(owned[name]) for name in self._style_names)
        return gram_sums, tf.reduce_sum(tf.square(owned[self._spec.content_layer] - target))

    def _trace_parts(self, crop: tf.Tensor, windows: tf.Tensor, target: tf.Tensor) -> tuple[tuple, tf.Tensor]:
        """Pass 1 for one tile (its Python body runs only while tracing)."""
        self.traces += 1
        return self._owned_parts(crop, windows, target)

    def _trace_gradient(
        self,
        crop: tf.Tensor,
        windows: tf.Tensor,
        target: tf.Tensor,
        gram_weights: tuple[tf.Tensor, ...],
        content_weight: tf.Tensor,
    ) -> tf.Tensor:
        """Pass 2 for one tile: the gradient ``(1, h, w, 3)`` of its share of the loss w.r.t. the crop.

        The surrogate ``sum_l <W_l, F_l^T F_l> + c * |F - P|^2`` has, at this image, the same
        gradient as the whole loss restricted to the tile's owned features, because the loss
        depends on them only through those sums and ``W_l``, ``c`` are its derivatives there.
        """
        self.traces += 1
        with tf.GradientTape() as tape:
            tape.watch(crop)
            gram_sums, squared_error = self._owned_parts(crop, windows, target)
            surrogate = content_weight * squared_error
            for weight, gram_sum in zip(gram_weights, gram_sums):
                surrogate += tf.reduce_sum(weight * gram_sum)
        return tape.gradient(surrogate, crop, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _tile_gradient_of_replica(self, *args) -> tuple[tf.Tensor, tf.Tensor]:
        """Pass 2 for the tile of the replica it runs on, with that replica's number."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return self._tile_gradient(*args), tf.convert_to_tensor(replica)

    def _sum_over_workers(self, gradient: np.ndarray, first_local: int) -> np.ndarray:
        """Adds up the gradients of every worker's tiles (MultiWorkerMirroredStrategy).

        This worker's tiles are already in ``gradient``; one of its replicas hands it to an
        all-reduce, the others hand zeros, so that every worker ends with the whole gradient.
        """
        values = self._strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(gradient) if context.replica_id_in_sync_group == first_local
            else tf.zeros_like(gradient))
        return self._strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None).numpy()

    def _trace_pixels(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Total variation and range penalty of the whole image, and their weighted gradient."""
        self.traces += 1
        with tf.GradientTape() as tape:
            tape.watch(image)
            tv = losses.total_variation_loss(image) if self._spec.tv_weight > 0 else tf.constant(0.0)
            excursion = losses.range_penalty(image)
            weighted = self._spec.tv_weight * tv + RANGE_WEIGHT * excursion
        return tv, excursion, tape.gradient(weighted, image)

    def _run(self, step: Callable, image: tf.Tensor, extra: tuple = ()) -> Iterator[tuple[list, object]]:
        """Runs ``step(crop, windows, target, *extra)`` on every tile, a replica per tile.

        Yields ``(tiles, per-replica result)`` for each group of ``num_replicas_in_sync`` tiles;
        the last group is padded with ``None`` tiles, run on an empty core so that they add 0.
        """
        replicas = self._strategy.num_replicas_in_sync
        tiles = list(self.plan.tiles)
        tiles += [None] * (-len(tiles) % replicas)
        for start in range(0, len(tiles), replicas):
            group = tiles[start:start + replicas]
            arguments = [self._arguments(image, tile) for tile in group]
            distributed = [
                self._strategy.experimental_distribute_values_from_function(
                    lambda context, i=i: arguments[context.replica_id_in_sync_group][i]
                )
                for i in range(3)
            ]
            # A plain function, not the tf.function itself: given one, MirroredStrategy would
            # re-wrap it and hold its per-tile input signature against the per-replica values.
            yield group, self._strategy.run(lambda *args: step(*args), args=(*distributed, *extra))

    def _arguments(self, image: tf.Tensor, tile: Tile | None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``(crop, windows, content target slice)`` of one tile; a stride cell, owning nothing, for None."""
        if tile is None:
            stride = self.plan.stride_px
            tile = Tile(-1, -1, Rect(0, 0, 0, 0), Rect(0, 0, stride, stride))
        rows, columns = self.plan.owned_in_image(tile, self._spec.content_layer).slices()
        target = tf.cast(self._targets.content[:, rows, columns, :], tf.float32)
        return _crop_of(image, tile), _windows(self.plan, tile, self._layer_names), target

    def _sums(self, image: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """Pass 1: the whole image's Gram sums per style layer and content squared error."""
        gram_sums = [tf.zeros_like(self._targets.grams[name]) for name in self._style_names]
        squared_error = tf.constant(0.0)
        for _, result in self._run(self._tile_parts, image):
            # Leaf by leaf: MultiWorkerMirroredStrategy reduces tensors, not nested structures.
            parts, error = tf.nest.map_structure(
                lambda value: self._strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None), result)
            gram_sums = [total + part for total, part in zip(gram_sums, parts)]
            squared_error += error
        return dict(zip(self._style_names, gram_sums)), squared_error

    def _network_terms(self, gram_sums: dict[str, tf.Tensor], squared_error: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(content, style)`` from pass 1's sums, as ``make_loss_function`` computes them."""
        grams = {name: gram_sums[name] / float(np.prod(self.plan.feature_shape(name))) for name in gram_sums}
        style = losses.style_loss(grams, self._targets.grams, dict(self._spec.style_layers))
        return squared_error * self._content_scale, style

    def terms(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The loss terms of ``make_loss_function``, without a gradient.

        Args:
            image: ``(1, H, W, 3)`` float32 at the plan's size.

        Returns:
            Scalars ``total``, ``content``, ``style``, ``tv``, ``range``.
        """
        _check_size(image, self.plan)
        kept = self._last.find(image)
        if kept is not None:  # every worker holds the same image, so pass 1's all-reduce runs on all or none
            return kept
        content, style = self._network_terms(*self._sums(image))
        tv, excursion, _ = self._pixel_terms(image)
        return assemble_terms(self._spec, content, style, tv, excursion)

    def value_and_gradient(self, image: tf.Tensor, *, scale: tf.Tensor | float = 1.0) -> tuple[tf.Tensor, tf.Tensor]:
        """The total loss and its gradient, tile by tile.

        Args:
            image: ``(1, H, W, 3)`` float32 at the plan's size.
            scale: multiplies both (the gradient in place, without an image-sized copy).

        Returns:
            ``(total, gradient)``: a scalar and ``(1, H, W, 3)``, those of ``make_loss_function``'s
            ``total`` on the whole image, times ``scale``.
        """
        _check_size(image, self.plan)
        gram_sums, squared_error = self._sums(image)
        # The network's part of the loss as a function of pass 1's sums: its derivatives weight
        # each tile's surrogate in pass 2.
        with tf.GradientTape() as tape:
            tape.watch([gram_sums, squared_error])
            content, style = self._network_terms(gram_sums, squared_error)
            network = self._spec.content_weight * content + self._spec.style_weight * style
        gram_weights, content_weight = tape.gradient(
            network, (tuple(gram_sums[name] for name in self._style_names), squared_error)
        )
        tv, excursion, pixel_gradient = self._pixel_terms(image)
        # The pixel terms' gradient starts the sum, so that no zeroed array stands beside it (at
        # a poster's size an image-sized array is most of a gigabyte). Several workers each hold
        # it: there it is added once, after their tiles are summed.
        if isinstance(self._strategy, tf.distribute.MultiWorkerMirroredStrategy):
            gradient = np.zeros(image.shape, np.float32)
        else:
            gradient, pixel_gradient = pixel_gradient.numpy(), None
        local_replicas = set()
        for group, result in self._run(self._tile_gradient_of_replica, image, (gram_weights, content_weight)):
            # Crops differ in shape, so each replica's gradient is added at its own place.
            parts, replicas = (self._strategy.experimental_local_results(value) for value in result)
            for part, replica in zip(parts, replicas):
                tile = group[int(replica)]
                local_replicas.add(int(replica))
                if tile is not None:
                    rows, columns = tile.crop.slices()
                    gradient[:, rows, columns, :] += part.numpy()
        if len(local_replicas) < self._strategy.num_replicas_in_sync:  # other workers hold other tiles
            gradient = self._sum_over_workers(gradient, min(local_replicas))
        if pixel_gradient is not None:
            gradient += pixel_gradient.numpy()
        terms = assemble_terms(self._spec, content, style, tv, excursion)
        self._last.keep(image, terms)
        if isinstance(scale, float) and scale == 1.0:
            return terms.total, tf.constant(gradient)
        gradient *= np.float32(scale)
        return terms.total * scale, tf.constant(gradient)
