"""The time a plan estimates: FLOPs at this machine's measured rate, or a stated rough one."""

from dataclasses import replace

import pytest

from hires import speed
from hires.tiling import MemoryPlan
from tests.conftest import square_plans

LAYERS = ["block4_conv2", "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
STYLE = LAYERS[1:]


def test_a_measured_rate_is_kept_and_read_back():
    key = speed.machine_key("vgg16-hed", "float32", False, "CPU")
    speed.record(key, [(1_000_000, 80e9), (100_000, 60e9)], note="test")
    rate = speed.machine_rate(key, kind="CPU", devices=1)
    assert rate.measured and "measured here" in rate.source
    assert rate.points == ((100_000, 60e9), (1_000_000, 80e9))
    assert rate.flops_per_second(50_000) == 60e9 and rate.flops_per_second(10**7) == 80e9  # the nearest
    assert 60e9 < rate.flops_per_second(300_000) < 80e9  # between: interpolated


def test_without_a_record_the_rough_figure_says_so():
    rate = speed.machine_rate("nothing measured", kind="GPU", devices=2)
    assert not rate.measured and "rough" in rate.source and "hires bench" in rate.source
    assert rate.flops_per_second(10**6) == 2 * speed.ROUGH_FLOPS_PER_GPU


def test_a_rung_costs_its_evaluations_and_tiles_cost_more(hed):
    rate = speed.Rate(((1, 1e11),), "test", True)
    (plan,) = square_plans((1024, 100))
    whole = speed.rung_seconds(plan, hed, LAYERS, STYLE, rate)
    longer = speed.rung_seconds(replace(plan, rung=replace(plan.rung, iterations=200)), hed, LAYERS, STYLE, rate)
    assert longer > 1.9 * whole - speed.RUNG_STARTUP_SECONDS  # twice the iterations, about twice the time
    tiled = replace(plan, memory=MemoryPlan(256, 16, 10, 0))
    assert speed.rung_seconds(tiled, hed, LAYERS, STYLE, rate) > whole


@pytest.mark.parametrize("days", [0.5, 3])
def test_the_plan_warns_past_a_day(tmp_path, monkeypatch, days):
    from typer.testing import CliRunner

    from hires import plan as plan_module
    from hires.cli import app
    from tests.conftest import save_png, smooth_image

    content, style = save_png(tmp_path / "c.png", smooth_image(48, 64)), save_png(tmp_path / "s.png", smooth_image(40, 40, 2))
    monkeypatch.setattr(plan_module, "estimate_seconds",
                        lambda *args, **kwargs: ((days * speed.DAY_SECONDS,), "a test's rate"))
    result = CliRunner().invoke(app, ["render", str(content), str(style), "-o", str(tmp_path / "o.png"),
                                      "--backbone", "tiny", "--size", "32", "--plan"])
    assert result.exit_code == 0, result.output
    assert "from a test's rate" in result.stdout
    assert ("warning: this render would take about 3.0 days" in result.stdout) == (days > 1)
