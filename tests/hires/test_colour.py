"""Colour preservation: luminance-only transfer and histogram matching."""

import numpy as np

from hires import colour
from tests.conftest import smooth_image


def _mid(seed):
    """A smooth image kept away from 0 and 1, so joining chroma needs no clipping."""
    return 0.25 + 0.5 * smooth_image(32, 48, seed)[0]


def test_yiq_round_trip():
    image = _mid(1)
    np.testing.assert_allclose(colour.from_yiq(colour.to_yiq(image)), image, atol=1e-6)


def test_luminance_image_is_grey_with_the_same_luminance():
    image = _mid(1)
    grey = colour.luminance_image(image)
    np.testing.assert_allclose(grey[..., 0], grey[..., 1])
    np.testing.assert_allclose(colour.to_yiq(grey)[..., 0], colour.to_yiq(image)[..., 0], atol=1e-6)


def test_joined_result_has_the_contents_chroma_and_the_results_luminance():
    content, result = _mid(1), colour.luminance_image(_mid(2))
    joined = colour.join_chroma(result, content)
    np.testing.assert_allclose(colour.to_yiq(joined)[..., 1:], colour.to_yiq(content)[..., 1:], atol=1e-5)
    np.testing.assert_allclose(colour.to_yiq(joined)[..., 0], colour.to_yiq(result)[..., 0], atol=1e-5)


def test_matched_luminance_has_the_contents_mean_and_spread():
    style, content = smooth_image(40, 40, 3)[0] * 0.3, _mid(1)
    matched = colour.to_yiq(colour.match_luminance(style, content))[..., 0]
    y = colour.to_yiq(content)[..., 0]
    assert abs(matched.mean() - y.mean()) < 1e-3
    assert abs(matched.std() - y.std()) < 1e-3


def test_histogram_match_gives_the_style_the_contents_colour_statistics():
    style = 0.3 + 0.4 * smooth_image(40, 40, 3)[0][..., ::-1]
    content = _mid(1)
    moved = colour.match_histogram(style, content).reshape(-1, 3)
    np.testing.assert_allclose(moved.mean(axis=0), content.reshape(-1, 3).mean(axis=0), atol=0.02)
    np.testing.assert_allclose(np.cov(moved, rowvar=False), np.cov(content.reshape(-1, 3), rowvar=False),
                               atol=0.01)


def test_histogram_match_survives_a_flat_channel():
    style = np.zeros((8, 8, 3), np.float32)
    style[..., 0] = np.linspace(0, 1, 64).reshape(8, 8)
    assert np.all(np.isfinite(colour.match_histogram(style, _mid(1))))


def test_histogram_match_does_not_turn_a_nearly_grey_paintings_noise_into_colour():
    """A grey ramp with one level of noise, in 8 bits (a scanned drawing, a JPEG), given a
    colourful photograph's colours: the noise must not be scaled up to the photograph's spread."""
    rng = np.random.default_rng(0)
    ramp = np.repeat(np.linspace(0, 1, 64)[None, :, None], 64, axis=0).repeat(3, axis=-1)
    painting = (np.round(np.clip(ramp + rng.normal(0, 1 / 255, ramp.shape), 0, 1) * 255) / 255).astype(np.float32)
    photograph = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
    moved = colour.match_histogram(painting, photograph)
    noise = moved - moved.mean(axis=0, keepdims=True)  # what differs down each column of the ramp
    assert noise.std() < 3 / 255
    assert np.ptp(moved.mean(axis=0)[:, 0]) > 0.5  # the ramp itself is kept
