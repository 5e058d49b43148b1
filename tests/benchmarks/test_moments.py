"""The mean and standard deviation term measured in docs/performance.md ("A mean and standard deviation term")."""

import numpy as np
import tensorflow as tf

from core.backbones import load_backbone
from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function
from tests.benchmarks.test_plateau import load
from tests.conftest import noise_image, smooth_image


def test_the_moment_distance_is_zero_only_for_the_same_statistics():
    moments = load("moments")
    features = tf.constant(np.random.default_rng(0).normal(1.0, 2.0, (1, 8, 8, 4)), tf.float32)
    same = moments.moments(features)
    assert float(moments.moment_distance(same, same)) == 0.0
    shifted = moments.moments(features + 1.0)  # the mean moves, the spread does not
    np.testing.assert_allclose(shifted[1].numpy(), same[1].numpy(), rtol=1e-5)
    assert float(moments.moment_distance(shifted, same)) > 0.01


def test_at_weight_zero_the_loss_is_the_renderers_and_the_term_adds_to_style_only():
    moments = load("moments")
    backbone, spec = load_backbone("tiny"), LossSpec(style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0)),
                                                     content_layer="block3_conv1")
    extractor = make_extractor(backbone, spec)
    content, painting = tf.constant(smooth_image(32, 32, 0)), tf.constant(noise_image(32, 32, 1))
    targets = compute_targets(extractor, spec, content, [painting])
    image = tf.constant(smooth_image(32, 32, 2))
    plain = make_loss_function(extractor, spec, targets)(image)
    zero = moments.loss_with_moments(0.0)(extractor, spec, targets, painting)(image)
    more = moments.loss_with_moments(1.0)(extractor, spec, targets, painting)(image)
    np.testing.assert_allclose(float(zero.total), float(plain.total), rtol=1e-6)
    assert float(more.style) > float(plain.style)
    np.testing.assert_allclose(float(more.content), float(plain.content), rtol=1e-6)
