"""A contact sheet that shows at a glance how a coarse-to-fine ladder went.

The sheet has the inputs on top (the content image, then each style image) and below them
one column per rung: its label, its result and a small plot of its loss curve. Every picture
is fitted into the same ``cell_px`` square so rungs of different sizes compare side by side.
With more than four rungs the columns wrap onto several balanced rows.

The module only draws: it returns a float32 ``(H, W, 3)`` array in [0, 1] and leaves writing
it to the caller's image writer. It deliberately imports no TensorFlow: NumPy and Pillow only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hires.images import shrink

Font: TypeAlias = ImageFont.ImageFont | ImageFont.FreeTypeFont
RGB: TypeAlias = tuple[int, int, int]
T = TypeVar("T")

MIN_CELL_PX = 96
"""The smallest ``cell_px`` accepted: below it labels and plots no longer fit."""
# Pictures larger than this are shrunk by a whole factor before anything else (see _to_pil).
_MAX_PICTURE_PX = 1280

MAX_CELLS_PER_ROW = 4
"""More pictures than this in one section wrap onto several rows."""

_BACKGROUND: RGB = (255, 255, 255)
_TEXT: RGB = (34, 34, 34)
_MUTED: RGB = (110, 110, 110)
_AXIS: RGB = (140, 140, 140)
_GRID: RGB = (228, 228, 228)
_PLOT_FILL: RGB = (248, 248, 250)
_CURVE: RGB = (31, 100, 180)
_RULE: RGB = (210, 210, 210)

_ELLIPSIS = "..."  # ASCII: the bundled default font may lack a glyph for U+2026.
_MAX_MARKED_POINTS = 40  # Beyond this many points, markers would merge into a thick line.
_LOG_SPAN = 10.0  # Losses spanning more than this factor get a log-scale y axis.


@dataclass(frozen=True)
class SheetRung:
    """One rung of the ladder as the contact sheet shows it.

    Attributes:
        label: One line shown above the result, e.g. ``"rung 2/3  512x384  (100 it, 41 s)"``.
        image: The rung's result, ``(H, W, 3)`` float in [0, 1].
        iterations: x values of the loss curve: cumulative iteration numbers.
        losses: Total loss after each chunk; same length as ``iterations``; may be empty.
    """

    label: str
    image: np.ndarray
    iterations: Sequence[int]
    losses: Sequence[float]


_Cell: TypeAlias = tuple[str, Image.Image, SheetRung | None]
"""One cell of the sheet: its label, its picture and, for a rung, the rung (for its plot)."""


@dataclass(frozen=True)
class _Fonts:
    """The two text sizes of a sheet, scaled with ``cell_px``."""

    label: Font
    tick: Font


def make_contact_sheet(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    rungs: Sequence[SheetRung],
    *,
    cell_px: int = 320,
) -> np.ndarray:
    """Draw a contact sheet of a ladder's inputs, rung results and loss curves.

    Args:
        content: The content image, ``(H, W, 3)`` float in [0, 1].
        styles: The style images, each ``(H, W, 3)`` float in [0, 1]; may be empty.
        rungs: The rungs in ladder order; at least one.
        cell_px: Every picture is resized (aspect ratio kept) to fit a ``cell_px`` square.

    Returns:
        The sheet as a float32 ``(H, W, 3)`` array with values in [0, 1].

    Raises:
        ValueError: An image is not a non-empty ``(H, W, 3)`` float array, a rung's
            iterations and losses differ in length, there are no rungs, or ``cell_px`` is
            not an integer of at least :data:`MIN_CELL_PX`.
    """
    _check_cell_px(cell_px)
    _check_rungs(rungs)
    inputs = [("content", _to_pil(content, "content"))]
    inputs += [(f"style {i}", _to_pil(s, f"style {i}")) for i, s in enumerate(styles, start=1)]
    results = [_to_pil(r.image, f"rung {i} image") for i, r in enumerate(rungs, start=1)]

    fonts = _load_fonts(cell_px)
    input_cells: list[_Cell] = [(label, im, None) for label, im in inputs]
    rung_cells: list[_Cell] = [(r.label, im, r) for r, im in zip(rungs, results, strict=True)]
    input_rows = [_tile_row(row, cell_px, fonts) for row in _balanced_rows(input_cells)]
    rung_rows = [_tile_row(row, cell_px, fonts) for row in _balanced_rows(rung_cells)]
    sheet = _assemble(input_rows, rung_rows, _gutter(cell_px))
    return np.asarray(sheet, dtype=np.float32) / np.float32(255.0)


# --- validation and conversion ---------------------------------------------------------


def _check_cell_px(cell_px: int) -> None:
    """Refuse a cell size that is not an int or is too small to hold labels and plots."""
    # bool is an int subclass, but True would be a bug in the caller, not a size.
    if isinstance(cell_px, bool) or not isinstance(cell_px, int | np.integer):
        raise ValueError(f"cell_px must be an integer, got {type(cell_px).__name__}")
    if cell_px < MIN_CELL_PX:
        raise ValueError(f"cell_px must be at least {MIN_CELL_PX}, got {cell_px}")


def _check_rungs(rungs: Sequence[SheetRung]) -> None:
    """Refuse an empty ladder and loss curves whose x and y lengths differ."""
    if len(rungs) == 0:
        raise ValueError("a contact sheet needs at least one rung")
    for i, rung in enumerate(rungs, start=1):
        if not isinstance(rung, SheetRung):
            raise ValueError(f"rung {i} must be a SheetRung, got {type(rung).__name__}")
        if len(rung.iterations) != len(rung.losses):
            raise ValueError(
                f"rung {i} has {len(rung.iterations)} iterations but {len(rung.losses)} losses"
            )


def _to_pil(image: np.ndarray, name: str) -> Image.Image:
    """Check one ``(H, W, 3)`` float image and convert it to an 8-bit RGB PIL image."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")
    # Integer arrays are refused rather than guessed at: 0..255 and 0..1 would both be plausible.
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must be a float array in [0, 1], got dtype {image.dtype}")
    # A poster's rung is shrunk before any copy is made: the sheet shows it a few hundred px wide.
    image = shrink(image, _MAX_PICTURE_PX)
    # A diverged render may hold NaN; show it as black rather than failing the whole sheet.
    clean = np.clip(np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return Image.fromarray(np.round(clean * 255.0).astype(np.uint8), mode="RGB")


# --- layout ----------------------------------------------------------------------------


def _balanced_rows(items: list[T]) -> list[list[T]]:
    """Split items into rows of at most MAX_CELLS_PER_ROW, as even in length as possible.

    Six items become 3 + 3 rather than 4 + 2, and thirteen 4 + 3 + 3 + 3, which keeps the
    sheet compact and its columns tidy.
    """
    n_rows = max(1, math.ceil(len(items) / MAX_CELLS_PER_ROW))
    base, extra = divmod(len(items), n_rows)
    rows: list[list[T]] = []
    start = 0
    for r in range(n_rows):
        # The first ``extra`` rows take one item more, so lengths differ by at most one.
        end = start + base + (1 if r < extra else 0)
        rows.append(items[start:end])
        start = end
    return rows


def _fit(image: Image.Image, cell_px: int) -> Image.Image:
    """Resize so the image just fits a ``cell_px`` square, keeping its aspect ratio."""
    scale = cell_px / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Small rungs are scaled up too, so every rung is seen at the same size.
    if size == image.size:
        return image
    # reducing_gap first shrinks big rungs by whole factors, which is much faster and, at
    # 3.0, indistinguishable from a pure Lanczos resize.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _gutter(cell_px: int) -> int:
    """The space between cells (the sheet's margin is twice it)."""
    return max(8, round(cell_px * 0.06))


def _tile_row(cells: list[_Cell], cell_px: int, fonts: _Fonts) -> Image.Image:
    """Draw one row of cells: label, picture and, for rungs, the loss plot under it."""
    fitted = [_fit(im, cell_px) for _, im, _ in cells]
    # Every picture in the row gets the tallest one's box, so labels and plots line up.
    box_h = max(im.height for im in fitted)
    label_h = _line_height(fonts.label)
    gap = max(4, round(cell_px * 0.02))
    plot_h = round(cell_px * 0.5)
    has_plots = any(rung is not None for _, _, rung in cells)
    height = label_h + gap + box_h + (gap + plot_h if has_plots else 0)
    gutter = _gutter(cell_px)
    row = Image.new("RGB", (len(cells) * (cell_px + gutter) - gutter, height), _BACKGROUND)
    draw = ImageDraw.Draw(row)
    for i, ((label, _, rung), im) in enumerate(zip(cells, fitted, strict=True)):
        x0 = i * (cell_px + gutter)
        _draw_centred_text(draw, label, x0, 0, cell_px, fonts.label, _TEXT)
        top = label_h + gap
        row.paste(im, (x0 + (cell_px - im.width) // 2, top + (box_h - im.height) // 2))
        if rung is not None:
            plot = _loss_plot(rung.iterations, rung.losses, cell_px, plot_h, fonts)
            row.paste(plot, (x0, top + box_h + gap))
    return row


def _assemble(input_rows: list[Image.Image], rung_rows: list[Image.Image],
              gutter: int) -> Image.Image:
    """Stack the rows under each other with margins and a rule between inputs and rungs."""
    margin = gutter * 2
    rows = input_rows + rung_rows
    width = max(r.width for r in rows) + 2 * margin
    # A gutter under every row but the last, plus one more and a 1 px rule between the
    # inputs and the ladder.
    height = 2 * margin + sum(r.height for r in rows) + gutter * len(rows) + 1
    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    y = margin
    for row in input_rows:
        sheet.paste(row, (margin, y))
        y += row.height + gutter
    ImageDraw.Draw(sheet).line([(margin, y), (width - margin - 1, y)], fill=_RULE, width=1)
    y += 1 + gutter
    for row in rung_rows:
        sheet.paste(row, (margin, y))
        y += row.height + gutter
    return sheet


# --- text ------------------------------------------------------------------------------


def _load_fonts(cell_px: int) -> _Fonts:
    """Load Pillow's default font at sizes that scale with the cells."""
    return _Fonts(label=_default_font(max(11, round(cell_px / 21))),
                  tick=_default_font(max(10, round(cell_px / 29))))


def _default_font(size: int) -> Font:
    """Pillow's bundled font at ``size`` px, or its fixed-size bitmap font on old Pillow."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1, or no FreeType support.
        return ImageFont.load_default()


def _line_height(font: Font) -> int:
    """Height of one line of text in ``font``, ascenders to descenders."""
    return int(math.ceil(font.getbbox("Agy|")[3]))


def _text_width(text: str, font: Font) -> float:
    """Advance width of ``text`` in ``font``, in pixels."""
    return float(font.getlength(text))


def _shorten(text: str, font: Font, max_width: float) -> str:
    """Cut ``text`` and end it with an ellipsis so it fits ``max_width`` pixels."""
    if _text_width(text, font) <= max_width:
        return text
    # Binary search for the longest prefix that fits with the ellipsis: labels can be long.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _text_width(text[:mid] + _ELLIPSIS, font) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + _ELLIPSIS


def _draw_centred_text(draw: ImageDraw.ImageDraw, text: str, x0: int, y0: int, width: int,
                       font: Font, fill: RGB) -> None:
    """Draw one line centred in ``width`` pixels from ``x0``, shortened if it overflows."""
    text = _shorten(text, font, width)
    x = x0 + (width - _text_width(text, font)) / 2
    draw.text((x, y0), text, font=font, fill=fill)


# --- loss plot -------------------------------------------------------------------------


def _finite_points(iterations: Sequence[int], losses: Sequence[float]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The curve's points with non-finite x or y dropped, as two float arrays."""
    xs = np.asarray(list(iterations), dtype=np.float64).reshape(-1)
    ys = np.asarray(list(losses), dtype=np.float64).reshape(-1)
    keep = np.isfinite(xs) & np.isfinite(ys)
    return xs[keep], ys[keep]


def _uses_log_scale(ys: np.ndarray) -> bool:
    """Whether the losses are all positive and span more than a factor of _LOG_SPAN."""
    return ys.size >= 2 and bool(ys.min() > 0) and bool(ys.max() > _LOG_SPAN * ys.min())


def _format_loss(value: float) -> str:
    """A loss as a short tick label: 3 significant digits, e.g. ``0.625``, ``1.2e5``."""
    text = f"{value:.3g}"
    if "e" not in text:
        return text
    # "7.2e+04" reads as noise on a small plot; "7.2e4" says the same thing.
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _format_iteration(value: float) -> str:
    """An iteration number as a tick label."""
    return f"{int(round(value))}"


@dataclass(frozen=True)
class _Axes:
    """Maps data to pixels inside a plot frame.

    Attributes:
        frame: ``(left, top, right, bottom)`` of the plot area, in pixels.
        x_range: Smallest and largest x (iteration).
        y_range: Smallest and largest y, in plotted units (log10 of the loss on a log axis).
    """

    frame: tuple[int, int, int, int]
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    _INSET = 4  # Keeps end markers and the line's width inside the frame.

    def px(self, x: float) -> float:
        """Pixel column of an x value."""
        left, _, right, _ = self.frame
        return _scale(x, *self.x_range, left + self._INSET, right - self._INSET)

    def py(self, y: float) -> float:
        """Pixel row of a y value; rows grow downwards, so the largest y is at the top."""
        _, top, _, bottom = self.frame
        return _scale(y, *self.y_range, bottom - self._INSET, top + self._INSET)


def _scale(value: float, lo: float, hi: float, out_lo: float, out_hi: float) -> float:
    """Map a value from [lo, hi] onto [out_lo, out_hi]; a zero-width range maps to the middle."""
    if hi - lo <= 0:
        return (out_lo + out_hi) / 2
    return out_lo + (value - lo) / (hi - lo) * (out_hi - out_lo)


def _loss_plot(iterations: Sequence[int], losses: Sequence[float], width: int, height: int,
               fonts: _Fonts) -> Image.Image:
    """Draw a rung's loss curve: axes, min/max loss and first/last iteration ticks.

    The y axis is logarithmic when the losses span more than a factor of ten, since the
    first chunk of a rung usually dwarfs the rest. Non-finite points are skipped; with no
    drawable point left the plot says so.
    """
    xs, ys = _finite_points(iterations, losses)
    log_y = _uses_log_scale(ys)
    plot = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(plot)
    draw.text((0, 0), "total loss (log scale)" if log_y else "total loss", font=fonts.tick,
              fill=_MUTED)
    frame = _plot_frame(xs, ys, width, height, fonts.tick)
    draw.rectangle(frame, fill=_PLOT_FILL)
    if ys.size == 0:
        tick_h = _line_height(fonts.tick)
        _draw_centred_text(draw, "no loss recorded", frame[0],
                           (frame[1] + frame[3] - tick_h) // 2, frame[2] - frame[0],
                           fonts.tick, _MUTED)
    else:
        plotted = np.log10(ys) if log_y else ys
        axes = _Axes(frame, (float(xs.min()), float(xs.max())),
                     (float(plotted.min()), float(plotted.max())))
        # Gridlines and ticks first, so the curve is drawn over them.
        _draw_y_ticks(draw, axes, ys, log_y, fonts.tick)
        x_ticks = _draw_x_ticks(draw, axes, xs, fonts.tick)
        _draw_axis_name(draw, "iteration", axes, fonts.tick, x_ticks)
        _draw_curve(draw, axes, xs, plotted)
    # Axes last, so the curve's markers never paint over them.
    draw.line([(frame[0], frame[1]), (frame[0], frame[3]), (frame[2], frame[3])],
              fill=_AXIS, width=1)
    return plot


def _plot_frame(xs: np.ndarray, ys: np.ndarray, width: int, height: int, font: Font
                ) -> tuple[int, int, int, int]:
    """The plot area inside a ``width`` x ``height`` plot, leaving room for the labels."""
    tick_h = _line_height(font)
    # The widest y label is the larger of the extremes' (decade labels are shorter or equal).
    y_labels = [_format_loss(float(ys.max())), _format_loss(float(ys.min()))] if ys.size else []
    left = int(max([_text_width(t, font) for t in y_labels] + [0])) + 10
    # Leave room on the right for half of the last x label, which is centred on its tick.
    last_x = _text_width(_format_iteration(float(xs.max())), font) / 2 if xs.size else 0
    right = width - 1 - max(6, int(last_x))
    return (left, tick_h + 6, right, height - 1 - tick_h - 6)


def _draw_y_ticks(draw: ImageDraw.ImageDraw, axes: _Axes, ys: np.ndarray, log_y: bool,
                  font: Font) -> None:
    """Label the largest and smallest loss and, on a log axis, the powers of ten between.

    A label that would overlap one already drawn is left out, so a flat curve (one level)
    is labelled once and crowded decades thin out.
    """
    tick_h = _line_height(font)
    candidates = [(float(ys.max()), True), (float(ys.min()), True)]
    if log_y:
        low, high = axes.y_range
        candidates += [(10.0**k, False) for k in range(math.ceil(low), math.floor(high) + 1)]
    taken: list[float] = []
    left, _, right, _ = axes.frame
    for value, is_extreme in candidates:
        y = axes.py(math.log10(value) if log_y else value)
        if any(abs(y - t) < tick_h for t in taken):
            continue
        taken.append(y)
        # Faint gridlines make the tick labels easy to read across to the curve.
        draw.line([(left, y), (right, y)], fill=_GRID, width=1)
        draw.line([(left - 3, y), (left, y)], fill=_AXIS, width=1)
        text = _format_loss(value)
        draw.text((left - 7 - _text_width(text, font), y - tick_h / 2), text, font=font,
                  fill=_TEXT if is_extreme else _MUTED)


def _draw_x_ticks(draw: ImageDraw.ImageDraw, axes: _Axes, xs: np.ndarray, font: Font
                  ) -> list[tuple[float, str]]:
    """Label the first and last iteration; return the ticks as ``(pixel x, text)``."""
    bottom = axes.frame[3]
    ticks = [(axes.px(float(xs.min())), _format_iteration(float(xs.min())))]
    if xs.max() > xs.min():  # One point, or all at one iteration: a single x tick.
        ticks.append((axes.px(float(xs.max())), _format_iteration(float(xs.max()))))
    for x, text in ticks:
        draw.line([(x, bottom), (x, bottom + 3)], fill=_AXIS, width=1)
        draw.text((x - _text_width(text, font) / 2, bottom + 4), text, font=font, fill=_TEXT)
    return ticks


def _draw_axis_name(draw: ImageDraw.ImageDraw, name: str, axes: _Axes, font: Font,
                    x_ticks: list[tuple[float, str]]) -> None:
    """Write the x axis name centred under the axis, unless a tick label is in the way."""
    left, _, right, bottom = axes.frame
    width = _text_width(name, font)
    start = (left + right - width) / 2
    for x, text in x_ticks:
        half = _text_width(text, font) / 2 + 6
        if x - half < start + width and start < x + half:
            return
    draw.text((start, bottom + 4), name, font=font, fill=_MUTED)


def _draw_curve(draw: ImageDraw.ImageDraw, axes: _Axes, xs: np.ndarray, ys: np.ndarray
                ) -> None:
    """Draw the curve as a line, with point markers when there are few enough to tell apart."""
    order = np.argsort(xs, kind="stable")  # Chunks arrive in order, but don't rely on it.
    points = [(axes.px(float(x)), axes.py(float(y))) for x, y in zip(xs[order], ys[order],
                                                                      strict=True)]
    if len(points) > 1:
        draw.line(points, fill=_CURVE, width=2, joint="curve")
    if len(points) <= _MAX_MARKED_POINTS:
        for x, y in points:
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=_CURVE)
