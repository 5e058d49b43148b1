"""Built-in demo images for ``hires demo``, drawn entirely in code.

The demo must work offline and without any bundled image files, so both the
content "photo" (a lakeside village in front of mountains) and the style
"painting" (a swirling, expressionist night sky made of brush strokes) are
drawn here with numpy and Pillow's ``ImageDraw``.

Every shape is placed in fractions of the canvas width and height and every
random number comes from a fixed-seed ``numpy.random.Generator``, so a given
size always gives the same pixels and different sizes show the same picture.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

FloatImage = npt.NDArray[np.float32]
Array = npt.NDArray[np.float64]

MIN_SIDE_PX = 16
# Fixed seeds: the demo must look identical on every run and every machine.
_CONTENT_SEED = 20160627
_STYLE_SEED = 18890618
# ImageDraw does not antialias; drawing at 2x and shrinking smooths the edges.
_SUPERSAMPLE = 2
# Water line of the lake, as a fraction of the height.
_SHORE_Y = 0.64
# Top of the grassy foreground bank, as a fraction of the height.
_BANK_Y = 0.91
# The sun sits up and to the right; shading and glitter follow it.
_SUN_XY = (0.78, 0.19)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def _check_size(width_px: int, height_px: int) -> None:
    """Reject sizes the drawing code cannot honour, with a message naming the fix."""
    for name, value in (("width_px", width_px), ("height_px", height_px)):
        # bool is an int subclass, but True as a size is always a mistake.
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not is_int or value < MIN_SIDE_PX:
            raise ValueError(
                f"{name} must be an integer of at least {MIN_SIDE_PX} pixels, got {value!r}"
            )


def _pixel_grid(width_px: int, height_px: int) -> tuple[Array, Array]:
    """Return pixel-centre coordinates as fractions: xs with shape (1, W), ys with shape (H, 1)."""
    xs = (np.arange(width_px, dtype=np.float64) + 0.5)[None, :] / width_px
    ys = (np.arange(height_px, dtype=np.float64) + 0.5)[:, None] / height_px
    return xs, ys


def _smooth_noise(rng: np.random.Generator, shape_px: tuple[int, int], cells: tuple[int, int]) -> Array:
    """Smooth value noise in [-1, 1] of ``shape_px`` (H, W) from a ``cells`` (rows, cols) grid.

    The grid size is fixed in cells, not pixels, so the pattern scales with the
    image instead of changing its character at other sizes.
    """
    grid = rng.uniform(0.0, 255.0, size=cells).astype(np.uint8)
    small = Image.fromarray(grid, mode="L")
    big = small.resize((shape_px[1], shape_px[0]), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float64) / 127.5 - 1.0


def _noise_1d(rng: np.random.Generator, xs: Array, octaves: list[tuple[int, float]]) -> Array:
    """Fractal 1-D value noise over fractions ``xs``; each octave is (control points, amplitude)."""
    total = np.zeros_like(xs)
    for points, amplitude in octaves:
        knots = rng.uniform(-1.0, 1.0, size=points + 1)
        position = xs * points
        left = np.clip(np.floor(position).astype(int), 0, points - 1)
        t = position - left
        # Smoothstep blending gives rounded hills rather than straight ramps.
        t = t * t * (3.0 - 2.0 * t)
        total += amplitude * (knots[left] * (1.0 - t) + knots[left + 1] * t)
    return total


def _mix(a: Array, b: Array | tuple[float, float, float], t: Array | float) -> Array:
    """Blend colours from ``a`` towards ``b``; ``t`` must broadcast against ``a`` (use t[..., None])."""
    return a + (np.asarray(b, dtype=np.float64) - a) * t


def _composite_layer(scene: Array, layer: Image.Image, texture: Array | None = None) -> Array:
    """Shrink a supersampled RGBA drawing to the scene size and alpha-blend it on top.

    ``texture`` (H, W), if given, multiplies the drawing's colours so flat
    fills pick up the uneven shading of real surfaces.
    """
    height_px, width_px = scene.shape[:2]
    # Pillow resizes RGBA with premultiplied alpha, so edges do not go dark.
    small = np.asarray(layer.resize((width_px, height_px), Image.Resampling.BOX), dtype=np.float64)
    alpha = small[..., 3:] / 255.0
    colour = small[..., :3] / 255.0
    if texture is not None:
        colour = colour * texture[..., None]
    return scene * (1.0 - alpha) + colour * alpha


def _to_float_image(image: Array) -> FloatImage:
    """Clip to [0, 1] and return the float32 (H, W, 3) array the renderer expects."""
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


# --------------------------------------------------------------------------
# Content: a lakeside village photograph
# --------------------------------------------------------------------------

# Sky colour stops (fraction of height, RGB): deep blue overhead, warm haze at the horizon.
_SKY_STOPS = (
    (0.00, (0.17, 0.33, 0.64)),
    (0.30, (0.38, 0.58, 0.84)),
    (0.52, (0.72, 0.79, 0.88)),
    (_SHORE_Y, (0.96, 0.87, 0.74)),
)
_HAZE = (0.78, 0.82, 0.88)


def _draw_sky(xs: Array, ys: Array) -> Array:
    """Vertical sky gradient, slightly brighter towards the sun side like a real sky."""
    stops_y = np.array([y for y, _ in _SKY_STOPS])
    stops_rgb = np.array([rgb for _, rgb in _SKY_STOPS])
    column = np.stack([np.interp(ys[:, 0], stops_y, stops_rgb[:, c]) for c in range(3)], axis=-1)
    sky = np.broadcast_to(column[:, None, :], (ys.shape[0], xs.shape[1], 3)).copy()
    # A faint horizontal brightening towards the sun keeps the gradient from looking synthetic.
    return sky + 0.05 * (xs - 0.5)[..., None]


def _add_sun(scene: Array, xs: Array, ys: Array, aspect: float) -> Array:
    """Soft-edged sun disc plus a wide glow; distances use height units so it stays round."""
    dist = np.hypot((xs - _SUN_XY[0]) * aspect, ys - _SUN_XY[1])
    glow = 0.45 * np.exp(-dist / 0.12) + 0.2 * np.exp(-dist / 0.35)
    scene = scene + glow[..., None] * np.array([1.0, 0.85, 0.6]) * 0.6
    disc = np.clip((0.042 - dist) / 0.006, 0.0, 1.0)
    return _mix(scene, (1.0, 0.98, 0.9), disc[..., None])


def _cloud_mask(rng: np.random.Generator, width_px: int, height_px: int) -> Array:
    """Blurred clusters of ellipses: puffy cumulus-like alpha in [0, 1]."""
    mask = Image.new("L", (width_px, height_px), 0)
    draw = ImageDraw.Draw(mask)
    for cx, cy, span in ((0.16, 0.16, 0.22), (0.47, 0.13, 0.18), (0.55, 0.3, 0.26), (0.93, 0.34, 0.14)):
        for _ in range(14):
            # Puffs pile up in the middle of a cloud and flatten towards its base.
            px = cx + rng.normal(0.0, span / 3.0)
            py = cy + abs(rng.normal(0.0, 0.02)) * -1.0
            radius = rng.uniform(0.025, 0.055) * (1.0 - abs(px - cx) / span)
            if radius <= 0.0:
                continue
            box = ((px - radius * 1.3) * width_px, (py - radius) * height_px,
                   (px + radius * 1.3) * width_px, (cy + 0.02) * height_px)
            draw.ellipse(box, fill=int(rng.uniform(150, 235)))
    blurred = mask.filter(ImageFilter.GaussianBlur(radius=0.009 * height_px))
    return np.asarray(blurred, dtype=np.float64) / 255.0


def _add_clouds(scene: Array, rng: np.random.Generator) -> Array:
    """Clouds lit from above: bright tops, blue-grey undersides."""
    height_px, width_px = scene.shape[:2]
    mask = _cloud_mask(rng, width_px, height_px)
    # Compare each pixel with the pixel a little above: top edges are where the cloud begins.
    shift = max(1, round(0.02 * height_px))
    above = np.vstack([np.zeros((shift, width_px)), mask[:-shift]])
    light = np.clip(0.35 + 2.5 * (mask - above), 0.0, 1.0)
    colour = _mix(np.array([0.66, 0.70, 0.79]), (1.0, 0.98, 0.95), light[..., None])
    texture = 1.0 + 0.04 * _smooth_noise(rng, (height_px, width_px), (24, 48))
    return _mix(scene, colour * texture[..., None], 0.92 * mask[..., None])


def _ridge_alpha(ys: Array, ridge: Array, height_px: int) -> Array:
    """Coverage of a layer below ``ridge``, with a one-pixel soft edge for antialiasing."""
    return np.clip((ys - ridge) * height_px + 0.5, 0.0, 1.0)


def _slope_light(xs: Array, ridge: Array, aspect: float) -> Array:
    """Per-column light in [-1, 1] for rounded hills: slopes falling towards the sun (right) are lit."""
    slope = np.gradient(ridge[0], xs[0]) / aspect
    return np.tanh(2.5 * slope)[None, :]


# Mountain peaks: apex (x, y) as fractions, and steepness (height units per height unit across).
_PEAKS = ((0.0, 0.33, 0.7), (0.13, 0.25, 0.75), (0.27, 0.31, 0.65), (0.4, 0.21, 0.8), (0.53, 0.3, 0.7),
          (0.64, 0.24, 0.75), (0.77, 0.33, 0.6), (0.9, 0.26, 0.7), (1.02, 0.3, 0.7))


def _mountain_range(grid: tuple[Array, Array, float], rng: np.random.Generator) -> tuple[Array, Array]:
    """Ridge line and per-pixel light of a range of pyramid-like peaks.

    Each pixel belongs to the nearest apex whose slopes contain it; a wiggly
    crest line running down from that apex splits its peak into a sunlit right
    face and a shadowed left face, which is what makes the shapes read as rock.
    """
    xs, ys, aspect = grid
    rough = _noise_1d(rng, xs, [(25, 0.006), (70, 0.003)])
    crest_wiggle = _noise_1d(rng, ys.T, [(12, 0.015)]).T
    surfaces = np.stack([py + steep * np.abs(xs - px) * aspect + rough for px, py, steep in _PEAKS])
    ridge = surfaces.min(axis=0)
    apex_x, apex_y = (np.array([p[i] for p in _PEAKS])[:, None, None] for i in (0, 1))
    # The nearest apex whose face contains the pixel owns it, so valleys split along diagonals.
    distance = np.hypot((xs[None] - apex_x) * aspect, ys[None] - apex_y)
    owner = np.argmin(np.where(ys[None] >= surfaces - 0.01, distance, np.inf), axis=0)
    apex_x, apex_y = apex_x[owner, 0, 0], apex_y[owner, 0, 0]
    crest = apex_x + 0.25 * (ys - apex_y) / aspect + crest_wiggle
    light = np.tanh((xs - crest) * aspect * 60.0)
    return ridge, light


def _add_land_layer(
    scene: Array,
    grid: tuple[Array, Array, float],
    layer: tuple[Array, Array],
    colour: tuple[float, float, float],
    haze: float,
    texture: Array,
) -> Array:
    """Paint one mountain or hill layer (ridge, light): shading, texture, and mist in the valleys."""
    _, ys, _ = grid
    ridge, light = layer
    alpha = _ridge_alpha(ys, ridge, scene.shape[0])
    shade = (1.0 + 0.3 * light + 0.08 * texture)[..., None]
    land = np.asarray(colour) * shade * np.ones_like(scene)
    # Aerial perspective: distant layers and low valleys fade towards the sky haze.
    depth = np.clip((ys - ridge) / 0.15, 0.0, 1.0)
    fog = np.clip(haze + (1.0 - haze) * 0.4 * depth**2, 0.0, 1.0)
    land = _mix(land, _HAZE, fog[..., None])
    return _mix(scene, land, alpha[..., None])


def _add_snow(scene: Array, grid: tuple[Array, Array, float], layer: tuple[Array, Array], noise: Array) -> Array:
    """Snow caps above a ragged snow line: white in the sun, blue in the shade."""
    _, ys, _ = grid
    ridge, light = layer
    alpha = _ridge_alpha(ys, ridge, scene.shape[0])
    snow_line = 0.3 + 0.03 * noise
    snow = np.clip((snow_line - ys) / 0.01, 0.0, 1.0) * alpha
    colour = _mix(np.array([0.62, 0.68, 0.82]), (0.98, 0.97, 0.95), ((light + 1.0) / 2.0)[..., None])
    return _mix(scene, colour, 0.9 * snow[..., None])


def _hills(grid: tuple[Array, Array, float], rng: np.random.Generator, base: float,
           octaves: list[tuple[int, float]]) -> tuple[Array, Array]:
    """Ridge and slope light of a rounded line of hills."""
    xs, _, aspect = grid
    ridge = base + _noise_1d(rng, xs, octaves)
    return ridge, _slope_light(xs, ridge, aspect)


def _add_landscape(scene: Array, grid: tuple[Array, Array, float], rng: np.random.Generator) -> Array:
    """Three receding layers: snowy mountains, blue-green wooded hills, and the village's green hill."""
    shape = scene.shape[:2]
    far = _mountain_range(grid, rng)
    # Tall, narrow noise cells read as gullies running down the rock faces.
    gullies = _smooth_noise(rng, shape, (8, 90)) + 0.5 * _smooth_noise(rng, shape, (30, 160))
    scene = _add_land_layer(scene, grid, (far[0], 1.5 * far[1]), (0.40, 0.42, 0.52), 0.15, 1.8 * gullies)
    scene = _add_snow(scene, grid, far, _smooth_noise(rng, shape, (12, 40)) + 0.4 * gullies)
    mid = _hills(grid, rng, 0.50, [(4, 0.035), (11, 0.012), (33, 0.003)])
    scene = _add_land_layer(scene, grid, mid, (0.18, 0.30, 0.28), 0.2, _smooth_noise(rng, shape, (20, 60)))
    # Patchwork fields on the near hill: coarse noise read as differently coloured meadows.
    fields = _smooth_noise(rng, shape, (8, 16)) + 0.5 * _smooth_noise(rng, shape, (40, 90))
    near = _hills(grid, rng, 0.575, [(3, 0.022), (9, 0.008), (40, 0.002)])
    return _add_land_layer(scene, grid, near, (0.33, 0.50, 0.20), 0.0, 2.5 * fields)


class _Canvas:
    """An RGBA drawing at supersampled resolution, addressed in fractions of the picture."""

    def __init__(self, width_px: int, height_px: int) -> None:
        """Create a transparent layer ``_SUPERSAMPLE`` times the picture size."""
        self.width = width_px * _SUPERSAMPLE
        self.height = height_px * _SUPERSAMPLE
        self.image = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def xy(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Convert fractional (x, y) points to supersampled pixels."""
        return [(x * self.width, y * self.height) for x, y in points]

    def polygon(self, points: list[tuple[float, float]], rgb: tuple[int, int, int]) -> None:
        """Filled opaque polygon in fractional coordinates."""
        self.draw.polygon(self.xy(points), fill=(*rgb, 255))

    def rect(self, x0: float, y0: float, x1: float, y1: float, rgb: tuple[int, int, int]) -> None:
        """Filled axis-aligned rectangle in fractional coordinates."""
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], rgb)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, rgb: tuple[int, int, int]) -> None:
        """Filled ellipse; ``rx`` is a fraction of the width and ``ry`` of the height."""
        box = self.xy([(cx - rx, cy - ry), (cx + rx, cy + ry)])
        self.draw.ellipse([box[0], box[1]], fill=(*rgb, 255))

    def line(self, points: list[tuple[float, float]], rgb: tuple[int, int, int], width_frac: float) -> None:
        """Polyline with a width given as a fraction of the height."""
        width = max(1, round(width_frac * self.height))
        self.draw.line(self.xy(points), fill=(*rgb, 255), width=width, joint="curve")


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """Darken (factor < 1) or lighten (factor > 1) a colour, clipped to 0..255."""
    r, g, b = (min(255, max(0, round(c * factor))) for c in rgb)
    return (r, g, b)


def _draw_window(canvas: _Canvas, x: float, y: float, w: float, h: float, lit: bool) -> None:
    """A framed window; lit ones glow warm, unlit ones reflect the blue sky."""
    canvas.rect(x - w * 0.12, y - h * 0.08, x + w * 1.12, y + h * 1.08, (96, 80, 66))
    glass = (250, 205, 120) if lit else (70, 88, 112)
    canvas.rect(x, y, x + w, y + h, glass)
    # Thin mullions: a cross makes a small rectangle read unmistakably as a window.
    canvas.rect(x + w * 0.46, y, x + w * 0.54, y + h, (190, 184, 172))
    canvas.rect(x, y + h * 0.46, x + w, y + h * 0.54, (190, 184, 172))


def _draw_house(canvas: _Canvas, house: tuple[float, float, float, float, float], wall: tuple[int, int, int],
                roof: tuple[int, int, int], lit: bool) -> None:
    """A gabled house in three-quarter view: shaded gable end, sunlit side wall, sloping roof."""
    x, base, fw, sw, h = house
    top, apex = base - h, base - h - 0.55 * h
    side = [(x + fw, base), (x + fw + sw, base), (x + fw + sw, top), (x + fw, top)]
    canvas.polygon(side, _shade(wall, 1.1))
    canvas.polygon([(x, base), (x + fw, base), (x + fw, top), (x + fw / 2, apex), (x, top)], _shade(wall, 0.78))
    # The roof overhangs the walls a little, in proportion to the house.
    eave = 0.24 * fw
    canvas.polygon([(x + fw / 2, apex), (x + fw / 2 + sw, apex), (x + fw + sw + eave, top + 0.006),
                    (x + fw + eave, top + 0.006)], roof)
    canvas.line([(x - eave * 0.5, top + 0.004), (x + fw / 2, apex), (x + fw + eave, top + 0.006)],
                _shade(roof, 0.6), 0.004)
    # Chimney, then windows (side wall and attic) and the door: the details that say "house".
    canvas.rect(x + fw / 2 + sw * 0.6, apex - 0.018, x + fw / 2 + sw * 0.6 + 0.006, apex + 0.006, (120, 70, 55))
    for i in range(2):
        _draw_window(canvas, x + fw + sw * (0.2 + 0.45 * i), top + h * 0.28, sw * 0.16, h * 0.26, lit and i == 1)
    _draw_window(canvas, x + fw * 0.4, top - h * 0.22, fw * 0.2, h * 0.18, False)
    canvas.rect(x + fw * 0.35, base - h * 0.45, x + fw * 0.65, base, (92, 60, 40))


def _draw_church(canvas: _Canvas, x: float, base: float) -> None:
    """A white church: long nave with a dark roof and a tall tower with a pointed spire."""
    _draw_house(canvas, (x + 0.035, base, 0.045, 0.09, 0.07), (236, 230, 214), (88, 84, 92), False)
    tw, th = 0.04, 0.19
    canvas.rect(x, base - th, x + tw, base, (205, 198, 184))
    canvas.rect(x + tw, base - th, x + tw * 1.35, base, (240, 236, 224))
    spire = [(x - 0.004, base - th), (x + tw * 1.35 + 0.004, base - th), (x + tw * 0.68, base - th - 0.15)]
    canvas.polygon(spire, (62, 86, 84))
    canvas.polygon([(x + tw * 0.68, base - th - 0.15), (x + tw * 1.35 + 0.004, base - th),
                    (x + tw * 0.8, base - th)], (96, 126, 120))
    canvas.ellipse(x + tw / 2, base - th + 0.035, tw * 0.28, tw * 0.28 * canvas.width / canvas.height,
                   (228, 200, 110))
    canvas.rect(x + tw * 0.3, base - th * 0.55, x + tw * 0.7, base - th * 0.35, (60, 52, 50))
    # Finial on the spire tip.
    canvas.line([(x + tw * 0.68, base - th - 0.15), (x + tw * 0.68, base - th - 0.18)], (60, 50, 40), 0.003)


def _draw_tree(canvas: _Canvas, rng: np.random.Generator, x: float, base: float, size: float, tall: bool) -> None:
    """A round deciduous tree or a tall poplar, built from clustered, sun-shaded leaf blobs.

    ``size`` is in fractions of the height; horizontal extents are divided by the
    aspect ratio so crowns stay round on any canvas shape.
    """
    aspect = canvas.width / canvas.height
    trunk = size * 0.05 / aspect
    canvas.rect(x - trunk, base - size * 0.8, x + trunk, base, (70, 52, 38))
    half_w, half_h = (size * 0.2, size * 0.85) if tall else (size * 0.45, size * 0.42)
    cy = base - size * (1.05 if tall else 0.85)
    # Each tree gets its own green, from dark summer leaves to lighter olive.
    leaf = (int(rng.integers(48, 80)), int(rng.integers(92, 118)), int(rng.integers(36, 56)))
    # Dark blobs first, lighter ones offset towards the sun on top: gives the crown volume.
    for tone, offset, count in ((0.5, -0.3, 26), (0.8, 0.0, 22), (1.1, 0.35, 16), (1.3, 0.55, 8)):
        for _ in range(count):
            bx = x + rng.normal(offset * half_w * 0.4, half_w * 0.3) / aspect
            by = cy + rng.normal(-offset * half_h * 0.3, half_h * 0.27)
            r = half_w * rng.uniform(0.32, 0.5)
            canvas.ellipse(bx, by, r / aspect, r * (half_h / half_w) * 0.55, _shade(leaf, tone))


def _add_village(scene: Array, rng: np.random.Generator) -> Array:
    """Houses, a church and trees standing on the shore of the lake."""
    height_px, width_px = scene.shape[:2]
    canvas = _Canvas(width_px, height_px)
    base = _SHORE_Y - 0.004
    for x, size, tall in ((0.04, 0.09, False), (0.24, 0.13, True), (0.46, 0.1, False),
                          (0.66, 0.14, True), (0.9, 0.1, False), (0.97, 0.12, True)):
        _draw_tree(canvas, rng, x, base - 0.01, size, tall)
    houses = (((0.08, base, 0.05, 0.06, 0.07), (222, 206, 178), (168, 72, 52), True),
              ((0.155, base, 0.04, 0.05, 0.06), (238, 226, 204), (128, 62, 50), False),
              ((0.5, base, 0.05, 0.07, 0.075), (214, 186, 150), (150, 66, 48), True),
              ((0.58, base, 0.035, 0.045, 0.055), (230, 220, 200), (96, 86, 90), False),
              ((0.72, base, 0.05, 0.06, 0.065), (206, 170, 140), (172, 84, 56), True))
    for house, wall, roof, lit in houses:
        _draw_house(canvas, house, wall, roof, lit)
    _draw_church(canvas, 0.3, base)
    for x, size in ((0.0, 0.06), (0.2, 0.07), (0.44, 0.05), (0.84, 0.07)):
        _draw_tree(canvas, rng, x, base + 0.004, size, False)
    # Weathering: coarse and fine noise break up the flat paint of walls, roofs and leaves.
    shape = (height_px, width_px)
    texture = 1.0 + 0.06 * _smooth_noise(rng, shape, (40, 160)) + 0.05 * _smooth_noise(rng, shape, (120, 400))
    # A touch of blur softens the drawn edges to the slight softness of a camera lens.
    return _composite_layer(scene, canvas.image.filter(ImageFilter.GaussianBlur(radius=0.7)), texture)


def _water_ripples(rng: np.random.Generator, rows: int, width_px: int) -> Array:
    """Horizontal streak noise for the lake: many rows of cells, few columns, so it reads as ripples."""
    return _smooth_noise(rng, (rows, width_px), (70, 10)) + 0.5 * _smooth_noise(rng, (rows, width_px), (140, 30))


def _add_water(scene: Array, grid: tuple[Array, Array, float], rng: np.random.Generator) -> Array:
    """A lake mirroring the shore, with rippled distortion, depth darkening and sun glitter."""
    xs, _, aspect = grid
    height_px, width_px = scene.shape[:2]
    shore = round(_SHORE_Y * height_px)
    rows = np.arange(shore, height_px)
    depth = ((rows - shore) / max(1, height_px - shore))[:, None]
    ripples = _water_ripples(rng, rows.size, width_px)
    # Mirror the scene about the water line; ripples shift rows sideways, more so near the viewer.
    src_rows = np.clip(2 * shore - 1 - rows, 0, height_px - 1)[:, None]
    shift = ripples * (0.002 + 0.012 * depth) * width_px
    src_cols = np.clip(np.round(np.arange(width_px)[None, :] + shift), 0, width_px - 1).astype(int)
    reflection = scene[src_rows, src_cols] * 0.8 * (1.0 + 0.07 * ripples)[..., None]
    deep = _mix(np.array([0.30, 0.44, 0.54]), (0.07, 0.18, 0.26), depth[..., None])
    # Fresnel: the far water mirrors the shore, the near water shows its own dark colour.
    water = _mix(reflection, deep * np.ones_like(reflection), (0.15 + 0.5 * depth)[..., None])
    near_sun = np.exp(-(((xs - _SUN_XY[0]) * aspect / 0.07) ** 2))
    glitter = np.clip((ripples - 0.55) * 3.0, 0.0, 1.0) * near_sun * (1.0 - 0.6 * depth)
    water = water + glitter[..., None] * np.array([1.0, 0.92, 0.75]) * 0.7
    # A thin pale line where the water meets the bank, as calm lakes show in photos.
    edge = np.exp(-(((rows - shore) / max(1.0, 0.004 * height_px)) ** 2))[:, None, None]
    water = _mix(water, (0.82, 0.86, 0.88), 0.35 * edge)
    scene = scene.copy()
    scene[shore:] = water
    return scene


def _draw_grass(canvas: _Canvas, rng: np.random.Generator, bank: Array) -> None:
    """Grass blades and a clump of reeds growing from the foreground bank."""
    width_px = bank.shape[1]
    for _ in range(420):
        x = rng.uniform(0.0, 1.0)
        root = bank[0, min(width_px - 1, int(x * width_px))] + rng.uniform(0.01, 0.09)
        tall, lean = rng.uniform(0.03, 0.09), rng.normal(0.0, 0.012)
        tone = rng.uniform(0.6, 1.3)
        blade = [(x, root), (x + lean * 0.4, root - tall * 0.6), (x + lean, root - tall)]
        canvas.line(blade, _shade((88, 120, 46), tone), 0.004)
    for _ in range(14):
        x = rng.normal(0.12, 0.03)
        top = _BANK_Y - rng.uniform(0.06, 0.14)
        canvas.line([(x, 1.0), (x + rng.normal(0.0, 0.006), top)], (96, 110, 52), 0.005)
        canvas.ellipse(x, top + 0.03, 0.004, 0.022, (98, 62, 36))


def _add_foreground(scene: Array, grid: tuple[Array, Array, float], rng: np.random.Generator) -> Array:
    """A dark grassy bank across the bottom that frames the lake and gives depth."""
    xs, ys, _ = grid
    height_px, width_px = scene.shape[:2]
    bank = _BANK_Y + _noise_1d(rng, xs, [(5, 0.02), (23, 0.006)])
    alpha = _ridge_alpha(ys, bank, height_px)
    depth = np.clip((ys - bank) / (1.0 - _BANK_Y), 0.0, 1.0)
    earth = _mix(np.array([0.30, 0.38, 0.15]), (0.10, 0.14, 0.05), depth[..., None])
    earth = earth * (1.0 + 0.15 * _smooth_noise(rng, (height_px, width_px), (12, 80)))[..., None]
    scene = _mix(scene, earth, alpha[..., None])
    canvas = _Canvas(width_px, height_px)
    _draw_grass(canvas, rng, bank)
    return _composite_layer(scene, canvas.image)


def _finish_photo(scene: Array, grid: tuple[Array, Array, float], rng: np.random.Generator) -> Array:
    """Camera look: a gentle vignette and fine sensor grain."""
    xs, ys, aspect = grid
    radius_sq = ((xs - 0.5) * aspect) ** 2 + (ys - 0.5) ** 2
    scene = scene * (1.0 - 0.22 * radius_sq / (0.25 * aspect**2 + 0.25))[..., None]
    grain = rng.normal(0.0, 0.012, size=scene.shape[:2])[..., None] + rng.normal(0.0, 0.005, size=scene.shape)
    return scene + grain


def draw_demo_content(width_px: int = 512, height_px: int = 384) -> FloatImage:
    """Draw the demo content "photograph": a lakeside village below snowy mountains.

    Returns a float32 array of shape (height_px, width_px, 3) with values in [0, 1].
    The same size always gives the same pixels. Raises ValueError for sizes that
    are not integers of at least ``MIN_SIDE_PX``.
    """
    _check_size(width_px, height_px)
    width_px, height_px = int(width_px), int(height_px)
    rng = np.random.default_rng(_CONTENT_SEED)
    xs, ys = _pixel_grid(width_px, height_px)
    grid = (xs, ys, width_px / height_px)
    scene = _add_sun(_draw_sky(xs, ys), xs, ys, grid[2])
    scene = _add_clouds(scene, rng)
    scene = _add_landscape(scene, grid, rng)
    scene = _add_village(scene, rng)
    scene = _add_water(scene, grid, rng)
    scene = _add_foreground(scene, grid, rng)
    return _to_float_image(_finish_photo(scene, grid, rng))


# --------------------------------------------------------------------------
# Style: a swirling, expressionist night sky in thick brush strokes
# --------------------------------------------------------------------------

# Night blues from midnight to pale sky; strokes pick colours along this ramp.
_NIGHT_PALETTE = np.array([
    (0.03, 0.06, 0.20),
    (0.06, 0.13, 0.40),
    (0.12, 0.27, 0.64),
    (0.14, 0.42, 0.62),
    (0.30, 0.56, 0.72),
    (0.56, 0.72, 0.86),
])
# Stars and moon: centre (x, y as fractions), halo radius (height units), spin of their swirl.
_STARS = ((0.10, 0.18, 0.08, 0.22), (0.30, 0.09, 0.06, -0.16), (0.55, 0.2, 0.07, 0.2),
          (0.74, 0.52, 0.07, -0.2), (0.87, 0.15, 0.12, 0.35), (0.14, 0.72, 0.07, 0.2),
          (0.47, 0.84, 0.06, -0.16), (0.93, 0.80, 0.07, 0.2))
# Large swirls without a star: the rolling vortices that dominate the sky.
_SWIRLS = ((0.36, 0.46, 0.13, -0.5), (0.58, 0.5, 0.11, 0.4), (0.70, 0.28, 0.07, -0.18),
           (0.24, 0.4, 0.06, 0.15))
# Background wind (amplitude, u and v wave numbers): a rolling, mostly horizontal drift.
_WIND = (0.09, 5.0, 2.5)
_REFERENCE_AREA_PX = 512 * 384


def _vortices() -> Array:
    """All vortices as rows (x fraction, y fraction, radius in height units, spin)."""
    return np.array(_STARS + _SWIRLS)


def _flow(u: Array, v: Array, aspect: float) -> tuple[Array, Array, Array]:
    """Velocity (du, dv) and stream function at points (u, v) in height units.

    The flow is a gentle rightward wave plus Gaussian vortices. Strokes follow the
    velocity, and colour bands follow the stream function, so colours run
    along the swirls the way paint does in an expressionist sky.
    """
    # Background wind: psi = v + a*sin(ku*u + kv*v), so its velocity is (dpsi/dv, -dpsi/du).
    amp, ku, kv = _WIND
    phase = ku * u + kv * v
    du = 1.0 + amp * kv * np.cos(phase)
    dv = -amp * ku * np.cos(phase)
    psi = v + amp * np.sin(phase)
    for x, y, radius, spin in _vortices():
        # Gaussian vortex psi = spin * exp(-r^2 / 2R^2): it swirls near its centre and
        # fades fast, so the wind still shapes the sky between the swirls.
        ou, ov = u - x * aspect, v - y
        bump = spin * np.exp(-(ou * ou + ov * ov) / (2.0 * radius * radius))
        du = du - bump * ov / (radius * radius)
        dv = dv + bump * ou / (radius * radius)
        psi = psi + bump
    return du, dv, psi


def _palette_colour(t: Array) -> Array:
    """Map positions in [0, 1] onto the night palette, shape (N,) to (N, 3)."""
    stops = np.linspace(0.0, 1.0, len(_NIGHT_PALETTE))
    return np.stack([np.interp(t, stops, _NIGHT_PALETTE[:, c]) for c in range(3)], axis=-1)


def _star_glow(u: Array, v: Array, aspect: float) -> tuple[Array, Array]:
    """Halo weight (ringed, yellow) and core weight (white) of all stars at points (u, v)."""
    halo = np.zeros_like(u)
    core = np.zeros_like(u)
    for x, y, radius, _ in _STARS:
        r = np.hypot(u - x * aspect, v - y) / radius
        # Concentric rings: the halo alternates bright and blue like painted light.
        rings = 0.5 + 0.5 * np.cos(r * 8.0)
        halo = np.maximum(halo, np.exp(-1.3 * r * r) * (0.4 + 0.6 * rings))
        core = np.maximum(core, np.exp(-((r / 0.32) ** 2)))
    return np.clip(1.5 * halo, 0.0, 1.0), core


def _sky_colours(u: Array, v: Array, aspect: float, rng: np.random.Generator) -> Array:
    """Paint colour at points (u, v): blue bands along the flow, yellow-white around the stars."""
    _, _, psi = _flow(u, v, aspect)
    bands = 0.5 + 0.5 * np.sin(psi * 2.0 * np.pi * 2.5)
    t = np.clip(0.12 + 0.6 * bands + rng.normal(0.0, 0.12, size=u.shape), 0.0, 1.0)
    colour = _palette_colour(t)
    halo, core = _star_glow(u, v, aspect)
    yellow = _mix(np.array([0.98, 0.84, 0.28]), (0.82, 0.88, 0.55), rng.uniform(0, 0.6, size=u.shape)[:, None])
    colour = _mix(colour, yellow, halo[:, None])
    colour = _mix(colour, (1.0, 0.98, 0.86), core[:, None])
    # Every stroke is mixed slightly differently on the palette knife.
    return colour * rng.uniform(0.88, 1.12, size=(u.size, 1)) + rng.normal(0.0, 0.025, size=(u.size, 3))


def _stroke_seeds(rng: np.random.Generator, width_px: int, height_px: int, spacing_px: float) -> Array:
    """Jittered-grid start points (x, y) in pixels, in random order so strokes overlap naturally."""
    gx = np.arange(0.0, width_px + spacing_px, spacing_px)
    gy = np.arange(0.0, height_px + spacing_px, spacing_px)
    seeds = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    seeds = seeds + rng.uniform(-0.5, 0.5, size=seeds.shape) * spacing_px
    return seeds[rng.permutation(len(seeds))]


def _trace_strokes(seeds_px: Array, lengths_px: Array, height_px: int, aspect: float, steps: int) -> Array:
    """Follow the flow from each seed for its length: (N, steps + 1, 2) pixel points.

    All strokes advance together (vectorised midpoint steps), which keeps
    thousands of curved strokes cheap enough to draw in well under a second.
    """
    points = np.empty((len(seeds_px), steps + 1, 2))
    pos = seeds_px / height_px
    step = (lengths_px / height_px / steps)[:, None]
    points[:, 0] = seeds_px
    for k in range(steps):
        mid = pos + 0.5 * step * _unit_flow(pos, aspect)
        pos = pos + step * _unit_flow(mid, aspect)
        points[:, k + 1] = pos * height_px
    return points


def _unit_flow(pos: Array, aspect: float) -> Array:
    """Unit direction of the flow at (N, 2) positions in height units."""
    du, dv, _ = _flow(pos[:, 0], pos[:, 1], aspect)
    norm = np.hypot(du, dv) + 1e-9
    return np.stack([du / norm, dv / norm], axis=-1)


def _to_rgb8(colours: Array) -> list[tuple[int, int, int]]:
    """Float colours (N, 3) to the integer tuples ImageDraw wants."""
    rgb = np.clip(np.round(colours * 255.0), 0, 255).astype(int)
    return [(r, g, b) for r, g, b in rgb.tolist()]


def _paint_strokes(draw: ImageDraw.ImageDraw, points: Array, colours: Array, widths: Array) -> None:
    """Draw each stroke as paint: a dark rim, the body colour, and a thin highlight ridge.

    ``points`` (N, K, 2) and ``widths`` (N,) are in canvas pixels.
    """
    rims = _to_rgb8(colours * 0.68)
    bodies = _to_rgb8(colours)
    lights = _to_rgb8(_mix(colours, (1.0, 1.0, 1.0), 0.35))
    # The highlight sits up and to the left of the body, as if lit from the top left.
    offsets = -0.22 * widths
    rim_widths = np.round(widths * 1.3 + 1.0).astype(int).tolist()
    # Tiny canvases scale widths below a pixel; every stroke still needs one.
    body_widths = np.maximum(1, np.round(widths)).astype(int).tolist()
    light_widths = np.maximum(1, np.round(widths * 0.3)).astype(int).tolist()
    flat = points.reshape(len(points), -1)
    lit = (points + offsets[:, None, None]).reshape(len(points), -1)
    for i, (path, lit_path) in enumerate(zip(flat.tolist(), lit.tolist())):
        draw.line(path, fill=rims[i], width=rim_widths[i])
        draw.line(path, fill=bodies[i], width=body_widths[i])
        draw.line(lit_path[2:-2], fill=lights[i], width=light_widths[i])


def _underpainting(rng: np.random.Generator, width_px: int, height_px: int, aspect: float) -> Image.Image:
    """A dark, blurry first coat in the sky colours, so no bare canvas shows between strokes."""
    cols, rows = max(2, width_px // 6), max(2, height_px // 6)
    u, v = np.meshgrid((np.arange(cols) + 0.5) / cols * aspect, (np.arange(rows) + 0.5) / rows)
    colours = _sky_colours(u.ravel(), v.ravel(), aspect, rng) * 0.7
    small = Image.fromarray(np.clip(colours * 255.0, 0, 255).astype(np.uint8).reshape(rows, cols, 3))
    return small.resize((width_px, height_px), Image.Resampling.BILINEAR)


# Brush passes: (seed spacing, stroke length range, stroke width range), in px at 512x384.
_BRUSH_PASSES = ((7.0, (16.0, 30.0), (4.0, 6.5)), (4.5, (10.0, 20.0), (2.0, 4.5)))
_STROKE_STEPS = 6


def _brush_pass(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size_px: tuple[int, int],
                scale: float, brush: tuple[float, tuple[float, float], tuple[float, float]]) -> None:
    """Lay one coat of flow-following strokes over the whole canvas (sizes in canvas pixels)."""
    width_px, height_px = size_px
    spacing, length_range, width_range = brush
    seeds = _stroke_seeds(rng, width_px, height_px, spacing * scale)
    lengths = rng.uniform(*length_range, size=len(seeds)) * scale
    widths = rng.uniform(*width_range, size=len(seeds)) * scale
    aspect = width_px / height_px
    points = _trace_strokes(seeds, lengths, height_px, aspect, _STROKE_STEPS)
    middle = points[:, _STROKE_STEPS // 2] / height_px
    colours = _sky_colours(middle[:, 0], middle[:, 1], aspect, rng)
    _paint_strokes(draw, points, colours, widths)


def _impasto(image: Array) -> Array:
    """Emboss-like relief from brightness changes, so the strokes look thick and raised."""
    luma = image.mean(axis=-1)
    shifted = np.pad(luma, ((1, 0), (1, 0)), mode="edge")[:-1, :-1]
    relief = np.clip(luma - shifted, -0.25, 0.25)
    return image * (1.0 + 0.6 * relief)[..., None]


def draw_demo_style(width_px: int = 512, height_px: int = 384) -> FloatImage:
    """Draw the demo style "painting": a swirling night sky of thick, curved brush strokes.

    Thousands of short strokes follow a flow field made of several vortices, in
    deep blues, cobalt and teal, with yellow-white swirls around bright stars.
    Returns a float32 array of shape (height_px, width_px, 3) with values in
    [0, 1]; the same size always gives the same pixels. Raises ValueError for
    sizes that are not integers of at least ``MIN_SIDE_PX``.
    """
    _check_size(width_px, height_px)
    width_px, height_px = int(width_px), int(height_px)
    rng = np.random.default_rng(_STYLE_SEED)
    size = (width_px * _SUPERSAMPLE, height_px * _SUPERSAMPLE)
    # Stroke sizes are specified at 512x384 and follow the canvas area.
    scale = float(np.sqrt(width_px * height_px / _REFERENCE_AREA_PX)) * _SUPERSAMPLE
    canvas = _underpainting(rng, *size, width_px / height_px)
    draw = ImageDraw.Draw(canvas)
    for brush in _BRUSH_PASSES:
        _brush_pass(draw, rng, size, scale, brush)
    small = canvas.resize((width_px, height_px), Image.Resampling.LANCZOS)
    return _to_float_image(_impasto(np.asarray(small, dtype=np.float64) / 255.0))
