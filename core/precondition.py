"""A change of variables for a later rung: L-BFGS takes small steps in the frequencies the rung
below already rendered, and full steps in those it could not hold.

Why: a later rung starts from the rung below enlarged. Its layout (the coarse frequencies) is
already right, and what its iterations have to make is the fine texture. On plain pixels L-BFGS
moves every frequency alike; the coarse ones, which the content loss and the deep style layers
hold stiffly, limit its step, and moving them undoes the layout the rung below made (measured in
``docs/performance.md``, "Later rungs: small steps for the layout": on plain pixels the 1024 px
rung's layout distance rose by two thirds in its first 20 iterations).

L-BFGS runs over c, with the picture x = A c. A is a filter, the same on every colour channel,
whose gain is 1 at the frequencies above ``band`` cycles per pixel (0.25 when the rung below is
half the size: its Nyquist frequency) and falls as (f / band) below it, to no less than
``coarse_step`` at the lowest. A is symmetric, so the gradient over c is A applied to the
gradient over x, and invertible (its gain is at least ``coarse_step`` > 0), so a start x0 is
c0 = A^-1 x0. It changes only the path L-BFGS takes, not the loss it minimises; tiles are
evaluated on x, exactly as before.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class Preconditioner:
    """The filter A for one image shape; see the module docstring.

    Args:
        height, width: the image's size in pixels.
        band: the frequency (cycles per pixel, at most 0.5) from which steps are full.
        coarse_step: the gain at the lowest frequencies, in (0, 1]; 1 is plain pixels.
    """

    def __init__(self, height: int, width: int, band: float, coarse_step: float) -> None:
        if not 0 < coarse_step <= 1:
            raise ValueError(f"coarse_step must be in (0, 1], not {coarse_step}")
        if not 0 < band <= 0.5:
            raise ValueError(f"band must be in (0, 0.5] cycles per pixel, not {band}")
        self.height, self.width = height, width
        radius = radial_frequency(height, width)
        gain = np.maximum(np.minimum(radius / band, 1.0), coarse_step)
        self._gain = tf.constant(gain, tf.complex64)
        self._inverse = tf.constant(1.0 / gain, tf.complex64)

    @property
    def gain(self) -> tf.Tensor:
        """The filter's gain over ``rfft2d``'s frequencies, ``(H, W // 2 + 1)``."""
        return self._gain

    def _filter(self, image: tf.Tensor, response: tf.Tensor) -> tf.Tensor:
        return apply_gain(image, response, [1, self.height, self.width, 3])

    def to_image(self, c: tf.Tensor) -> tf.Tensor:
        """x = A c, in ``c``'s shape (flat or ``(1, H, W, 3)``)."""
        return self._filter(c, self._gain)

    def gradient(self, gradient: tf.Tensor) -> tf.Tensor:
        """The gradient over c from the gradient over x: A^T g = A g."""
        return self._filter(gradient, self._gain)

    def from_image(self, x: tf.Tensor) -> tf.Tensor:
        """c = A^-1 x."""
        return self._filter(x, self._inverse)


def apply_gain(image: tf.Tensor, gain: tf.Tensor, shape) -> tf.Tensor:
    """``image`` (flat, or of ``shape`` ``(1, H, W, 3)``) filtered by ``gain`` on each channel, in its own shape."""
    height, width = shape[1], shape[2]
    planes = tf.transpose(tf.reshape(image, shape), [0, 3, 1, 2])
    out = tf.signal.irfft2d(tf.signal.rfft2d(planes) * gain, fft_length=tf.stack([height, width]))
    return tf.reshape(tf.transpose(out, [0, 2, 3, 1]), tf.shape(image))


def radial_frequency(height: int, width: int) -> np.ndarray:
    """Each of ``rfft2d``'s frequencies for an ``height`` x ``width`` image, in cycles per pixel,
    ``(H, W // 2 + 1)``: where a filter's gain is placed."""
    return np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])


def band_below(long_edge_below: int, long_edge: int) -> float:
    """The highest frequency (cycles per pixel here) a rung ``long_edge_below`` px long could hold."""
    return min(0.5, 0.5 * long_edge_below / long_edge)
