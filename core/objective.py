"""The objective of Gatys et al. (2016): content, style and total-variation terms of one image.

``make_loss_function`` returns ``image -> {term: scalar}``. The optimisers see an ``Objective``:
its value and gradient, and its terms. ``WholeImageObjective`` evaluates the image in one compiled
graph; ``core.tiles.TiledObjective`` evaluates it in tiles, with the same value and gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Protocol, Sequence

import tensorflow as tf

from core import losses
from core.backbones import Backbone, Extractor, build_extractor
from core.errors import CoreError

PAPER_STYLE_LAYERS = tuple((f"block{i}_conv1", 1.0) for i in range(1, 6))

# Keeps pixels in [0, 1] while L-BFGS runs (see make_loss_function). Large against the other
# terms, which are all of order 1 by construction, so that excursions stay small.
RANGE_WEIGHT = 1e4

class LossTerms(NamedTuple):
    """The objective's terms at one image: scalars, tensors inside the core, floats in reports.

    Attributes:
        total: what the optimiser minimises, the weighted sum of the others.
        content, style, tv: the normalised terms, unweighted.
        range: the pixels' squared excursion outside [0, 1] (weighted by ``RANGE_WEIGHT``).
    """

    total: tf.Tensor | float
    content: tf.Tensor | float = 0.0
    style: tf.Tensor | float = 0.0
    tv: tf.Tensor | float = 0.0
    range: tf.Tensor | float = 0.0

    def as_floats(self) -> LossTerms:
        """The same terms as Python floats (reading each from its device)."""
        return LossTerms(*(float(value) for value in self))


LossFunction = Callable[[tf.Tensor], LossTerms]


def as_loss_terms(value: LossTerms | Mapping[str, tf.Tensor]) -> LossTerms:
    """A loss function's result as ``LossTerms``: a mapping needs ``total``, other terms default to 0."""
    if isinstance(value, LossTerms):
        return value
    return LossTerms(**{name: value[name] for name in LossTerms._fields if name in value})


@dataclass(frozen=True)
class LossSpec:
    """What the loss measures and how its terms are weighted.

    Attributes:
        content_layer: the layer whose features the content term compares (the paper's conv4_2).
        style_layers: (layer, weight) pairs for the style term (the paper's conv1_1 ... conv5_1,
            weighted equally).
        content_weight, style_weight, tv_weight: weights of the normalised terms.
        pooling: "avg" (the paper's) or "max".
        precision: "float32", or "bfloat16" for the network's convolutions (mixed precision:
            Gram matrices, losses and gradients stay float32; see ``build_extractor``).
    """

    content_layer: str = "block4_conv2"
    style_layers: tuple[tuple[str, float], ...] = PAPER_STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 0.0
    pooling: str = "avg"
    precision: str = "float32"

    def __post_init__(self) -> None:
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise CoreError(f"{name.replace('_', ' ')} must be 0 or more, not {getattr(self, name)}")
        if not self.style_layers or any(weight < 0 for _, weight in self.style_layers):
            raise CoreError("style layers need at least one layer, and no negative weight")
        if sum(weight for _, weight in self.style_layers) <= 0:
            raise CoreError("the style layer weights must not all be 0")
        names = [name for name, _ in self.style_layers]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # one Gram target per layer: a repeat would be counted twice by the tiled gradient
            raise CoreError(f"style layer {', '.join(twice)} is listed more than once; list each layer once")

    @property
    def layer_names(self) -> tuple[str, ...]:
        names = [self.content_layer] + [name for name, _ in self.style_layers]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Targets:
    """What the image is pulled towards: content features ``(1, h, w, C)`` and style Grams ``(C, C)``."""

    content: tf.Tensor
    grams: dict[str, tf.Tensor] = field(default_factory=dict)


def make_extractor(backbone: Backbone, spec: LossSpec) -> Extractor:
    """The feature extractor for exactly the layers ``spec`` uses; one per backbone and layers, made
    once, so that what is compiled for it (``core.compiled``) serves every rung of a ladder."""
    key = (id(backbone), spec.layer_names, spec.pooling, spec.precision)
    if key not in _EXTRACTORS or _EXTRACTORS[key][0] is not backbone:
        _EXTRACTORS[key] = (backbone, build_extractor(backbone, spec.layer_names, pooling=spec.pooling,
                                                     precision=spec.precision))
    return _EXTRACTORS[key][1]


_EXTRACTORS: dict[tuple, tuple[Backbone, Extractor]] = {}  # the backbone is kept: its id stays its own


@dataclass(frozen=True)
class LossParts:
    """What a whole-image objective is made of: a compiled program rebuilds it from arguments."""

    extractor: Extractor
    spec: LossSpec
    targets: Targets


def compute_targets(
    extractor: Extractor,
    spec: LossSpec,
    content_image: tf.Tensor,
    style_images: Sequence[tf.Tensor],
    style_blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and blended style Gram matrices.

    Args:
        extractor: from ``make_extractor``.
        spec: the loss specification.
        content_image: ``(1, H, W, 3)`` at the size being rendered.
        style_images: one or more ``(1, H_s, W_s, 3)``, any size (Grams are averaged over positions).
        style_blend: one weight per style image, normalised to sum 1; equal weights if None.

    Returns:
        Targets, whose Grams are the blend-weighted means of the styles' Grams.
    """
    blend = blend_weights(style_images, style_blend)
    content = extractor(content_image)[spec.content_layer]
    grams: dict[str, tf.Tensor] = {}
    for image, weight in zip(style_images, blend):
        features = extractor(image)
        for name, _ in spec.style_layers:
            part = losses.gram_matrix(features[name]) * weight
            grams[name] = grams[name] + part if name in grams else part
    return Targets(content=content, grams=grams)


def blend_weights(style_images: Sequence[tf.Tensor], style_blend: Sequence[float] | None) -> list[float]:
    """One weight per style image, normalised to sum 1 (equal weights if ``style_blend`` is None).

    Raises:
        CoreError: for no style image, or weights that are negative, all 0 or not one per style.
    """
    if not style_images:
        raise CoreError("at least one style image is needed")
    blend = list(style_blend) if style_blend is not None else [1.0] * len(style_images)
    finite = all(math.isfinite(w) and w >= 0 for w in blend)
    if len(blend) != len(style_images) or not finite or sum(blend) <= 0:
        raise CoreError(
            f"style blend {blend} must give one finite, non-negative weight per style ({len(style_images)}), not all 0"
        )
    return [w / sum(blend) for w in blend]


def make_loss_function(extractor: Extractor, spec: LossSpec, targets: Targets) -> LossFunction:
    """``image -> terms``: the weighted objective and each of its parts.

    The returned terms are scalars: ``content``, ``style``, ``tv`` (unweighted), ``range`` (the
    pixels' excursion outside [0, 1]) and ``total`` (the weighted sum the optimiser minimises).

    Why a penalty keeps pixels in range: clipping between L-BFGS chunks would move the point
    away from the one its curvature pairs describe, and a sigmoid reparametrisation slows the
    darkest and brightest pixels to a crawl. A stiff quadratic penalty outside [0, 1] keeps the
    objective smooth and the L-BFGS state exact; the small excursions left are clipped when the
    image is saved.
    """
    style_weights = dict(spec.style_layers)

    def loss_function(image: tf.Tensor) -> LossTerms:
        features = extractor(image)
        content = losses.content_loss(features[spec.content_layer], targets.content)
        grams = {name: losses.gram_matrix(features[name]) for name in style_weights}
        style = losses.style_loss(grams, targets.grams, style_weights)
        tv = losses.total_variation_loss(image) if spec.tv_weight > 0 else tf.constant(0.0)
        excursion = losses.range_penalty(image)
        return assemble_terms(spec, content, style, tv, excursion)

    return loss_function


def assemble_terms(spec: LossSpec, content: tf.Tensor, style: tf.Tensor, tv: tf.Tensor,
                   excursion: tf.Tensor) -> LossTerms:
    """The five scalar terms, with ``total`` their weighted sum (whole image or tiles alike)."""
    total = (
        spec.content_weight * content
        + spec.style_weight * style
        + spec.tv_weight * tv
        + RANGE_WEIGHT * excursion
    )
    return LossTerms(total, content, style, tv, excursion)


class Objective(Protocol):
    """What an optimiser minimises: the total and its gradient, and every term for reports.

    Attributes:
        traces: how many times its compiled functions have been traced (a new shape, or a bug).
    """

    traces: int

    def value_and_gradient(self, image: tf.Tensor, *, scale: tf.Tensor | float = 1.0) -> tuple[tf.Tensor, tf.Tensor]:
        """``image (1, H, W, 3) -> (total, d total / d image (1, H, W, 3))``, both times ``scale``.

        The optimisers minimise a scaled objective; scaling here lets a tiled objective scale
        its gradient in place, instead of the caller making an image-sized copy to scale.
        """

    def terms(self, image: tf.Tensor) -> LossTerms:
        """``image (1, H, W, 3) -> {term: scalar}``, as ``make_loss_function``'s."""


class LastTerms:
    """The terms of the image an objective last evaluated with its gradient.

    Optimisers report the terms of the image they stand on after each chunk, and that is nearly
    always the image they evaluated last (L-BFGS's accepted step). Keeping its terms spares a
    second forward pass per report: 7 % of a 512 px rung's time at 10 iterations a report on a
    2-core CPU, and for a tiled rung a forward pass through every tile.

    The image is held by reference, not copied: it is the optimiser's own position.
    """

    def __init__(self) -> None:
        self._image: tf.Tensor | None = None
        self._terms: LossTerms | None = None

    def keep(self, image: tf.Tensor, terms: LossTerms) -> None:
        self._image, self._terms = image, terms

    def find(self, image: tf.Tensor) -> LossTerms | None:
        """The kept terms if ``image`` holds the same pixels as the kept image, else None."""
        kept = self._image
        if kept is None or kept.shape != image.shape:
            return None
        if kept is image or bool(tf.reduce_all(tf.equal(kept, image))):
            return self._terms
        return None


class WholeImageObjective:
    """A loss function evaluated on the whole image, compiled once per image shape.

    Args:
        loss_function: from ``make_loss_function`` (or any ``image -> terms`` with a ``total``).
        jit_compile: compile with XLA (see ``hires bench`` for where it helps).
        parts: the extractor, specification and targets ``loss_function`` was made of; with
            them the optimiser may run its loop compiled (``core.compiled``).

    ``traces`` counts both compiled functions: 1 for an image shape whose terms were only asked
    of images already evaluated (see ``LastTerms``), else 2.
    """

    def __init__(self, loss_function: LossFunction, *, jit_compile: bool = False,
                 parts: LossParts | None = None) -> None:
        self.loss_function = loss_function
        self.jit_compile = jit_compile
        self.parts = parts  # what the loss function was made of, when it came from make_loss_function
        self.traces = 0
        # No autograph: the objective has no tensor-dependent Python control flow to convert, and
        # autograph's generated sources are files in $TMPDIR that a killed process leaves behind.
        self._value_and_gradient = tf.function(self._counted, jit_compile=jit_compile, autograph=False)
        self._terms = tf.function(self._counted_terms, jit_compile=jit_compile, autograph=False)
        self._last = LastTerms()

    def _counted_terms(self, image: tf.Tensor) -> LossTerms:
        self.traces += 1  # runs only while tracing
        return as_loss_terms(self.loss_function(image))

    def _counted(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, LossTerms]:
        self.traces += 1  # runs only while tracing
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = as_loss_terms(self.loss_function(image))
        return terms.total, tape.gradient(terms.total, image), terms

    def value_and_gradient(self, image: tf.Tensor, *, scale: tf.Tensor | float = 1.0) -> tuple[tf.Tensor, tf.Tensor]:
        total, gradient, terms = self._value_and_gradient(image)
        self._last.keep(image, terms)
        if isinstance(scale, float) and scale == 1.0:
            return total, gradient
        return total * scale, gradient * scale

    def terms(self, image: tf.Tensor) -> LossTerms:
        kept = self._last.find(image)
        return kept if kept is not None else self._terms(image)


def whole_image_objective(extractor: Extractor, spec: LossSpec, targets: Targets, *,
                          jit_compile: bool = False) -> WholeImageObjective:
    """``WholeImageObjective`` of ``make_loss_function(extractor, spec, targets)``, its parts kept."""
    return WholeImageObjective(make_loss_function(extractor, spec, targets), jit_compile=jit_compile,
                               parts=LossParts(extractor, spec, targets))


def as_objective(loss: LossFunction | Objective) -> Objective:
    """An ``Objective`` as it is, or a loss function wrapped in ``WholeImageObjective``."""
    return loss if hasattr(loss, "value_and_gradient") else WholeImageObjective(loss)
