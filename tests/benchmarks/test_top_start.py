"""The top-rung starts compared in docs/performance.md ("Other ladder shapes and starts")."""

import numpy as np

from tests.benchmarks.test_plateau import load


def test_starts_are_the_top_rungs_size_and_differ_only_by_the_band_the_rung_below_lacks():
    top_start = load("top_start")
    photo = np.random.default_rng(0).uniform(0.2, 0.8, (300, 400, 3)).astype(np.float32)
    below = np.full((384, 512, 3), 0.5, np.float32)  # flat: its enlargement has no band of its own
    bicubic, detail, sharpen = (top_start.start_picture(kind, below, photo) for kind in ("bicubic", "detail", "sharpen"))
    assert bicubic.shape == detail.shape == (768, 1024, 3)
    np.testing.assert_allclose(sharpen, bicubic, atol=1e-6)
    assert np.abs(detail - bicubic).mean() > 0.01  # the photograph's noise is above 512 px's band
    assert detail.min() >= 0.0 and detail.max() <= 1.0


def test_a_noise_start_is_the_enlargement_plus_seeded_noise_of_that_size():
    top_start = load("top_start")
    photo = np.zeros((300, 400, 3), np.float32)
    below = np.full((384, 512, 3), 0.5, np.float32)
    first, again = (top_start.start_picture("noise0.1", below, photo) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert 0.09 < np.std(first - 0.5) < 0.11  # nothing near 0 or 1 was clipped
    assert first.min() >= 0.0 and first.max() <= 1.0
