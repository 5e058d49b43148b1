"""The pictures a render reads, as tensors, and what colour preservation makes of them.

Images here are float32 tensors ``(1, H, W, 3)`` in [0, 1], as in ``core``; files are read by
``hires.images``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from core.precondition import apply_gain, band_below, radial_frequency
from hires import colour, images
from hires.config import RenderSettings
from hires.errors import HiresError

INIT_CHOICES = ("content", "noise")  # anything else given as --init is an image's path


@dataclass(frozen=True)
class Inputs:
    """Everything read before the first rung, checked up front so that errors come early.

    Attributes:
        content, styles: the photograph and the paintings as given.
        transfer_content, transfer_styles: what the optimiser sees (grey for
            ``--preserve-colors luminance``, recoloured paintings for ``histogram``).
        init: the ``--init`` image, or None for content or noise.
        preserve_colors: how the optimised picture becomes the one saved (see ``presenter``).
        notes: what reading changed that the user may not expect (``images.read_image``).
    """

    content: tf.Tensor
    styles: list[tf.Tensor]
    transfer_content: tf.Tensor
    transfer_styles: list[tf.Tensor]
    init: tf.Tensor | None
    preserve_colors: str = "none"
    notes: tuple[str, ...] = ()


def to_tensor(image: np.ndarray) -> tf.Tensor:
    """``(H, W, 3)`` array -> ``(1, H, W, 3)`` float32 tensor (one copy, the tensor's)."""
    return tf.constant(np.asarray(image, np.float32)[None])


def resize(image: tf.Tensor, height: int, width: int, method: str = "bicubic") -> tf.Tensor:
    """Resizes ``(1, H, W, 3)`` with anti-aliasing when shrinking, clipped to [0, 1]."""
    if tuple(image.shape[1:3]) == (height, width):
        return image
    shrinking = height < image.shape[1] or width < image.shape[2]
    resized = tf.image.resize(image, (height, width), method=method, antialias=shrinking)
    return tf.clip_by_value(resized, 0.0, 1.0)


# The band-limited enlargement keeps every frequency below this fraction of the rung below's
# band and rolls off to none at the band (a raised cosine): a narrow roll-off keeps nearly all the
# rung below holds. 0.9 is the one value judged (docs/performance.md, "Enlarging without a grid").
ROLL_OFF_FROM = 0.9
# Mirrored pixels around the picture before its Fourier transform, so that the filter does not
# wrap one edge onto the other; 64 px leave the result within 0.0003 of a full mirror's.
MIRROR_PX = 64


def enlarge(image: tf.Tensor, height: int, width: int, method: str) -> tf.Tensor:
    """A rung's picture ``(1, h, w, 3)`` enlarged to start the next rung, by ``method``
    (``hires.ladder.UPSAMPLE_METHODS``).

    "bandlimited" is bicubic with every frequency above what the rung below could hold removed:
    interpolation repeats the rung's finest texture above its band, phase-locked to its pixels,
    which draws a grid of 2 px cells into the start (and, enlarged again, of 4, 8, 16 px).
    """
    if method != "bandlimited":
        return resize(image, height, width, method)
    enlarged = resize(image, height, width, "bicubic")
    if (height, width) == tuple(image.shape[1:3]):
        return enlarged
    return band_limit(enlarged, band_below(max(image.shape[1:3]), max(height, width)))


def band_limit(image: tf.Tensor, band: float) -> tf.Tensor:
    """``(1, H, W, 3)`` without the frequencies above ``band`` cycles per pixel (see ``enlarge``)."""
    height, width = image.shape[1:3]
    pad = min(MIRROR_PX, height, width)
    padded = tf.pad(image, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    shape = [1, height + 2 * pad, width + 2 * pad, 3]
    radius = radial_frequency(shape[1], shape[2])
    rolled = np.clip((radius - ROLL_OFF_FROM * band) / ((1 - ROLL_OFF_FROM) * band), 0.0, 1.0)
    gain = tf.constant(0.5 * (1 + np.cos(np.pi * rolled)), tf.complex64)
    filtered = apply_gain(padded, gain, shape)[:, pad:pad + height, pad:pad + width, :]
    return tf.clip_by_value(filtered, 0.0, 1.0)


def read_inputs(content: Path, styles: Sequence[Path], settings: RenderSettings) -> Inputs:
    """Reads the photograph, the paintings and the ``--init`` image, and applies colour preservation.

    Raises:
        HiresError: for an unreadable picture, or a style blend with a weight count that is not
            the paintings' count.
    """
    limit, notes = settings.max_input_megapixels, []
    photo = images.read_image(content, max_megapixels=limit, notes=notes)
    paintings = [images.read_image(path, max_megapixels=limit, notes=notes) for path in styles]
    init = None
    if settings.init not in INIT_CHOICES:
        init = images.read_image(settings.init, max_megapixels=limit, notes=notes)
    if settings.style_blend is not None and len(settings.style_blend) != len(paintings):
        raise HiresError(
            f"--style-blend (or the config's style_blend) has {len(settings.style_blend)} weights for "
            f"{len(paintings)} styles; give one per style")
    transfer_content, transfer_styles = photo, paintings
    if settings.preserve_colors == "luminance":
        transfer_content = colour.luminance_image(photo)
        transfer_styles = [colour.match_luminance(style, photo) for style in paintings]
        init = None if init is None else colour.luminance_image(init)
    elif settings.preserve_colors == "histogram":
        transfer_styles = [colour.match_histogram(style, photo) for style in paintings]
    return Inputs(to_tensor(photo), [to_tensor(s) for s in paintings], to_tensor(transfer_content),
                  [to_tensor(s) for s in transfer_styles], None if init is None else to_tensor(init),
                  settings.preserve_colors, tuple(notes))


def initial_image(settings: RenderSettings, content: tf.Tensor, init: tf.Tensor | None,
                  height: int, width: int) -> tf.Tensor:
    """The first rung's starting point: the content, seeded uniform noise, or the ``--init`` image."""
    if settings.init == "noise":
        rng = np.random.default_rng(settings.seed)
        return tf.constant(rng.uniform(0.0, 1.0, size=(1, height, width, 3)).astype(np.float32))
    return resize(init if init is not None else content, height, width)


def rung_start(settings: RenderSettings, previous: tf.Tensor, index: int, height: int, width: int,
               content: tf.Tensor) -> tf.Tensor:
    """A later rung's starting point: the rung below enlarged, plus ``start_detail`` times the
    photograph's detail the rung below could not hold (``photo_detail``), plus ``start_noise``.

    The enlargement is soft, and the rung's first iterations are spent growing the fine texture
    the painting has at this size out of smooth patches; noise gives it something to grow from,
    as a texture synthesis starts from noise (docs/performance.md, "Noise in a rung's start").
    Stateless and seeded by the seed and the rung, so a render and its resume start alike.
    """
    start = enlarge(previous, height, width, settings.ladder.upsample)
    if settings.start_detail > 0:
        detail = photo_detail(content, tuple(previous.shape[1:3]), height, width, settings.ladder.upsample)
        start = tf.clip_by_value(start + settings.start_detail * detail, 0.0, 1.0)
    if settings.start_noise == 0:
        return start
    noise = tf.random.stateless_normal(tf.shape(start), seed=[settings.seed, index], stddev=settings.start_noise)
    return tf.clip_by_value(start + noise, 0.0, 1.0)


def photo_detail(content: tf.Tensor, below: tuple[int, int], height: int, width: int, method: str) -> tf.Tensor:
    """The photograph at ``height`` x ``width`` less what a rung of size ``below`` holds of it,
    enlarged as that rung's picture is enlarged: the detail a later rung has to draw anew.

    A photograph smaller than the rung is enlarged the same way, so that the difference holds
    only detail it has: none where it is no larger than the rung below, rather than the copies
    of its finest texture that interpolation adds."""
    enlarged = max(content.shape[1:3]) < max(height, width)
    at_rung = enlarge(content, height, width, method) if enlarged else resize(content, height, width)
    return at_rung - enlarge(resize(content, *below), height, width, method)


def presenter(inputs: Inputs) -> Callable[[np.ndarray], np.ndarray]:
    """The function that turns an optimised image ``(H, W, 3)`` into the picture to save."""
    if inputs.preserve_colors != "luminance":
        return lambda image: image

    def join(image: np.ndarray) -> np.ndarray:
        content = resize(inputs.content, image.shape[0], image.shape[1])[0].numpy()
        return colour.join_chroma(image, content)

    return join
