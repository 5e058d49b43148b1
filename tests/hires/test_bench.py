"""The ladder benchmark runs and reports sane fields (never a speed threshold)."""

from dataclasses import replace

from hires.bench import Curve, compare_ladder_to_single
from hires.config import default_settings
from hires.ladder import Rung
from tests.conftest import noise_image, save_png, smooth_image


def test_ladder_benchmark_reports_two_curves(tmp_path):
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    settings = replace(default_settings(), backbone="tiny", chunk_iterations=2)
    single, ladder = compare_ladder_to_single(
        content, style, settings=settings, ladder_rungs=(Rung(32, 4), Rung(64, 4)), single_iterations=4,
        folder=tmp_path)
    for curve in (single, ladder):
        assert len(curve.seconds) == len(curve.losses) == 2
        assert all(b >= a for a, b in zip(curve.seconds, curve.seconds[1:]))
        assert all(loss > 0 for loss in curve.losses)
    assert ladder.seconds[0] > 0  # timed from the start of the ladder's first rung


def test_time_to_reach_finds_the_first_point_at_or_below():
    curve = Curve("x", (1.0, 2.0, 3.0), (5.0, 3.0, 2.0))
    assert curve.time_to_reach(3.0) == 2.0
    assert curve.time_to_reach(1.0) is None
