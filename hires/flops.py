"""Floating-point operations of one objective evaluation, counted from the backbone's layer shapes.

Pure arithmetic on the kernels' shapes: no TensorFlow. What is counted, per evaluation (value
and gradient with respect to the image):

- each 3x3 convolution up to the deepest layer the loss uses: ``2 H W C_in C_out 9`` forward,
  and as much again backward for the gradient with respect to its input. Not 3x: the kernels
  are constants, so the gradient with respect to them is never wanted, and a compiled
  (``tf.function``) graph prunes the ``Conv2DBackpropFilter`` that TensorFlow's gradient emits
  (measured on vgg16-hed at 256 px: forward + input gradient 1.3 s, with the kernel gradient
  as well 2.3 s);
- each style layer's Gram matrix ``F^T F``, ``F`` of ``(H W, C)``: ``2 H W C^2`` forward, and
  twice that backward (both operands are the features, so both of the matmul's gradients are
  needed).

Not counted: biases, ReLUs, pooling, the mean-subtracting pre-processing and the losses' own
element-wise sums, all linear in the activations and together well under 1% of the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from core.backbones import Backbone

CONVOLUTION_PASSES = 2  # forward, and backward to the input (not to the constant kernels)
GRAM_PASSES = 3  # forward, and backward to each of the two (identical) operands


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one forward pass, split by kind, and of one evaluation (forward and backward).

    Attributes:
        convolution_forward: the convolutions' multiply-adds x 2, forward only.
        gram_forward: the Gram matrices' multiply-adds x 2, forward only.
        layers: how many convolutions were counted (up to the deepest layer the loss uses).
    """

    convolution_forward: int
    gram_forward: int
    layers: int

    @property
    def evaluation(self) -> int:
        """FLOPs of one value-and-gradient evaluation."""
        return CONVOLUTION_PASSES * self.convolution_forward + GRAM_PASSES * self.gram_forward


def count_flops(
    backbone: Backbone, *, layer_names: Sequence[str], style_layer_names: Sequence[str],
    height_px: int, width_px: int,
) -> FlopCount:
    """FLOPs of the objective on a ``height_px x width_px`` image.

    Follows ``core.backbones.build_extractor``: 3x3 "SAME" convolutions, a 2x2 stride-2 "VALID"
    pool (floor division of the sides) between blocks, evaluated up to the deepest of
    ``layer_names``.

    Args:
        backbone: the network; only its kernels' shapes ``(3, 3, C_in, C_out)`` are read.
        layer_names: every layer the loss uses (content and style).
        style_layer_names: the layers whose Gram matrices the style term takes.
        height_px, width_px: the image's sides.

    Returns:
        A ``FlopCount``; ``.evaluation`` is the total per value-and-gradient evaluation.

    Raises:
        CoreError: for a layer the backbone does not have.
    """
    backbone.check_layers(list(layer_names) + list(style_layer_names))
    last = max(backbone.layer_names.index(name) for name in [*layer_names, *style_layer_names])
    grams = set(style_layer_names)
    height, width, previous_block = height_px, width_px, None
    convolution = gram = 0
    for layer in backbone.layers[: last + 1]:
        block = layer.name.split("_")[0]
        if previous_block is not None and block != previous_block:
            height, width = height // 2, width // 2
        kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
        convolution += 2 * height * width * channels_in * channels_out * kernel_h * kernel_w
        if layer.name in grams:
            gram += 2 * height * width * channels_out * channels_out
        previous_block = block
    return FlopCount(convolution, gram, last + 1)
