"""The painting each policy of benchmarks/style_scale.py shows a rung (docs/performance.md, item 4)."""

import numpy as np
import pytest

from tests.benchmarks.test_plateau import load


@pytest.mark.parametrize("policy, long_edge, expected", [
    ("enlarge", 128, 128), ("native", 128, 32), ("between", 128, 64), ("scan", 128, 128),
    ("enlarge", 16, 16), ("native", 16, 16), ("between", 16, 16), ("scan", 16, 16),
])
def test_each_policy_sizes_the_painting_for_the_rung(policy, long_edge, expected):
    painting_for = load("style_scale").painting_for
    scan = np.random.default_rng(0).random((96, 128, 3), np.float32)
    copy = scan[::4, ::4]  # 24 x 32: the small copy a render is given
    painting = painting_for(policy, scan, copy, long_edge)
    assert max(painting.shape[:2]) == expected
    assert painting.shape[0] / painting.shape[1] == pytest.approx(0.75, abs=0.05)


def test_only_the_scan_policy_shows_the_scans_detail():
    painting_for = load("style_scale").painting_for
    scan = np.random.default_rng(0).random((96, 128, 3), np.float32)  # noise: detail at every scale
    copy = np.full((24, 32, 3), 0.5, np.float32)  # no detail at all
    assert np.std(painting_for("scan", scan, copy, 128)) > 0.1
    assert np.std(painting_for("enlarge", scan, copy, 128)) < 1e-3


def test_worst_ratios_compare_each_policy_with_the_best_on_each_measure():
    worst_ratios = load("style_scale").worst_ratios
    finished = {"enlarge": {"style": 4.0, "layout": 1.0, "content": 1.0},
                "native": {"style": 1.0, "layout": 2.0, "content": 1.5},
                "between": {"style": 2.0, "layout": 1.0, "content": 1.0},
                "scan": {"style": 0.5, "layout": 0.5, "content": 0.5}}  # no yardstick: a render lacks it
    assert worst_ratios(finished) == {"enlarge": 4.0, "native": 2.0, "between": 2.0}


def test_finished_rungs_gather_policies_over_runs_by_pair_and_rung():
    finished_rungs = load("style_scale").finished_rungs

    def run(policy, *rungs):
        return {"pairs": [{"pair": "a-b", "copy_px": 256, "policies": {policy: [
            {"long_edge_px": px, "readings": [{"style": 9.0}, {"style": value}]} for px, value in rungs]}}]}

    table = finished_rungs([{"runs": [run("enlarge", (512, 1.0), (1024, 2.0)), run("native", (512, 3.0))]},
                            run("native", (512, 4.0), (1024, 5.0))])
    assert table == {("a-b", 256, 512): {"enlarge": {"style": 1.0}, "native": {"style": 3.0}},
                     ("a-b", 256, 1024): {"enlarge": {"style": 2.0}, "native": {"style": 5.0}}}
