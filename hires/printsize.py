"""Print sizes: "24x36in" at 300 dpi -> the pixels to render, fitted to the photograph.

The box is turned to match the photograph's orientation (a landscape photo on a 24x36 in poster
prints 36 in wide), then the photograph is fitted inside it: the whole picture prints, at the
box's size on one side and within it on the other. The result is reported in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hires.errors import HiresError

_UNITS_PER_INCH = {"in": 1.0, "cm": 2.54, "mm": 25.4}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)\s*(in|cm|mm)\s*$", re.IGNORECASE)
MAX_PRINT_PX = 200_000


@dataclass(frozen=True)
class PrintTarget:
    """The pixels to render for a print, and how they were chosen."""

    height_px: int
    width_px: int
    dpi: float
    description: str

    @property
    def long_edge_px(self) -> int:
        return max(self.height_px, self.width_px)


def parse_print_size(text: str) -> tuple[float, float]:
    """``"24x36in"``, ``"50x70cm"``, ``"210x297mm"`` -> (width, height) in inches.

    Raises:
        HiresError: for anything else.
    """
    match = _PATTERN.match(text)
    if not match:
        raise HiresError(
            f"print size {text!r} is not WIDTHxHEIGHT with a unit; write e.g. 24x36in, 50x70cm or 210x297mm")
    per_inch = _UNITS_PER_INCH[match.group(3).lower()]
    width, height = float(match.group(1)) / per_inch, float(match.group(2)) / per_inch
    if width <= 0 or height <= 0:
        raise HiresError(f"print size {text!r} must have two sides larger than 0, e.g. 24x36in")
    return width, height


def fit_print(text: str, dpi: float, content_height: int, content_width: int) -> PrintTarget:
    """The pixel size of a print of ``text`` at ``dpi`` for a photograph of the given size.

    Raises:
        HiresError: for a bad size or dpi, or a result beyond MAX_PRINT_PX.
    """
    if not 1 <= dpi <= 10_000:
        raise HiresError(f"dpi must be between 1 and 10000, not {dpi}; 300 is usual for prints")
    width_in, height_in = parse_print_size(text)
    # A square photograph or box fits the same either way round: nothing to turn or to say.
    turned = (content_width > content_height) != (width_in > height_in) and width_in != height_in \
        and content_width != content_height
    if turned:
        width_in, height_in = height_in, width_in
    box_w, box_h = width_in * dpi, height_in * dpi
    scale = min(box_w / content_width, box_h / content_height)
    width_px, height_px = max(1, round(content_width * scale)), max(1, round(content_height * scale))
    if max(width_px, height_px) > MAX_PRINT_PX:
        raise HiresError(f"a {text} print at {dpi:g} dpi needs {width_px}x{height_px} px, beyond "
                         f"{MAX_PRINT_PX} px on a side; lower --dpi")
    unit = _PATTERN.match(text).group(3).lower()  # the sizes are echoed in the unit the user wrote
    per_inch = _UNITS_PER_INCH[unit]
    description = (
        f"print {width_in * per_inch:g}x{height_in * per_inch:g} {unit} at {dpi:g} dpi: {width_px}x{height_px} px "
        f"({width_px / dpi * per_inch:.2f}x{height_px / dpi * per_inch:.2f} {unit}), the photograph fitted inside"
        + (" (the box turned to the photograph's orientation)" if turned else ""))
    return PrintTarget(height_px, width_px, dpi, description)
