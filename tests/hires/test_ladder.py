"""Tests for hires.ladder: the default ladder, --size/--iterations, overrides, checks and rung sizes.

Pure data: no TensorFlow, no images.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hires.errors import HiresError
from hires.ladder import (FIRST_RUNG_PX, OPTIMIZERS, DefaultIterations, Ladder, Rung, adjust_last_rung,
                          check_ladder, default_rungs, rung_shape)


def _sizes(rungs) -> list[int]:
    return [rung.long_edge_px for rung in rungs]


def _ladder(*sizes: int, **values) -> Ladder:
    return Ladder(rungs=tuple(Rung(px, 50) for px in sizes), **values)


# ---------------------------------------------------------------------------------------------
# default_rungs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, expected", [
    (512, [256, 512]),
    (1024, [256, 512, 1024]),
    (4096, [256, 512, 1024, 2048, 4096]),
    (8192, [256, 512, 1024, 2048, 4096, 8192]),
    (256, [256]),             # exactly the first rung: one rung
    (300, [256, 300]),        # not a power of two: the last step is short
    (1000, [256, 512, 1000]),
    (10800, [256, 512, 1024, 2048, 4096, 8192, 10800]),
    (100, [100]),             # below the first rung: one rung at the target
    (16, [16]),
    (264, [264]),             # within MIN_STEP of 256, which would round to the same 256 px
    (520, [256, 520]),        # within MIN_STEP of 512
    (2050, [256, 512, 1024, 2050]),
    (282, [256, 282]),        # a step of 10% or more keeps the rung
])
def test_default_rungs_double_from_256_to_the_target(size, expected):
    rungs = default_rungs(size)
    assert _sizes(rungs) == expected
    assert rungs[-1].long_edge_px == size


def test_default_rungs_start_at_256():
    assert FIRST_RUNG_PX == 256
    assert default_rungs(2048)[0].long_edge_px == 256


def test_default_rungs_give_the_first_rung_the_most_and_the_top_its_own_count():
    assert [r.iterations for r in default_rungs(1024)] == [200, 60, 60]
    assert [r.iterations for r in default_rungs(512)] == [200, 60]
    assert [r.iterations for r in default_rungs(256)] == [200]  # one rung: it starts from the photograph
    custom = default_rungs(4096, DefaultIterations(first=7, middle=3, top=5))
    assert [r.iterations for r in custom] == [7, 3, 3, 3, 5]
    assert [r.iterations for r in default_rungs(100, DefaultIterations(7, 3, 5))] == [7]


def test_default_rungs_give_a_top_rung_above_1024_px_its_own_count():
    assert [r.iterations for r in default_rungs(2048)] == [200, 60, 60, 30]  # configs/print-2k.toml's
    assert [r.iterations for r in default_rungs(1500)] == [200, 60, 60, 30]
    assert [r.iterations for r in default_rungs(8192)] == [200, 60, 60, 60, 60, 30]
    # Above a 512 px rung the top keeps its count, however large it is.
    assert [r.iterations for r in default_rungs(1100)] == [200, 60, 60]
    counts = DefaultIterations(first=7, middle=3, top=5, large_top=2)
    assert [r.iterations for r in default_rungs(2048, counts)] == [7, 3, 3, 2]
    assert [r.iterations for r in default_rungs(1024, counts)] == [7, 3, 5]
    assert str(counts) == "7 / 3 / 5 (2 above 1024 px)" and str(DefaultIterations(7, 3, 5)) == "7 / 3 / 5"


def test_default_rungs_give_the_rung_below_a_small_top_its_own_count_and_content_weight():
    """--size 1024's 512 px rung makes the picture its top rung starts from: it gets ``under_top``
    iterations and weighs content ``under_top_content`` times the ladder's weight."""
    assert [r.content_weight for r in default_rungs(1024)] == [None, 3.0, None]
    assert [r.content_weight for r in default_rungs(1024, content_weight=0.5)] == [None, 1.5, None]
    assert [r.content_weight for r in default_rungs(512)] == [None, None]  # the rung below is the first
    assert [r.content_weight for r in default_rungs(4096)] == [None] * 5  # its top is above 2048 px
    counts = DefaultIterations(first=7, middle=3, top=5, large_top=2, under_top=4, under_top_content=2)
    assert [r.iterations for r in default_rungs(1024, counts)] == [7, 4, 5]
    assert [r.content_weight for r in default_rungs(1024, counts)] == [None, 2, None]
    assert [r.iterations for r in default_rungs(2048, counts)] == [7, 3, 3, 2]
    assert [r.content_weight for r in default_rungs(2048, counts)] == [None] * 4
    assert str(counts) == ("7 / 3 / 5 (4 just below the top, under 1024 px; content weighed 2x just below the "
                           "top, under 1024 px; 2 above 1024 px)")


def test_the_default_ladders_of_2026_12_07_are_listed_for_resume():
    # A --size 1024 render begun under 200 / 100 / 60 or 200 / 60 / 60 (content weight 1 on every
    # rung), or a --size 2048 one under 200 / 60 / 60 / 60, resumes on it (hires.plan tries these).
    from hires.ladder import EARLIER_DEFAULT_ITERATIONS
    for earlier, iterations in zip(EARLIER_DEFAULT_ITERATIONS, ([200, 100, 60], [200, 60, 60])):
        rungs = default_rungs(1024, earlier)
        assert [r.iterations for r in rungs] == iterations and {r.content_weight for r in rungs} == {None}
    assert [r.iterations for r in default_rungs(2048, EARLIER_DEFAULT_ITERATIONS[2])] == [200, 60, 60, 60]
    assert [r.iterations for r in default_rungs(1024, EARLIER_DEFAULT_ITERATIONS[3])] == [200, 100, 80]


def test_default_rungs_override_nothing_but_the_content_weight_below_a_small_top():
    for rung in (*default_rungs(2048), *default_rungs(1024)[::2]):
        assert (rung.content_weight, rung.style_weight, rung.tv_weight, rung.style_scale,
                rung.correction_pairs, rung.optimizer) == (None,) * 6


@pytest.mark.parametrize("size", [16, 100, 256, 300, 512, 1000, 4096, 10800])
def test_default_rungs_pass_check_ladder(size):
    check_ladder(Ladder(rungs=default_rungs(size)))


# ---------------------------------------------------------------------------------------------
# adjust_last_rung
# ---------------------------------------------------------------------------------------------

def test_adjust_last_rung_without_size_or_iterations_is_the_same_ladder():
    ladder = _ladder(256, 512, 1024)
    assert adjust_last_rung(ladder, size_px=None, iterations=None) == ladder


def test_adjust_last_rung_size_replaces_the_last_rung_size():
    ladder = _ladder(256, 512, 1024)
    assert _sizes(adjust_last_rung(ladder, size_px=1600, iterations=None).rungs) == [256, 512, 1600]
    assert _sizes(adjust_last_rung(ladder, size_px=800, iterations=None).rungs) == [256, 512, 800]


def test_adjust_last_rung_size_drops_rungs_not_below_it():
    ladder = _ladder(256, 512, 1024, 2048)
    assert _sizes(adjust_last_rung(ladder, size_px=512, iterations=None).rungs) == [256, 512]  # 512 itself dropped
    assert _sizes(adjust_last_rung(ladder, size_px=600, iterations=None).rungs) == [256, 512, 600]
    assert _sizes(adjust_last_rung(ladder, size_px=256, iterations=None).rungs) == [256]
    assert _sizes(adjust_last_rung(ladder, size_px=100, iterations=None).rungs) == [100]
    assert _sizes(adjust_last_rung(ladder, size_px=520, iterations=None).rungs) == [256, 520]  # 512: too close


def test_adjust_last_rung_size_keeps_the_last_rungs_settings():
    ladder = Ladder(rungs=(Rung(256, 300), Rung(512, 150), Rung(8192, 25, correction_pairs=3, style_weight=20.0)))
    adjusted = adjust_last_rung(ladder, size_px=10800, iterations=None)
    assert adjusted.rungs[:2] == ladder.rungs[:2]
    assert adjusted.rungs[-1] == Rung(10800, 25, correction_pairs=3, style_weight=20.0)


def test_size_below_the_top_ends_on_the_configs_own_rung_there():
    """--size 1024 on a poster ladder keeps the config's 1024 px rung, not the 8192 px rung's settings."""
    ladder = Ladder(rungs=(Rung(256, 300), Rung(512, 150), Rung(1024, 100, correction_pairs=10),
                           Rung(2048, 60, correction_pairs=8), Rung(8192, 25, correction_pairs=3)))
    assert adjust_last_rung(ladder, size_px=1024, iterations=None).rungs == ladder.rungs[:3]
    between = adjust_last_rung(ladder, size_px=1500, iterations=None).rungs
    assert between == ladder.rungs[:3] + (Rung(1500, 60, correction_pairs=8),)  # the 2048 px rung, moved down
    assert adjust_last_rung(ladder, size_px=100, iterations=None).rungs == (Rung(100, 300),)


def test_size_far_beyond_the_top_doubles_on_the_way():
    ladder = Ladder(rungs=(Rung(128, 100), Rung(192, 30), Rung(256, 20, style_weight=3.0)))
    adjusted = adjust_last_rung(ladder, size_px=2048, iterations=None).rungs
    assert _sizes(adjusted) == [128, 192, 256, 512, 1024, 2048]
    assert adjusted[:3] == ladder.rungs and all(r == Rung(r.long_edge_px, 20, style_weight=3.0) for r in adjusted[3:])
    assert _sizes(adjust_last_rung(ladder, size_px=500, iterations=None).rungs) == [128, 192, 500]  # under 2.2x: moved


def test_adjust_last_rung_iterations_changes_only_the_last_rung():
    ladder = _ladder(256, 512, 1024)
    adjusted = adjust_last_rung(ladder, size_px=None, iterations=7)
    assert [r.iterations for r in adjusted.rungs] == [50, 50, 7]
    assert _sizes(adjusted.rungs) == [256, 512, 1024]


def test_adjust_last_rung_size_and_iterations_together():
    adjusted = adjust_last_rung(_ladder(256, 512, 1024), size_px=700, iterations=9)
    assert _sizes(adjusted.rungs) == [256, 512, 700]
    assert [r.iterations for r in adjusted.rungs] == [50, 50, 9]


def test_adjust_last_rung_keeps_the_ladders_values():
    ladder = _ladder(256, 512, style_weight=5.0, correction_pairs=4, upsample="lanczos3")
    adjusted = adjust_last_rung(ladder, size_px=2048, iterations=3)
    assert replace(adjusted, rungs=ladder.rungs) == ladder


# ---------------------------------------------------------------------------------------------
# Ladder.resolve
# ---------------------------------------------------------------------------------------------

def test_resolve_fills_every_unset_field_from_the_ladder():
    ladder = Ladder(rungs=(Rung(256, 100),), content_weight=2.0, style_weight=5.0, tv_weight=0.5,
                    style_scale=1.5, correction_pairs=7, optimizer="adam")
    assert ladder.resolve(0) == Rung(256, 100, content_weight=2.0, style_weight=5.0, tv_weight=0.5,
                                     style_scale=1.5, correction_pairs=7, optimizer="adam")


def test_resolve_keeps_a_rungs_overrides():
    ladder = Ladder(rungs=(Rung(256, 100), Rung(512, 50, style_weight=20.0, correction_pairs=3, optimizer="adam")),
                    style_weight=5.0)
    first, second = ladder.resolve(0), ladder.resolve(1)
    assert (first.style_weight, first.correction_pairs, first.optimizer) == (5.0, 10, "lbfgs")  # inherited
    assert (second.style_weight, second.correction_pairs, second.optimizer) == (20.0, 3, "adam")  # overridden
    assert second.content_weight == 1.0 and second.tv_weight == 0.0 and second.style_scale == 1.0


def test_resolve_keeps_an_override_of_zero():
    """0 is a value, not "unset": a rung may switch a term off."""
    ladder = Ladder(rungs=(Rung(256, 100, style_weight=0.0, tv_weight=0.0),), style_weight=10.0, tv_weight=1.0)
    assert ladder.resolve(0).style_weight == 0.0
    assert ladder.resolve(0).tv_weight == 0.0


def test_resolve_leaves_no_none_and_keeps_size_and_iterations():
    ladder = Ladder(rungs=default_rungs(1024))
    for index, rung in enumerate(ladder.rungs):
        resolved = ladder.resolve(index)
        assert None not in vars(resolved).values()
        assert (resolved.long_edge_px, resolved.iterations) == (rung.long_edge_px, rung.iterations)


def test_default_ladder_values():
    ladder = Ladder(rungs=(Rung(256, 1),))
    assert (ladder.content_weight, ladder.style_weight, ladder.tv_weight, ladder.style_scale,
            ladder.correction_pairs, ladder.optimizer, ladder.upsample) == (1.0, 10.0, 0.0, 1.0, 10, "lbfgs", "bandlimited")


# ---------------------------------------------------------------------------------------------
# check_ladder
# ---------------------------------------------------------------------------------------------

def _raises(ladder: Ladder, *words: str) -> str:
    with pytest.raises(HiresError) as info:
        check_ladder(ladder, "my.toml")
    message = str(info.value)
    assert "my.toml" in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "\n" not in message
    return message


def test_check_ladder_accepts_a_good_ladder():
    check_ladder(Ladder(rungs=(Rung(256, 300), Rung(512, 150, style_weight=20.0, correction_pairs=5),
                               Rung(1024, 1, optimizer="adam", tv_weight=0.0, style_scale=16.0))))


def test_check_ladder_no_rungs():
    _raises(Ladder(rungs=()), "no rung", "[[rung]]")


@pytest.mark.parametrize("sizes", [(512, 256), (256, 256), (256, 512, 512), (256, 1024, 512)])
def test_check_ladder_rungs_not_increasing(sizes):
    message = _raises(_ladder(*sizes), "long_edge_px", "small to large")
    bad = next(i for i in range(1, len(sizes)) if sizes[i] <= sizes[i - 1])
    assert f"rung {bad + 1}" in message


@pytest.mark.parametrize("px", [0, 15, -256, 200_001])
def test_check_ladder_long_edge_out_of_range(px):
    _raises(Ladder(rungs=(Rung(px, 10),)), "long_edge_px", str(px))


@pytest.mark.parametrize("iterations", [0, -1])
def test_check_ladder_iterations_below_one(iterations):
    message = _raises(Ladder(rungs=(Rung(256, 10), Rung(512, iterations))), "iterations", str(iterations))
    assert "rung 2" in message


@pytest.mark.parametrize("name", ["content_weight", "style_weight", "tv_weight"])
def test_check_ladder_negative_weight_on_a_rung(name):
    _raises(Ladder(rungs=(Rung(256, 10, **{name: -1.0}),)), name, "-1.0")


@pytest.mark.parametrize("name", ["content_weight", "style_weight", "tv_weight"])
def test_check_ladder_negative_weight_on_the_ladder(name):
    _raises(Ladder(rungs=(Rung(256, 10),), **{name: -0.5}), name, "-0.5")


def test_check_ladder_unknown_optimizer_on_the_ladder():
    _raises(Ladder(rungs=(Rung(256, 10),), optimizer="sgd"), "optimizer", "'sgd'", *OPTIMIZERS)


def test_check_ladder_unknown_optimizer_on_a_rung():
    message = _raises(Ladder(rungs=(Rung(256, 10), Rung(512, 10, optimizer="LBFGS"))), "optimizer", "'LBFGS'")
    assert "rung 2" in message


@pytest.mark.parametrize("scale", [0.0, 0.009, 16.5, -1.0])
def test_check_ladder_style_scale_out_of_range(scale):
    _raises(Ladder(rungs=(Rung(256, 10, style_scale=scale),)), "style_scale", str(scale))
    _raises(Ladder(rungs=(Rung(256, 10),), style_scale=scale), "style_scale")


@pytest.mark.parametrize("scale", [0.01, 16.0])
def test_check_ladder_style_scale_limits_are_allowed(scale):
    check_ladder(Ladder(rungs=(Rung(256, 10, style_scale=scale),)))


@pytest.mark.parametrize("pairs", [0, -3, 1001])
def test_check_ladder_correction_pairs_out_of_range(pairs):
    _raises(Ladder(rungs=(Rung(256, 10, correction_pairs=pairs),)), "correction_pairs", str(pairs))


def test_check_ladder_unknown_upsample():
    _raises(Ladder(rungs=(Rung(256, 10),), upsample="cubic"), "upsample", "'cubic'")


@pytest.mark.parametrize("name", ["content_weight", "style_weight", "tv_weight"])
def test_check_ladder_nan_weight(name):
    _raises(Ladder(rungs=(Rung(256, 10, **{name: math.nan}),)), name)


# ---------------------------------------------------------------------------------------------
# rung_shape
# ---------------------------------------------------------------------------------------------

SHAPES = [
    (384, 512),    # landscape 4:3
    (512, 384),    # portrait 3:4
    (500, 500),    # square
    (1080, 1920),  # 16:9
    (4000, 3000),  # big portrait
    (48, 64),      # tiny: enlarged
    (17, 23),      # tiny, odd sides
    (1, 1),        # one pixel
]


@pytest.mark.parametrize("content", SHAPES)
@pytest.mark.parametrize("long_edge", [128, 192, 256, 300, 512, 1000, 2048, 10800])
def test_rung_shape_gives_multiples_of_16(content, long_edge):
    height, width = rung_shape(*content, long_edge, multiple=16)
    assert height % 16 == 0 and width % 16 == 0
    assert height >= 16 and width >= 16


@pytest.mark.parametrize("content", SHAPES)
@pytest.mark.parametrize("long_edge", [128, 192, 256, 300, 512, 1000, 2048, 10800])
def test_rung_shape_keeps_the_aspect_ratio_within_rounding(content, long_edge):
    """Each side is the exact scaled side rounded to the nearest multiple (or the minimum, 16)."""
    height, width = rung_shape(*content, long_edge, multiple=16)
    scale = long_edge / max(content)
    for side, exact in ((height, content[0] * scale), (width, content[1] * scale)):
        assert abs(side - exact) <= 8 or side == 16
    # the long edge stays the long edge (or they are equal)
    if content[0] > content[1]:
        assert height >= width
    elif content[0] < content[1]:
        assert width >= height
    else:
        assert width == height


@pytest.mark.parametrize("content, long_edge, expected", [
    ((384, 512), 256, (192, 256)),
    ((512, 384), 256, (256, 192)),
    ((500, 500), 256, (256, 256)),
    ((384, 512), 128, (96, 128)),
    ((384, 512), 192, (144, 192)),
    ((1080, 1920), 1024, (576, 1024)),
    ((384, 512), 300, (224, 304)),     # 300 is not a multiple of 16: rounded to 304
    ((3, 4), 256, (192, 256)),          # a tiny content image is enlarged
    ((3000, 4000), 10800, (8096, 10800)),
])
def test_rung_shape_examples(content, long_edge, expected):
    assert rung_shape(*content, long_edge, multiple=16) == expected


def test_rung_shape_clamps_a_very_thin_side_to_one_multiple():
    assert rung_shape(10, 1000, 256, multiple=16) == (16, 256)
    assert rung_shape(1000, 10, 256, multiple=16) == (256, 16)


@pytest.mark.parametrize("multiple", [1, 8, 16, 32])
def test_rung_shape_respects_other_multiples(multiple):
    height, width = rung_shape(600, 800, 500, multiple=multiple)
    assert height % multiple == 0 and width % multiple == 0
    assert abs(width - 500) <= multiple / 2 and abs(height - 375) <= multiple / 2
