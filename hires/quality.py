"""Judging a finished picture as a viewer sees it, on layers the objective does not optimise.

A loss the optimiser minimises is no measure of its own success: the optimiser can lower it in
ways nobody sees. The judge therefore looks at other convolutions of the same network (the
second of each block where the objective uses the first; a block-4 layer other than the
content layer) and reports three distances, lower being better:

- ``style``: how far the picture's feature statistics (position-averaged Gram matrices) are
  from the painting's, at the picture's full size, with the painting at the same scale as a
  rung would show it: the texture a viewer sees up close;
- ``layout``: the same with both shrunk to 256 px on the long edge, where the deepest layers
  see the whole picture: whether the painting's strokes and masses organise the whole, or only
  a fine texture covers the photograph (what the ladder is for);
- ``content``: how far the picture's features are from the photograph's, relative to them;
- ``grid``: how much the picture's fine texture is locked to a grid of pixel cells (``pixel_grid``),
  which no painting has: 0.007 to 0.05 in the photographs and paintings measured, 0.04 to 0.22
  in renders whose rungs were enlarged by plain bicubic.

Runs are compared at equal evaluation cost: the sum over rungs of evaluations times megapixels
(``cost_of``), which a busy machine cannot skew as it skews seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from core.backbones import Backbone, build_extractor
from core.losses import gram_matrix
from hires.inputs import resize, to_tensor
from hires.ladder import painting_long_edge

LAYOUT_PX = 256
GRID_PX = 8  # the cells pixel_grid looks for: 2, 4 and 8 px


@dataclass(frozen=True)
class Quality:
    """Distances of a picture to its painting (``style``, ``layout``) and photograph (``content``),
    and its pixel grid (``grid``)."""

    style: float
    layout: float
    content: float
    grid: float


def judge_layers(backbone: Backbone, used: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """The layers the judge reads: per block, the first convolution after the first that the
    objective does not use (``block1_conv2`` ... ``block5_conv2`` for VGG; a block with none is
    left out), and for content the
    deepest unused convolution of block 4 (``block4_conv3``), else of block 3.

    Raises:
        ValueError: for a network with no unused layer to judge content on.
    """
    blocks: dict[str, list[str]] = {}
    for name in backbone.layer_names:
        blocks.setdefault(name.split("_")[0], []).append(name)
    # A block whose every layer the objective uses (the tiny test network's block 4) is left out.
    style = tuple(free[0] for free in ([n for n in names[1:] if n not in used] for names in blocks.values()) if free)
    for block in ("block4", "block3"):
        free = [name for name in blocks.get(block, []) if name not in used]
        if free:
            return style, free[-1]
    raise ValueError(f"{backbone.name} has no unused layer in blocks 3 or 4 to judge content on")


class Judge:
    """Scores pictures of one photograph and painting; the network is built once for all of them.

    Args:
        backbone: the network (the judge reads layers of it the objective does not).
        photo, painting: ``(H, W, 3)`` arrays in [0, 1], as read.
        used: the layers the objective uses (content and style).
        style_scale: the painting's long edge relative to the picture's, as a rung asks for it.
        enlarge: a painting smaller than that is shown at its own size times (asked / own) to
            this power, by bicubic, as ``style_enlarge`` does for a rung: 1 (full enlargement, the
            default) whatever the render was shown, 0 the painting at its own size. Which is
            right can only be judged against a larger scan (benchmarks/style_scale.py);
            benchmarks/judge_pictures.py reads a picture against several.
    """

    def __init__(self, backbone: Backbone, photo: np.ndarray, painting: np.ndarray, *, used: Sequence[str],
                 style_scale: float = 1.0, enlarge: float = 1.0) -> None:
        self.style_layers, self.content_layer = judge_layers(backbone, used)
        self.extract = build_extractor(backbone, (*self.style_layers, self.content_layer))
        self.photo, self.painting = to_tensor(photo), to_tensor(painting)
        self.style_scale, self.enlarge = style_scale, enlarge

    def __call__(self, picture: np.ndarray) -> Quality:
        """The distances of one picture ``(H, W, 3)`` in [0, 1]."""
        image = to_tensor(picture)
        height, width = image.shape[1:3]
        style = self._style_distance(image, self._painting_for(image))
        layout = self._style_distance(_long_edge(image, LAYOUT_PX), _long_edge(self.painting, LAYOUT_PX))
        ours = self.extract(image)[self.content_layer]
        theirs = self.extract(resize(self.photo, height, width))[self.content_layer]
        content = float(tf.reduce_sum(tf.square(ours - theirs)) / tf.reduce_sum(tf.square(theirs)))
        return Quality(style, layout, content, pixel_grid(picture))

    def style_by_layer(self, picture: np.ndarray) -> dict[str, float]:
        """The full-size style distance on each of the judge's layers (``style`` is their mean)."""
        image = to_tensor(picture)
        distances = self._layer_distances(image, self._painting_for(image))
        return {name: float(distance) for name, distance in distances.items()}

    def _painting_for(self, image: tf.Tensor) -> tf.Tensor:
        """The painting at the scale a rung asks for a picture of ``image``'s size, enlarged only
        as far as ``enlarge`` says."""
        asked = round(self.style_scale * max(image.shape[1:3]))
        return _long_edge(self.painting, painting_long_edge(max(self.painting.shape[1:3]), asked, self.enlarge))

    def _style_distance(self, image: tf.Tensor, painting: tf.Tensor) -> float:
        """Mean over the judge's layers of ``|G(x) - G(s)| / |G(s)|`` (Frobenius norms)."""
        return float(tf.reduce_mean(list(self._layer_distances(image, painting).values())))

    def _layer_distances(self, image: tf.Tensor, painting: tf.Tensor) -> dict[str, tf.Tensor]:
        ours, theirs = self.extract(image), self.extract(painting)
        return {name: tf.norm(gram_matrix(ours[name]) - gram_matrix(theirs[name])) / tf.norm(gram_matrix(theirs[name]))
                for name in self.style_layers}


def pixel_grid(picture: np.ndarray, period: int = GRID_PX) -> float:
    """How much a picture's texture is locked to a grid of ``period`` px cells: the mean absolute
    difference between neighbouring pixels, averaged by the position (modulo ``period``) along
    each axis; its coefficient of variation over those positions, averaged over both axes.

    A texture free of the pixel grid has the same differences at every position (0.007 to 0.05 in
    the photographs and paintings measured); a texture enlarged from 2x2 px cells has small differences
    inside a cell and large ones between cells. 8 px takes in the cells of 2, 4 and 8 px that
    three enlargements make. (A JPEG's own 8 px blocks count too: judge lossless pictures.)
    """
    image = np.asarray(picture, np.float64)
    variations = []
    for axis in (0, 1):
        steps = np.abs(np.diff(image, axis=axis)).mean(axis=(1 - axis, 2))
        cells = len(steps) // period * period
        by_position = steps[:cells].reshape(-1, period).mean(axis=0)
        variations.append(by_position.std() / by_position.mean() if by_position.mean() > 0 else 0.0)
    return float(np.mean(variations))


def _long_edge(image: tf.Tensor, long_edge_px: int) -> tf.Tensor:
    height, width = image.shape[1:3]
    scale = long_edge_px / max(height, width)
    # Shrinking averages areas. Enlarging by area would repeat rows and columns (one in 16 at
    # 960 -> 1024 px): a grid the painting does not have, which its Gram matrices read as texture
    # (the painting itself read 0.077 from its area enlargement, against renders of 0.09 to 0.12),
    # so a painting is enlarged by bicubic, as a rung enlarges it.
    method = "area" if scale <= 1 else "bicubic"
    return resize(image, max(16, round(height * scale)), max(16, round(width * scale)), method)


def cost_of(rungs: Sequence[tuple[int, int]]) -> float:
    """Evaluation cost in megapixel-evaluations: ``(pixels, evaluations)`` summed over rungs."""
    return sum(pixels * evaluations for pixels, evaluations in rungs) / 1e6
