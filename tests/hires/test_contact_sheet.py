"""Tests for hires.contact_sheet: every image is made in code, no file is read or written."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.objective import LossTerms
from hires.contact_sheet import (
    MAX_CELLS_PER_ROW,
    MIN_CELL_PX,
    SheetRung,
    _balanced_rows,
    _format_loss,
    _uses_log_scale,
    make_contact_sheet,
)

CELL = 128  # Small cells keep every sheet fast to draw.
RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
# Saturated colours that neither the text, the axes nor the curve of a sheet use.
DISTINCT = [RED, GREEN, BLUE, (1.0, 1.0, 0.0), (1.0, 0.0, 1.0), (0.0, 1.0, 1.0), (0.5, 0.0, 1.0)]
LOSSES = [50.0, 3.0, 1.2, 0.9, 0.8]


def _solid(colour: tuple[float, float, float], height: int = 30, width: int = 40
           ) -> np.ndarray:
    """A float32 image of one colour."""
    return np.broadcast_to(np.asarray(colour, np.float32), (height, width, 3)).copy()


def _rung(colour: tuple[float, float, float] = GREEN, losses: list[float] | None = None,
          iterations: list[int] | None = None, label: str = "rung 1/1  40x30  (5 it, 1 s)",
          height: int = 30, width: int = 40) -> SheetRung:
    """A rung whose result is a solid colour, with a decreasing loss curve by default."""
    losses = LOSSES if losses is None else losses
    iterations = [10 * (i + 1) for i in range(len(losses))] if iterations is None else iterations
    return SheetRung(label, _solid(colour, height, width), iterations, losses)


def _sheet(**kwargs: object) -> np.ndarray:
    """A sheet with a red content image, one blue style and one green rung, overridable."""
    args: dict[str, object] = {"content": _solid(RED), "styles": [_solid(BLUE)],
                               "rungs": [_rung()], "cell_px": CELL}
    args.update(kwargs)
    return make_contact_sheet(**args)  # type: ignore[arg-type]


def _levels(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as 8-bit levels, the precision a sheet is drawn at."""
    return np.round(np.asarray(values, np.float64) * 255.0).astype(np.int64)


def _bbox(sheet: np.ndarray, colour: tuple[float, float, float]
          ) -> tuple[int, int, int, int] | None:
    """``(top, left, height, width)`` of the pixels exactly of ``colour``, or None."""
    mask = np.all(_levels(sheet) == _levels(np.asarray(colour)), axis=-1)
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    return top, left, int(rows[-1]) - top + 1, int(cols[-1]) - left + 1


def _assert_solid_block(sheet: np.ndarray, colour: tuple[float, float, float],
                        height: int, width: int) -> tuple[int, int]:
    """Assert the sheet holds exactly one solid ``height`` x ``width`` block of ``colour``.

    Returns:
        The block's ``(top, left)``.
    """
    box = _bbox(sheet, colour)
    assert box is not None, f"no pixel of {colour} in the sheet"
    top, left, h, w = box
    assert (h, w) == (height, width)
    block = _levels(sheet[top : top + h, left : left + w])
    assert np.all(block == _levels(np.asarray(colour))), "the block is not solid"
    return top, left


def _assert_valid_sheet(sheet: np.ndarray) -> None:
    """Assert the sheet is a float32 RGB image with finite values in [0, 1]."""
    assert sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.dtype == np.float32
    assert np.all(np.isfinite(sheet))
    assert sheet.min() >= 0.0 and sheet.max() <= 1.0


def test_sheet_is_float32_rgb_in_unit_range_at_default_cell_size() -> None:
    sheet = make_contact_sheet(_solid(RED), [_solid(BLUE)], [_rung()])
    _assert_valid_sheet(sheet)
    # The default 320 px cells plus margins: wider and taller than one cell.
    assert sheet.shape[0] > 320 and sheet.shape[1] > 320


def test_background_is_light() -> None:
    sheet = _sheet()
    assert np.all(sheet[0, 0] == 1.0) and np.all(sheet[-1, -1] == 1.0)


def test_content_appears_fitted_to_the_cell() -> None:
    # 30 x 40 (landscape) fits a 128 px square as 96 x 128.
    _assert_solid_block(_sheet(), RED, 96, 128)


def test_style_appears_right_of_content_and_rung_result_below_both() -> None:
    sheet = _sheet()
    content_top, content_left = _assert_solid_block(sheet, RED, 96, 128)
    style_top, style_left = _assert_solid_block(sheet, BLUE, 96, 128)
    rung_top, rung_left = _assert_solid_block(sheet, GREEN, 96, 128)
    assert style_top == content_top and style_left > content_left + CELL
    assert rung_top > content_top + 96 and rung_left == content_left


def test_rungs_of_different_sizes_are_shown_at_one_size() -> None:
    rungs = [_rung(GREEN, height=12, width=16), _rung(BLUE, height=300, width=400),
             _rung(RED, height=60, width=80)]
    sheet = _sheet(content=_solid((1.0, 1.0, 0.0)), styles=[], rungs=rungs)
    tops = {_assert_solid_block(sheet, c, 96, 128)[0] for c in (GREEN, BLUE, RED)}
    assert len(tops) == 1, "rungs in one row should line up"


def test_portrait_images_keep_their_aspect_ratio() -> None:
    rungs = [_rung(GREEN, height=80, width=40), _rung(BLUE, height=160, width=80)]
    sheet = _sheet(content=_solid(RED, 80, 40), styles=[_solid((1.0, 1.0, 0.0), 20, 60)],
                   rungs=rungs)
    _assert_valid_sheet(sheet)
    _assert_solid_block(sheet, RED, 128, 64)
    _assert_solid_block(sheet, (1.0, 1.0, 0.0), 43, 128)  # A landscape style beside it.
    _assert_solid_block(sheet, GREEN, 128, 64)
    _assert_solid_block(sheet, BLUE, 128, 64)


def test_six_rungs_wrap_onto_two_rows_of_three() -> None:
    colours = DISTINCT[1:7]
    rungs = [_rung(c, label=f"rung {i}/6") for i, c in enumerate(colours, start=1)]
    sheet = _sheet(styles=[], rungs=rungs)
    _assert_valid_sheet(sheet)
    corners = [_assert_solid_block(sheet, c, 96, 128) for c in colours]
    assert len({top for top, _ in corners}) == 2
    assert len({left for _, left in corners}) == 3
    # Ladder order reads left to right, then top to bottom.
    assert corners == sorted(corners)
    assert sheet.shape[1] < 4 * CELL


def test_many_styles_wrap_too() -> None:
    styles = [_solid(c) for c in DISTINCT[1:7]]
    sheet = _sheet(styles=styles, rungs=[_rung((0.25, 0.25, 0.25))])
    tops = {_assert_solid_block(sheet, c, 96, 128)[0] for c in DISTINCT[:7]}
    assert len(tops) == 2  # Content plus six styles: rows of four and three.


@pytest.mark.parametrize(
    ("iterations", "losses"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([100], [2.5], id="one-point"),
        pytest.param(list(range(1, 501)), [1.0 / i for i in range(1, 501)], id="many-points"),
        pytest.param([1, 2, 3, 4], [5.0, math.nan, 2.0, 1.0], id="nan"),
        pytest.param([1, 2, 3], [math.inf, -math.inf, 1.0], id="inf"),
        pytest.param([1, 2], [math.nan, math.nan], id="all-nan"),
        pytest.param([1, 2, 3], [4.0, 4.0, 4.0], id="flat"),
        pytest.param([5, 5, 5], [3.0, 2.0, 1.0], id="one-iteration"),
        pytest.param([1, 2, 3], [3.0, -1.0, 0.0], id="negative"),
        pytest.param([30, 10, 20], [1.0, 3.0, 2.0], id="unsorted"),
        pytest.param([1, 2, 3], [1e12, 1e-12, 1e-30], id="extreme-span"),
        pytest.param(np.arange(3), np.array([3.0, 2.0, 1.0], np.float32), id="numpy"),
    ],
)
def test_loss_curves_of_any_shape_draw(iterations: list[int], losses: list[float]) -> None:
    sheet = _sheet(rungs=[SheetRung("rung", _solid(GREEN), iterations, losses)])
    _assert_valid_sheet(sheet)
    _assert_solid_block(sheet, GREEN, 96, 128)


def test_log_scale_only_for_positive_losses_spanning_more_than_ten_times() -> None:
    assert _uses_log_scale(np.array(LOSSES))
    assert not _uses_log_scale(np.array([2.1, 1.5, 1.3, 1.25]))
    assert not _uses_log_scale(np.array([10.0, 1.0]))  # Exactly 10x stays linear.
    assert not _uses_log_scale(np.array([50.0, 0.0]))
    assert not _uses_log_scale(np.array([50.0, -1.0]))
    assert not _uses_log_scale(np.array([50.0]))
    assert not _uses_log_scale(np.array([]))


def test_log_and_linear_plots_differ() -> None:
    wide, narrow = [1000.0, 10.0, 1.0], [3.0, 2.0, 1.0]
    log_sheet = _sheet(rungs=[_rung(losses=wide)])
    linear_sheet = _sheet(rungs=[_rung(losses=narrow)])
    assert log_sheet.shape == linear_sheet.shape
    assert not np.array_equal(log_sheet, linear_sheet)


def test_a_long_label_is_shortened_not_widening_the_sheet() -> None:
    short = _sheet(rungs=[_rung(label="rung 1/1")])
    long = _sheet(rungs=[_rung(label="rung 1/1  " + "very long label " * 20)])
    assert long.shape == short.shape


def test_the_smallest_cell_size_works() -> None:
    sheet = _sheet(cell_px=MIN_CELL_PX)
    _assert_valid_sheet(sheet)
    _assert_solid_block(sheet, RED, 72, 96)


def test_out_of_range_and_nan_pixels_are_clipped() -> None:
    image = _solid(GREEN)
    image[0, 0] = (math.nan, 2.0, -1.0)
    _assert_valid_sheet(_sheet(content=image, rungs=[_rung(RED)]))


def test_inputs_are_not_modified() -> None:
    content = _solid(RED)
    content[0, 0] = (2.0, -1.0, math.nan)
    rung = _rung()
    before_content, before_rung = content.copy(), rung.image.copy()
    _sheet(content=content, rungs=[rung])
    np.testing.assert_array_equal(content, before_content)
    np.testing.assert_array_equal(rung.image, before_rung)


def test_float64_images_are_accepted() -> None:
    _assert_solid_block(_sheet(content=_solid(RED).astype(np.float64)), RED, 96, 128)


def test_no_rungs_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one rung"):
        _sheet(rungs=[])


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(np.zeros((30, 40), np.float32), id="2d"),
        pytest.param(np.zeros((30, 40, 4), np.float32), id="rgba"),
        pytest.param(np.zeros((0, 40, 3), np.float32), id="empty"),
        pytest.param(np.zeros((30, 40, 3), np.uint8), id="uint8"),
        pytest.param([[[0.0, 0.0, 0.0]]], id="list"),
    ],
)
@pytest.mark.parametrize("where", ["content", "style", "rung"])
def test_bad_images_are_refused(bad: object, where: str) -> None:
    by_place: dict[str, dict[str, object]] = {
        "content": {"content": bad},
        "style": {"styles": [_solid(BLUE), bad]},
        "rung": {"rungs": [_rung(), SheetRung("rung 2", bad, [], [])]},  # type: ignore[arg-type]
    }
    kwargs = by_place[where]
    with pytest.raises(ValueError, match=r"shape|dtype|NumPy"):
        _sheet(**kwargs)


def test_mismatched_curve_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="rung 1 has 2 iterations but 3 losses"):
        _sheet(rungs=[SheetRung("rung", _solid(GREEN), [1, 2], [3.0, 2.0, 1.0])])


@pytest.mark.parametrize("cell_px", [MIN_CELL_PX - 1, 0, -5, 128.0, True])
def test_bad_cell_sizes_are_refused(cell_px: object) -> None:
    with pytest.raises(ValueError, match="cell_px"):
        _sheet(cell_px=cell_px)


def test_something_that_is_not_a_rung_is_refused() -> None:
    with pytest.raises(ValueError, match="SheetRung"):
        _sheet(rungs=[("rung", _solid(GREEN), [], [])])


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(1, [1]), (4, [4]), (5, [3, 2]), (6, [3, 3]), (8, [4, 4]), (9, [3, 3, 3]),
     (13, [4, 3, 3, 3])],
)
def test_rows_are_balanced(count: int, sizes: list[int]) -> None:
    rows = _balanced_rows(list(range(count)))
    assert [len(r) for r in rows] == sizes
    assert [i for row in rows for i in row] == list(range(count))
    assert max(sizes) <= MAX_CELLS_PER_ROW


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.625, "0.625"), (2.1, "2.1"), (5e6, "5e6"), (72000.0, "7.2e4"), (1e-5, "1e-5"),
     (123456.0, "1.23e5"), (0.0, "0")],
)
def test_loss_tick_labels_are_short(value: float, text: str) -> None:
    assert _format_loss(value) == text


def test_a_rung_stopped_early_is_labelled_with_what_it_ran():
    import numpy as np

    from core.optimize import Progress
    from hires.job import RungResult
    from hires.render import sheet_rung as _sheet_rung
    from tests.conftest import square_plans as _plans

    (plan,) = _plans((64, 30))
    history = (Progress(1, 30, 3, LossTerms(total=1.0), 0.5, None),)
    stopped = RungResult(plan, np.zeros((64, 64, 3), np.float32), history, "converged", 1.0, None)
    assert "(1 of 30 it, converged, 1 s)" in _sheet_rung(stopped, lambda image: image).label
    full = RungResult(plan, stopped.image, (Progress(30, 30, 33, LossTerms(total=1.0), 9.0, None),), "iterations", 9.0, None)
    assert "(30 it, 9 s)" in _sheet_rung(full, lambda image: image).label
