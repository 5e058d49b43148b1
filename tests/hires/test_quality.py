"""The judge: distances a viewer would agree with, on layers the objective does not use."""

import numpy as np
import pytest

from core.objective import LossSpec
from hires.quality import Judge, cost_of, judge_layers
from tests.conftest import noise_image, smooth_image


def test_the_judge_reads_layers_the_objective_does_not(hed, tiny):
    used = LossSpec().layer_names
    style, content = judge_layers(hed, used)
    assert style == ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv3", "block5_conv2")
    assert content == "block4_conv3"
    style, content = judge_layers(tiny, used)  # tiny's blocks 4 and 5 hold only the objective's layers
    assert style == ("block1_conv2", "block2_conv2", "block3_conv2") and content == "block3_conv2"


def test_the_painting_is_at_no_style_distance_and_the_photograph_at_no_content_distance(tiny):
    photo, painting = smooth_image(48, 64, 1)[0], noise_image(48, 64, 2)[0]
    judge = Judge(tiny, photo, painting, used=LossSpec().layer_names)
    as_painting, as_photo = judge(painting), judge(photo)
    assert as_painting.style < 1e-5 and as_painting.layout < 1e-5
    assert as_photo.content == 0.0
    assert as_photo.style > 0.1 and as_painting.content > 0.1
    shifted = judge(np.roll(painting, 7, axis=1))  # the painting's texture, moved: still its style
    assert shifted.style < 0.2 * as_photo.style and shifted.content > as_photo.content


def test_cost_is_megapixel_evaluations():
    assert cost_of([(1_000_000, 10), (250_000, 4)]) == pytest.approx(11.0)
    assert cost_of([]) == 0.0


def test_the_grid_is_what_enlarging_2x2_px_cells_leaves_and_no_texture_has():
    from hires.quality import pixel_grid

    texture = noise_image(64, 64, 3)[0]
    cells = np.repeat(np.repeat(texture, 2, axis=0), 2, axis=1)  # each pixel a 2x2 px cell
    assert pixel_grid(texture) < 0.05
    assert pixel_grid(cells) > 0.5
    assert pixel_grid(np.roll(cells, 1, axis=(0, 1))) > 0.5  # wherever the cells start
    assert pixel_grid(np.full((16, 16, 3), 0.5)) == 0.0  # flat: nothing to vary


def test_the_judge_reports_the_grid(tiny):
    photo, painting = smooth_image(48, 64, 1)[0], noise_image(48, 64, 2)[0]
    judge = Judge(tiny, photo, painting, used=LossSpec().layer_names)
    cells = np.repeat(np.repeat(painting[::2, ::2], 2, axis=0), 2, axis=1)
    assert judge(cells).grid > 10 * judge(painting).grid


def test_a_painting_smaller_than_the_picture_is_enlarged_without_repeated_rows(tiny):
    # Enlarging by area would repeat one row and column in 16 (60 -> 64 px): texture the painting
    # lacks, far from the painting enlarged as a rung enlarges it (bicubic).
    import tensorflow as tf

    from hires.inputs import resize

    photo, painting = smooth_image(48, 64, 1)[0], noise_image(45, 60, 2)[0]
    judge = Judge(tiny, photo, painting, used=LossSpec().layer_names)
    as_a_rung_shows_it = resize(tf.constant(painting[None]), 48, 64)[0].numpy()
    assert judge(as_a_rung_shows_it).style < 1e-5
    assert judge(photo).style > 0.1


def test_the_style_distance_is_the_mean_of_the_judges_layers(tiny):
    photo, painting = smooth_image(48, 64, 1)[0], noise_image(40, 40, 2)[0]  # the painting enlarged
    judge = Judge(tiny, photo, painting, used=LossSpec().layer_names)
    by_layer = judge.style_by_layer(photo)
    assert tuple(by_layer) == judge.style_layers
    assert np.mean(list(by_layer.values())) == pytest.approx(judge(photo).style, rel=1e-5)


def test_the_judge_can_read_a_small_painting_at_its_own_size(tiny):
    # enlarge=0: the reference is the painting as painted, so its texture repeated at its own
    # scale reads close and its bicubic enlargement (soft strokes twice the size) reads far;
    # enlarge=1 (the default) the other way round.
    import tensorflow as tf

    from hires.inputs import resize

    photo, painting = smooth_image(48, 64, 1)[0], noise_image(24, 32, 2)[0]
    tiled = np.tile(painting, (2, 2, 1))
    enlarged = resize(tf.constant(painting[None]), 48, 64)[0].numpy()
    own = Judge(tiny, photo, painting, used=LossSpec().layer_names, enlarge=0.0)
    full = Judge(tiny, photo, painting, used=LossSpec().layer_names)
    assert full(enlarged).style < 1e-5 and own(enlarged).style > 0.1
    assert own(tiled).style < own(enlarged).style and full(tiled).style > 0.1
    assert own(painting).style < 1e-5 and full(painting).style < 1e-5  # a picture no larger than it
