"""Print sizes: parsing, fitting inside the box, orientation."""

import pytest

from hires.errors import HiresError
from hires.printsize import fit_print, parse_print_size


@pytest.mark.parametrize("text, inches", [
    ("24x36in", (24.0, 36.0)),
    ("24 x 36 in", (24.0, 36.0)),
    ("50.8x76.2cm", (20.0, 30.0)),
    ("254x508mm", (10.0, 20.0)),
    ("8.5X11IN", (8.5, 11.0)),
])
def test_sizes_parse_to_inches(text, inches):
    width, height = parse_print_size(text)
    assert width == pytest.approx(inches[0]) and height == pytest.approx(inches[1])


@pytest.mark.parametrize("text", ["24x36", "24x36ft", "x36in", "0x36in", "24*36in", ""])
def test_bad_sizes_are_refused_with_an_example(text):
    with pytest.raises(HiresError, match="24x36in"):
        parse_print_size(text)


def test_a_2_by_3_portrait_fills_a_24x36_poster_exactly():
    target = fit_print("24x36in", 300, 3000, 2000)
    assert (target.width_px, target.height_px) == (7200, 10800)
    assert "7200x10800 px" in target.description


def test_a_landscape_photo_turns_the_box():
    target = fit_print("24x36in", 300, 768, 1024)
    assert (target.width_px, target.height_px) == (9600, 7200)
    assert "turned" in target.description


def test_the_photo_fits_inside_on_both_sides():
    target = fit_print("24x36in", 300, 1000, 1000)  # square photo in a 2:3 box
    assert (target.width_px, target.height_px) == (7200, 7200)


def test_a_square_photo_turns_nothing():
    target = fit_print("36x24in", 300, 1000, 1000)
    assert (target.width_px, target.height_px) == (7200, 7200) and "turned" not in target.description


def test_the_sizes_are_echoed_in_the_unit_written():
    target = fit_print("50x70cm", 254, 768, 1024)  # 254 dpi: 100 px per cm
    assert (target.width_px, target.height_px) == (6667, 5000)
    assert "print 70x50 cm at 254 dpi: 6667x5000 px (66.67x50.00 cm)" in target.description


def test_absurd_prints_are_refused():
    with pytest.raises(HiresError, match="dpi"):
        fit_print("24x36in", 0, 100, 100)
    with pytest.raises(HiresError, match="between 1 and 10000, not 0.5"):
        fit_print("24x36in", 0.5, 100, 100)
    with pytest.raises(HiresError, match="lower --dpi"):
        fit_print("1000x1000in", 1000, 100, 100)
