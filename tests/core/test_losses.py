"""Analytic checks of the loss functions."""

import numpy as np
import tensorflow as tf

from core import losses
from tests.conftest import smooth_image


def test_gram_of_constant_map_is_outer_product_of_the_constant():
    values = np.array([1.0, 2.0, -3.0], np.float32)
    features = tf.constant(np.broadcast_to(values, (1, 5, 7, 3)).copy())
    np.testing.assert_allclose(losses.gram_matrix(features).numpy(), np.outer(values, values), rtol=1e-6)


def test_gram_is_averaged_over_positions():
    features = tf.constant(np.random.default_rng(0).normal(size=(1, 4, 6, 5)).astype(np.float32))
    flat = features.numpy().reshape(-1, 5)
    np.testing.assert_allclose(losses.gram_matrix(features).numpy(), flat.T @ flat / 24, rtol=1e-5)
    np.testing.assert_allclose(losses.gram_sum(features).numpy(), flat.T @ flat, rtol=1e-5)


def test_total_variation_of_flat_image_is_zero():
    assert float(losses.total_variation_loss(tf.fill((1, 9, 11, 3), 0.3))) == 0.0


def test_total_variation_of_a_step_counts_each_edge():
    image = np.zeros((1, 4, 4, 3), np.float32)
    image[:, :, 2:, :] = 1.0  # a vertical edge: 4 rows x 1 horizontal difference of 1, in 3 channels
    assert float(losses.total_variation_loss(tf.constant(image))) == 4.0


def test_content_loss_is_zero_at_target_and_relative():
    target = tf.constant(np.random.default_rng(1).uniform(size=(1, 4, 4, 8)).astype(np.float32))
    assert float(losses.content_loss(target, target)) == 0.0
    np.testing.assert_allclose(float(losses.content_loss(2 * target, target)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(float(losses.content_loss(20 * target, 10 * target)), 1.0, rtol=1e-5)


def test_style_layer_loss_is_relative_to_target():
    gram = tf.constant(np.eye(4, dtype=np.float32))
    assert float(losses.style_layer_loss(gram, gram)) == 0.0
    np.testing.assert_allclose(float(losses.style_layer_loss(3 * gram, gram)), 4.0, rtol=1e-6)


def test_style_loss_weights_layers():
    eye = tf.constant(np.eye(2, dtype=np.float32))
    grams = {"a": 2 * eye, "b": eye}
    targets = {"a": eye, "b": eye}
    assert float(losses.style_loss(grams, targets, {"a": 1.0, "b": 1.0})) == 0.5
    assert float(losses.style_loss(grams, targets, {"a": 3.0, "b": 1.0})) == 0.75


def test_range_penalty_is_zero_inside_and_grows_outside():
    assert float(losses.range_penalty(tf.constant(smooth_image(8, 8)))) == 0.0
    outside = tf.constant(np.full((1, 2, 2, 3), 1.5, np.float32))
    np.testing.assert_allclose(float(losses.range_penalty(outside)), 0.25)


def test_total_variation_is_unchanged_by_2x_upscale_of_smooth_image():
    image = tf.constant(smooth_image(64, 64))
    upscaled = tf.image.resize(image, (128, 128), method="bilinear")
    small, large = float(losses.total_variation_loss(image)), float(losses.total_variation_loss(upscaled))
    assert abs(large / small - 1) < 0.05
