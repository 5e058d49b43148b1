"""The later rungs' change of variables: an invertible symmetric filter, and L-BFGS over it."""

import numpy as np
import pytest
import tensorflow as tf

from core.objective import LossSpec, compute_targets, make_extractor, whole_image_objective
from core.optimize import minimize_lbfgs
from core.precondition import Preconditioner, band_below
from tests.conftest import noise_image, smooth_image


def _objective(tiny, height, width):
    spec = LossSpec()
    extractor = make_extractor(tiny, spec)
    content = tf.constant(smooth_image(height, width, 1))
    targets = compute_targets(extractor, spec, content, [tf.constant(noise_image(40, 40, 2))])
    return whole_image_objective(extractor, spec, targets), content


def test_the_filter_damps_only_what_the_rung_below_held_and_is_undone_by_its_inverse():
    rng = np.random.default_rng(0)
    pre = Preconditioner(32, 48, band=0.25, coarse_step=0.1)
    c = tf.constant(rng.normal(size=(1, 32, 48, 3)), tf.float32)
    np.testing.assert_allclose(pre.from_image(pre.to_image(c)).numpy(), c.numpy(), atol=1e-4)
    flat = tf.reshape(c, [-1])  # L-BFGS's flat position is filtered alike
    np.testing.assert_allclose(pre.to_image(flat).numpy(), tf.reshape(pre.to_image(c), [-1]).numpy(), atol=1e-6)
    level = tf.fill([1, 32, 48, 3], 0.5)  # the lowest frequency: a tenth
    np.testing.assert_allclose(pre.to_image(level).numpy(), 0.05, atol=1e-6)
    checks = np.indices((32, 48)).sum(axis=0) % 2 - 0.5  # the highest, without a mean: untouched
    fine = tf.constant(np.repeat(checks[None, ..., None], 3, axis=-1), tf.float32)
    np.testing.assert_allclose(pre.to_image(fine).numpy(), fine.numpy(), atol=1e-5)


def test_the_gradient_over_c_is_the_filter_of_the_gradient_over_the_image():
    """A is symmetric: d f(A c) / dc = A^T grad f = A grad f."""
    rng = np.random.default_rng(1)
    pre = Preconditioner(16, 24, band=0.25, coarse_step=0.2)
    weights = tf.constant(rng.normal(size=(1, 16, 24, 3)), tf.float32)
    c = tf.constant(rng.normal(size=(1, 16, 24, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(c)
        value = tf.reduce_sum(weights * pre.to_image(c) ** 2)
    expected = tape.gradient(value, c)
    image = pre.to_image(c)
    np.testing.assert_allclose(pre.gradient(2 * weights * image).numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("coarse_step, band", [(0.0, 0.25), (1.5, 0.25), (0.1, 0.0), (0.1, 0.6)])
def test_a_filter_that_could_not_be_undone_is_refused(coarse_step, band):
    with pytest.raises(ValueError):
        Preconditioner(8, 8, band=band, coarse_step=coarse_step)


def test_the_band_is_the_rung_below_s_nyquist_frequency():
    assert band_below(512, 1024) == 0.25
    assert band_below(724, 1024) == pytest.approx(0.3535, abs=1e-4)
    assert band_below(1024, 1024) == 0.5


def test_lbfgs_over_c_lowers_the_loss_and_compiled_chunks_follow_the_eager_loop(tiny):
    """The same objective, minimised over c: lower than from the start, the layout (the start's
    low frequencies) moved less than on plain pixels, and the compiled program takes the same path."""
    objective, start = _objective(tiny, 32, 48)
    pre = Preconditioner(32, 48, band=0.25, coarse_step=0.1)
    eager = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=4, preconditioner=pre)
    plain = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=4)
    assert eager.terms.total < float(objective.terms(start).total)

    def coarse(image):  # the picture shrunk 8x: what the filter holds back
        return tf.image.resize(image, (4, 6), method="area").numpy()

    assert np.abs(coarse(eager.image) - coarse(start)).mean() < np.abs(coarse(plain.image) - coarse(start)).mean()
    objective, start = _objective(tiny, 32, 48)
    compiled = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=4, compiled=True, preconditioner=pre)
    assert compiled.terms.total == pytest.approx(eager.terms.total, rel=1e-3)
    np.testing.assert_allclose(compiled.image.numpy(), eager.image.numpy(), atol=2e-3)


@pytest.mark.parametrize("compiled", [False, True])
def test_lbfgs_over_c_resumes_exactly(tiny, compiled):
    objective, start = _objective(tiny, 32, 48)
    pre = Preconditioner(32, 48, band=0.25, coarse_step=0.1)
    whole = minimize_lbfgs(objective, start, iterations=10, chunk_iterations=10, compiled=compiled, preconditioner=pre)
    first = minimize_lbfgs(objective, start, iterations=4, chunk_iterations=4, compiled=compiled, preconditioner=pre)
    resumed = minimize_lbfgs(objective, start, iterations=10, chunk_iterations=3, compiled=compiled,
                             preconditioner=pre, state=first.state)
    np.testing.assert_array_equal(resumed.image.numpy(), whole.image.numpy())
    assert resumed.terms.total == pytest.approx(whole.terms.total, rel=1e-6)
