"""The memory planner: whole image or tiles, correction pairs, refusals with numbers."""

import pytest

from core.tiles import tile_geometry
from hires.errors import HiresError
from hires.tiling import MIN_CORRECTION_PAIRS, candidate_tiles, estimate_bytes, plan_memory, tile_count

LAYERS = ["block4_conv2", "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]


def _estimate(backbone, height, width, *, pairs=10, tile_px=None, optimizer="lbfgs"):
    return estimate_bytes(backbone, LAYERS, "block4_conv2", height, width, correction_pairs=pairs,
                          optimizer=optimizer, tile_px=tile_px)


def _plan(backbone, height, width, budget, **options):
    options.setdefault("correction_pairs", 10)
    options.setdefault("optimizer", "lbfgs")
    return plan_memory(backbone, LAYERS, "block4_conv2", height, width, budget_bytes=budget, **options)


def test_each_correction_pair_costs_its_measured_image_vectors(tiny):
    from hires.tiling import VECTORS_PER_PAIR

    step = _estimate(tiny, 480, 640, pairs=6) - _estimate(tiny, 480, 640, pairs=5)
    assert step == VECTORS_PER_PAIR * 480 * 640 * 3 * 4


def test_a_later_rung_s_filter_costs_its_image_vectors_and_the_planner_counts_them(tiny):
    from hires.tiling import PRECONDITIONER_VECTORS

    plain = _estimate(tiny, 480, 640)
    filtered = estimate_bytes(tiny, LAYERS, "block4_conv2", 480, 640, correction_pairs=10, optimizer="lbfgs",
                              tile_px=None, preconditioned=True)
    assert filtered - plain == PRECONDITIONER_VECTORS * 480 * 640 * 3 * 4
    assert (_plan(tiny, 480, 640, None, preconditioned=True).estimate_bytes
            == _plan(tiny, 480, 640, None).estimate_bytes + PRECONDITIONER_VECTORS * 480 * 640 * 3 * 4)


def test_tiles_need_less_than_the_whole_image(tiny):
    whole = _estimate(tiny, 960, 1280)
    tiled = _estimate(tiny, 960, 1280, tile_px=320)
    assert tiled < whole
    # What never tiles: the history and optimiser vectors, and the content target.
    assert _estimate(tiny, 960, 1280, tile_px=32) > (2 * 10 + 8) * 960 * 1280 * 3 * 4


def test_candidate_tiles_are_stride_multiples_from_large_to_small():
    sides = candidate_tiles(480, 640, 16)
    assert sides[0] is None
    assert sides[1:] == sorted(sides[1:], reverse=True)
    assert all(side % 16 == 0 and side >= 32 for side in sides[1:])
    assert sides[1] == 320  # two tiles across the long edge


def test_without_a_budget_the_whole_image_is_evaluated(tiny):
    plan = _plan(tiny, 480, 640, None)
    assert plan.tile_px is None and plan.tiles == 1 and plan.correction_pairs == 10


def test_a_budget_below_the_whole_image_picks_the_largest_tiles_that_fit(tiny):
    whole = _estimate(tiny, 960, 1280)
    plan = _plan(tiny, 960, 1280, whole - 1)
    assert plan.tile_px is not None and plan.estimate_bytes <= whole - 1
    larger = [t for t in candidate_tiles(960, 1280, 16)[1:] if t > plan.tile_px]
    assert all(_estimate(tiny, 960, 1280, tile_px=t) > whole - 1 for t in larger)
    assert plan.tiles == tile_count(960, 1280, plan.tile_px) and plan.correction_pairs == 10


def test_the_history_is_cut_when_no_tile_leaves_room_for_it(tiny):
    smallest = candidate_tiles(960, 1280, 16)[-1]
    budget = _estimate(tiny, 960, 1280, pairs=6, tile_px=smallest)
    plan = _plan(tiny, 960, 1280, budget)
    assert MIN_CORRECTION_PAIRS <= plan.correction_pairs <= 6
    assert "correction pairs" in plan.note


def test_a_rung_that_cannot_fit_is_refused_with_the_numbers(tiny):
    with pytest.raises(HiresError, match=r"needs [\d.]+ GiB on one device .* but [\d.]+ GiB is usable"):
        _plan(tiny, 960, 1280, 10_000)


@pytest.mark.parametrize("optimizer, pairs, says", [
    ("lbfgs", 10, "and 3 correction pairs"), ("lbfgs", 2, "and 2 correction pairs"), ("adam", 10, None)])
def test_the_refusal_names_the_fewest_pairs_tried(tiny, optimizer, pairs, says):
    with pytest.raises(HiresError) as info:
        _plan(tiny, 960, 1280, 10_000, optimizer=optimizer, correction_pairs=pairs)
    if says is None:
        assert "correction pairs" not in str(info.value)  # Adam keeps no history
    else:
        assert says in str(info.value)


def test_a_forced_tile_size_is_rounded_to_the_stride(tiny):
    plan = _plan(tiny, 480, 640, None, tile_px=100)
    assert plan.tile_px == 112 and "rounded" in plan.note
    assert _plan(tiny, 480, 640, None, tile_px=640).tile_px is None  # no smaller than the image
    with pytest.raises(HiresError, match="at least 32 px"):
        _plan(tiny, 480, 640, None, tile_px=16)


def test_several_devices_get_a_tile_each(tiny):
    plan = _plan(tiny, 480, 640, None, replicas=4)
    assert plan.tiles >= 4


def test_the_margin_comes_from_the_backbone(tiny, hed):
    assert tile_geometry(tiny, LAYERS)[:2] == (16, 48)
    assert tile_geometry(hed, LAYERS)[:2] == (16, 64)


def test_a_24x36_inch_poster_plan_on_an_80_gb_gpu(hed):
    """7200 x 10800 px: tiled, with every rung inside the budget."""
    budget = int(80 * 2**30 * 0.85)
    plan = _plan(hed, 10800, 7200, budget)
    assert plan.tile_px is not None and plan.estimate_bytes <= budget
    assert _estimate(hed, 10800, 7200) > budget  # the whole poster at once would not fit


def test_a_large_painting_raises_a_whole_rungs_need_and_tiles_it_when_that_does_not_fit(tiny):
    """A whole rung computes its targets from the whole painting: at --style-scale 8 that pass
    can need more than the optimisation; tiles cut the painting too."""
    plain = _plan(tiny, 192, 256, None)
    enlarged = _plan(tiny, 192, 256, None, style_shapes=[(1280, 2048)])
    assert enlarged.tile_px is None and enlarged.estimate_bytes > plain.estimate_bytes
    squeezed = _plan(tiny, 192, 256, (plain.estimate_bytes + enlarged.estimate_bytes) // 2,
                     style_shapes=[(1280, 2048)])
    assert squeezed.tile_px is not None


def test_a_rung_plans_no_more_pairs_than_its_iterations_can_use(tiny):
    from hires.tiling import useful_pairs

    assert [useful_pairs(10, n) for n in (1, 2, 5, 11, 100)] == [1, 1, 4, 10, 10]
    plan = _plan(tiny, 960, 1280, None, correction_pairs=10, iterations=3)
    assert plan.correction_pairs == 2 and plan.note == ""  # the same steps: nothing to tell


def test_the_content_target_in_bfloat16_gives_last(tiny):
    """A budget that fits tiles only with half the content target's memory: the plan says so."""
    from hires.tiling import estimate_bytes, min_tile_px

    tile = min_tile_px(tiny, LAYERS)
    need = estimate_bytes(tiny, LAYERS, "block4_conv2", 4800, 6400, correction_pairs=3, optimizer="lbfgs",
                          tile_px=tile)
    halved = estimate_bytes(tiny, LAYERS, "block4_conv2", 4800, 6400, correction_pairs=3, optimizer="lbfgs",
                            tile_px=tile, content_bfloat16=True)
    assert halved < need
    plan = _plan(tiny, 4800, 6400, halved, correction_pairs=3)
    assert plan.content_bfloat16 and plan.tile_px is not None and plan.estimate_bytes <= halved
    assert "bfloat16" in plan.note
    with pytest.raises(HiresError, match="needs"):
        _plan(tiny, 4800, 6400, halved - 2**20, correction_pairs=3)
