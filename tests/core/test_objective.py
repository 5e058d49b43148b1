"""The objective: normalisation across sizes, targets, blends."""

import numpy as np
import pytest
import tensorflow as tf

from core.errors import CoreError
from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function
from tests.conftest import noise_image, smooth_image


def _read(path, size):
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.LANCZOS)
    return tf.constant(np.asarray(image, np.float32)[None] / 255.0)


def _terms(backbone, spec, content, style, image):
    extractor = make_extractor(backbone, spec)
    targets = compute_targets(extractor, spec, content, [style])
    return make_loss_function(extractor, spec, targets)(image).as_floats()


@pytest.mark.real
def test_each_term_agrees_between_image_and_its_2x_upscale(hed, shared_images):
    """One set of weights, one balance: no term may grow or shrink with the pixel count.

    A half-stylised picture (the photograph blended with the painting) at 128 px and its 2x
    bicubic upscale, each against targets at its own size. The paper's sums would differ 4x
    (content, total variation) and 16x (style) here.
    """
    spec = LossSpec(tv_weight=1.0)
    content = _read(shared_images / "tubingen.jpg", 128)
    style = _read(shared_images / "starry_night.jpg", 128)
    image = 0.7 * content + 0.3 * style
    small = _terms(hed, spec, content, style, image)
    up = [tf.image.resize(x, (256, 256), method="bicubic") for x in (content, style, image)]
    large = _terms(hed, spec, *up)
    for term in ("content", "style", "tv"):
        before, after = getattr(small, term), getattr(large, term)
        assert before > 0
        assert abs(after / before - 1) < 0.05, (term, before, after)


def test_content_image_has_zero_content_loss(tiny):
    spec = LossSpec()
    content = tf.constant(smooth_image(32, 48))
    extractor = make_extractor(tiny, spec)
    targets = compute_targets(extractor, spec, content, [tf.constant(smooth_image(40, 40, 5))])
    terms = make_loss_function(extractor, spec, targets)(content)
    assert float(terms.content) == 0.0
    assert float(terms.style) > 0.0


def test_blend_weights_one_zero_equal_the_single_style(tiny):
    spec = LossSpec()
    extractor = make_extractor(tiny, spec)
    content, first, second = (tf.constant(smooth_image(32, 32, seed)) for seed in (1, 2, 3))
    single = compute_targets(extractor, spec, content, [first])
    blended = compute_targets(extractor, spec, content, [first, second], [1.0, 0.0])
    for name in single.grams:
        np.testing.assert_allclose(blended.grams[name].numpy(), single.grams[name].numpy(), rtol=1e-6)


def test_bad_blend_and_weights_are_refused(tiny):
    spec = LossSpec()
    extractor = make_extractor(tiny, spec)
    image = tf.constant(smooth_image(32, 32))
    with pytest.raises(CoreError, match="blend"):
        compute_targets(extractor, spec, image, [image], [1.0, 2.0])
    with pytest.raises(CoreError, match="style weight"):
        LossSpec(style_weight=-1.0)
    with pytest.raises(CoreError, match="no layer"):
        make_extractor(tiny, LossSpec(content_layer="block9_conv9"))
    with pytest.raises(CoreError, match="block1_conv1 is listed more than once"):
        LossSpec(style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0), ("block1_conv1", 0.5)))


def test_xla_compiled_objective_equals_the_plain_graph(tiny):
    from core.objective import WholeImageObjective

    spec = LossSpec(tv_weight=0.5)
    extractor = make_extractor(tiny, spec)
    content = tf.constant(smooth_image(48, 64, 1))
    targets = compute_targets(extractor, spec, content, [tf.constant(noise_image(40, 40, 2))])
    loss_function = make_loss_function(extractor, spec, targets)
    image = tf.constant(noise_image(48, 64, 3))
    plain = WholeImageObjective(loss_function).value_and_gradient(image)
    xla = WholeImageObjective(loss_function, jit_compile=True).value_and_gradient(image)
    assert abs(float(xla[0]) / float(plain[0]) - 1) < 1e-5
    scale = float(tf.reduce_max(tf.abs(plain[1])))
    assert float(tf.reduce_max(tf.abs(xla[1] - plain[1]))) / scale < 1e-4


def test_terms_of_the_last_evaluated_image_are_kept_and_equal_a_fresh_pass(tiny):
    from core.objective import WholeImageObjective

    spec = LossSpec(tv_weight=0.5)
    extractor = make_extractor(tiny, spec)
    content = tf.constant(smooth_image(48, 64, 1))
    loss_function = make_loss_function(
        extractor, spec, compute_targets(extractor, spec, content, [tf.constant(noise_image(40, 40, 2))]))
    image = tf.constant(noise_image(48, 64, 3))
    objective = WholeImageObjective(loss_function)
    total, _ = objective.value_and_gradient(image)
    kept = objective.terms(tf.identity(image))  # the same pixels in another tensor
    assert objective.traces == 1  # no second pass was traced for them
    fresh = loss_function(image)
    assert float(kept.total) == pytest.approx(float(total))
    for name, value in fresh._asdict().items():
        assert float(getattr(kept, name)) == pytest.approx(float(value), rel=1e-5), name
    # Another image, even one pixel apart, gets its own pass.
    moved = tf.tensor_scatter_nd_add(image, [[0, 0, 0, 0]], [0.25])
    assert float(objective.terms(moved).total) == pytest.approx(float(loss_function(moved).total), rel=1e-5)
    assert float(objective.terms(moved).total) != float(kept.total)
    assert objective.traces == 2


def test_mixed_precision_keeps_loss_and_gradient_float32_and_close(tiny):
    """bfloat16 features, float32 Grams and losses: the gradient L-BFGS sees is float32 and
    points where float32's does."""
    content, style = tf.constant(smooth_image(48, 64, 1)), tf.constant(smooth_image(40, 40, 2))
    image = tf.constant(0.6 * smooth_image(48, 64, 1) + 0.4 * noise_image(48, 64))
    results = {}
    for precision in ("float32", "bfloat16"):
        spec = LossSpec(precision=precision)
        extractor = make_extractor(tiny, spec)
        loss = make_loss_function(extractor, spec, compute_targets(extractor, spec, content, [style]))
        with tf.GradientTape() as tape:
            tape.watch(image)
            total = loss(image).total
        results[precision] = (total, tape.gradient(total, image))
    (full, full_grad), (mixed, mixed_grad) = results["float32"], results["bfloat16"]
    assert mixed.dtype == tf.float32 and mixed_grad.dtype == tf.float32
    assert abs(float(mixed) / float(full) - 1) < 0.05
    cosine = float(tf.reduce_sum(full_grad * mixed_grad) / (tf.norm(full_grad) * tf.norm(mixed_grad)))
    assert cosine > 0.99, cosine
