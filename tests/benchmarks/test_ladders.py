"""The trial ladders of benchmarks/ladders and the pictures the GPU check carries (docs/performance.md)."""

from pathlib import Path

import numpy as np
import pytest

from hires.config import load_config
from hires.images import write_image
from tests.benchmarks.test_plateau import load

LADDERS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "ladders"
LADDERS = sorted(LADDERS_DIR.glob("*.toml"))


@pytest.mark.parametrize("path", LADDERS, ids=lambda path: path.name)
def test_every_trial_ladder_loads(path):
    assert load_config(path).ladder.rungs


def test_the_poster_baseline_is_poster_4k_as_issue_20_found_it():
    old = load_config(LADDERS_DIR / "poster-4k-old.toml")
    assert [(r.long_edge_px, r.iterations) for r in old.ladder.rungs] == [
        (256, 300), (512, 150), (1024, 100), (2048, 60), (4096, 40)]
    assert (old.coarse_step, old.stop_gain, old.ladder.upsample, old.start_detail) == (1.0, 0.0, "bicubic", 0.0)


def test_pictures_copied_into_the_checkout_serve_where_the_shared_ones_are_missing(tmp_path, monkeypatch):
    quality_ladder = load("quality_ladder")
    monkeypatch.setattr(quality_ladder, "SHARED", tmp_path / "missing")
    monkeypatch.setattr(quality_ladder, "COPIED", tmp_path)
    photo = np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    write_image(tmp_path / "rocket.png", photo)
    write_image(tmp_path / "starry_night.jpg", photo)
    rocket, starry = quality_ladder.load_pair("rocket-starry")
    np.testing.assert_allclose(rocket, np.round(photo * 255) / 255, atol=1e-6)  # lossless PNG
    assert starry.shape == (20, 30, 3)
