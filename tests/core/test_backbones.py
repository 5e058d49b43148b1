"""Backbones: loading, layer names, receptive fields, the VGG19 weights file."""

import numpy as np
import pytest
import tensorflow as tf

from core.backbones import (activation_floats, build_extractor, find_vgg19_weights, load_backbone,
                            receptive_field)
from core.errors import CoreError


def test_tiny_is_fixed_and_vgg_shaped(tiny):
    again = load_backbone("tiny")
    np.testing.assert_array_equal(tiny.layers[0].kernel, again.layers[0].kernel)
    assert "block4_conv2" in tiny.layer_names and "block5_conv1" in tiny.layer_names


def test_hed_has_vgg16_layers_with_trained_weights(hed):
    assert len(hed.layers) == 13
    assert hed.layers[0].kernel.shape == (3, 3, 3, 64)
    assert hed.layers[-1].kernel.shape == (3, 3, 512, 512)
    # Trained filters are far from the zero-mean noise of an initialiser in their first layer.
    assert float(np.abs(hed.layers[0].kernel).mean()) > 0.01


def test_extractor_returns_named_layers_at_their_strides(tiny):
    extract = build_extractor(tiny, ["block1_conv1", "block4_conv2", "block5_conv1"])
    features = extract(tf.zeros((1, 64, 96, 3)))
    assert features["block1_conv1"].shape == (1, 64, 96, 8)
    assert features["block4_conv2"].shape[1:3] == (8, 12)
    assert features["block5_conv1"].shape[1:3] == (4, 6)


def test_receptive_fields_of_vgg16_match_the_literature(hed):
    assert receptive_field(hed, "block1_conv1") == (3, 1)
    assert receptive_field(hed, "block4_conv2") == (76, 8)
    assert receptive_field(hed, "block5_conv1") == (132, 16)


def test_receptive_field_is_the_region_a_feature_depends_on(tiny):
    """Perturb one pixel: exactly the features whose field covers it change."""
    size, stride = receptive_field(tiny, "block2_conv1")
    extract = build_extractor(tiny, ["block2_conv1"])
    image = np.full((1, 40, 40, 3), 0.5, np.float32)
    base = extract(tf.constant(image))["block2_conv1"].numpy()
    image[0, 20, 20, :] = 1.0
    moved = extract(tf.constant(image))["block2_conv1"].numpy()
    rows = np.nonzero(np.abs(moved - base).max(axis=(0, 2, 3)) > 0)[0]
    assert (rows.max() - rows.min() + 1) * stride <= size + stride


def test_activation_count_counts_each_layer(tiny):
    floats = activation_floats(tiny, ["block1_conv2"], 16, 16)
    assert floats == 16 * 16 * (3 + 8 + 8)


def test_unknown_names_are_refused(tiny):
    with pytest.raises(CoreError, match="unknown backbone"):
        load_backbone("resnet")
    with pytest.raises(CoreError, match="no layer"):
        build_extractor(tiny, ["block7_conv1"])


def test_vgg19_loads_from_a_weights_file(tmp_path):
    """The real loading code, on a file the test makes: Keras' VGG19 with random weights."""
    import keras

    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg19.weights.h5"
    model.save_weights(path)
    backbone = load_backbone("vgg19", weights_path=path)
    assert len(backbone.layers) == 16
    np.testing.assert_array_equal(backbone.layers[5].kernel, model.get_layer("block3_conv2").get_weights()[0])
    assert find_vgg19_weights(path) == path


def test_vgg19_reports_a_missing_or_broken_weights_file(tmp_path):
    with pytest.raises(CoreError, match="not found"):
        load_backbone("vgg19", weights_path=tmp_path / "missing.h5")
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(CoreError, match="cannot load VGG19"):
        load_backbone("vgg19", weights_path=broken)


def test_keras_cache_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert find_vgg19_weights() is None
    cached = tmp_path / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    assert find_vgg19_weights() == cached


def test_bfloat16_extractor_gives_float32_features_close_to_float32(tiny):
    layers = ["block1_conv1", "block3_conv1", "block5_conv1"]
    image = tf.constant(np.random.default_rng(0).uniform(size=(1, 64, 80, 3)).astype(np.float32))
    full = build_extractor(tiny, layers)(image)
    mixed = build_extractor(tiny, layers, precision="bfloat16")(image)
    for name in layers[1:]:
        assert mixed[name].dtype == tf.float32
        error = np.linalg.norm(mixed[name] - full[name]) / np.linalg.norm(full[name])
        # bfloat16 keeps 8 bits of mantissa: errors of a few parts in a thousand per layer.
        assert 0 < error < 3e-2, (name, error)
    # The first convolution sees the image in float32: its features are exactly float32's.
    np.testing.assert_array_equal(mixed["block1_conv1"], full["block1_conv1"])


def test_unknown_precision_is_refused(tiny):
    with pytest.raises(CoreError, match="unknown precision 'float16'; choose float32 or bfloat16"):
        build_extractor(tiny, ["block1_conv1"], precision="float16")
