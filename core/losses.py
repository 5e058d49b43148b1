"""Loss terms of Gatys et al. (2016), as pure functions of tensors.

Every term is normalised so that one set of weights strikes the same balance at every resolution
and on every backbone, where the paper's sums grow with the number of pixels and with the scale
of each network's activations:

- content: the mean squared feature difference, relative to the target's mean square;
- style: Gram matrices averaged over positions (not summed), and each layer's squared Frobenius
  distance relative to the target Gram's squared norm;
- total variation: the sum of squared neighbour differences, which approximates the Dirichlet
  energy of the image and so does not change when a smooth image is upsampled.
"""

from __future__ import annotations

import tensorflow as tf

EPSILON = 1e-12  # keeps relative losses finite for an all-zero target


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """The Gram matrix of a feature map, averaged over positions.

    Args:
        features: ``(1, H, W, C)``.

    Returns:
        ``(C, C)``: ``F^T F / (H W)`` with ``F`` the ``(H W, C)`` matrix of features.
    """
    return gram_sum(features) / positions(features)


def gram_sum(features: tf.Tensor) -> tf.Tensor:
    """``F^T F`` for features ``(1, H, W, C)``: ``(C, C)``, summed (not averaged) over positions."""
    flat = tf.reshape(features, [-1, tf.shape(features)[-1]])
    return tf.matmul(flat, flat, transpose_a=True)


def positions(features: tf.Tensor) -> tf.Tensor:
    """The number of positions ``H W`` of features ``(1, H, W, C)``, as float32."""
    shape = tf.shape(features)
    return tf.cast(shape[1] * shape[2], tf.float32)


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Relative squared error between features and the content target.

    Args:
        features: ``(1, H, W, C)`` of the image being optimised.
        target: ``(1, H, W, C)`` of the content image.

    Returns:
        Scalar: ``mean((F - P)^2) / mean(P^2)``; 0 at the content image, about 1 or more for an
        unrelated image.
    """
    return tf.reduce_mean(tf.square(features - target)) / (tf.reduce_mean(tf.square(target)) + EPSILON)


def style_layer_loss(gram: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """Relative squared Frobenius distance between two Gram matrices ``(C, C)``: a scalar."""
    return tf.reduce_sum(tf.square(gram - target_gram)) / (tf.reduce_sum(tf.square(target_gram)) + EPSILON)


def style_loss(
    grams: dict[str, tf.Tensor], target_grams: dict[str, tf.Tensor], layer_weights: dict[str, float]
) -> tf.Tensor:
    """Weighted mean over layers of ``style_layer_loss``.

    Args:
        grams: layer name -> ``(C, C)`` Gram matrix of the image being optimised.
        target_grams: layer name -> ``(C, C)`` Gram matrix of the style.
        layer_weights: layer name -> weight; the weights are divided by their sum.

    Returns:
        Scalar.
    """
    total_weight = sum(layer_weights.values())
    terms = [weight * style_layer_loss(grams[name], target_grams[name]) for name, weight in layer_weights.items()]
    return tf.add_n(terms) / total_weight


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Sum of squared differences between neighbouring pixels, averaged over channels.

    Args:
        image: ``(1, H, W, 3)`` in [0, 1].

    Returns:
        Scalar; 0 for a flat image. Upsampling a smooth image 2x leaves it about unchanged:
        differences halve, squares quarter, and there are four times as many of them.
    """
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return (tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))) / 3.0


def range_penalty(image: tf.Tensor) -> tf.Tensor:
    """Mean squared excursion of pixels outside [0, 1]: 0 for any image inside the range."""
    below = tf.nn.relu(-image)
    above = tf.nn.relu(image - 1.0)
    return tf.reduce_mean(tf.square(below) + tf.square(above))
