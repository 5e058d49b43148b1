"""Tests for the built-in demo images that ``hires demo`` renders without files or network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from hires.demo_images import MIN_SIDE_PX, draw_demo_content, draw_demo_style

DrawFn = Callable[[int, int], npt.NDArray[np.float32]]
DRAWERS = [pytest.param(draw_demo_content, id="content"), pytest.param(draw_demo_style, id="style")]


@pytest.fixture(scope="module")
def content() -> npt.NDArray[np.float32]:
    """The content photo at its default size; drawn once because several tests read it."""
    return draw_demo_content()


@pytest.fixture(scope="module")
def style() -> npt.NDArray[np.float32]:
    """The style painting at its default size; drawn once because several tests read it."""
    return draw_demo_style()


def _edge_energy(image: npt.NDArray[np.float32]) -> float:
    """Mean absolute brightness step between neighbouring pixels: high for brush strokes."""
    luma = image.mean(axis=-1)
    return float(np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean())


def _block_std(image: npt.NDArray[np.float32], block: int = 16) -> npt.NDArray[np.float32]:
    """Brightness standard deviation in each block x block tile: near zero where a tile is flat."""
    rows, cols = image.shape[0] // block, image.shape[1] // block
    luma = image[: rows * block, : cols * block].mean(axis=-1)
    return luma.reshape(rows, block, cols, block).std(axis=(1, 3))


def _shrink(image: npt.NDArray[np.float32], size: tuple[int, int]) -> npt.NDArray[np.float64]:
    """Box-average an image down to ``size`` (width, height) to compare overall layout."""
    pil = Image.fromarray(np.round(image * 255.0).astype(np.uint8))
    return np.asarray(pil.resize(size, Image.Resampling.BOX), dtype=np.float64) / 255.0


def test_defaults_are_512_by_384(content: npt.NDArray[np.float32], style: npt.NDArray[np.float32]) -> None:
    """Both images default to 512 wide, 384 high, RGB."""
    assert content.shape == (384, 512, 3)
    assert style.shape == (384, 512, 3)


@pytest.mark.parametrize("draw", DRAWERS)
@pytest.mark.parametrize(("width", "height"), [(160, 96), (64, 160), (MIN_SIDE_PX, MIN_SIDE_PX)])
def test_shape_dtype_and_range(draw: DrawFn, width: int, height: int) -> None:
    """Any valid size, square or not, gives float32 (H, W, 3) in [0, 1] with no NaNs."""
    image = draw(width, height)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.float32
    assert np.isfinite(image).all()
    assert image.min() >= 0.0 and image.max() <= 1.0


@pytest.mark.parametrize("draw", DRAWERS)
def test_deterministic(draw: DrawFn) -> None:
    """Fixed seeds: two calls with the same size give identical pixels."""
    np.testing.assert_array_equal(draw(128, 96), draw(128, 96))


@pytest.mark.parametrize("draw", DRAWERS)
@pytest.mark.parametrize("bad", [0, -5, MIN_SIDE_PX - 1, 3.5, True, "512", None])
def test_rejects_bad_sizes(draw: DrawFn, bad: object) -> None:
    """Sizes must be integers of at least MIN_SIDE_PX, in either argument."""
    with pytest.raises(ValueError, match="at least 16 pixels"):
        draw(bad, 64)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="height_px"):
        draw(64, bad)  # type: ignore[arg-type]


def test_content_sky_is_bright_and_blue_above_darker_ground(content: npt.NDArray[np.float32]) -> None:
    """A landscape photo: a bright blue sky on top, darker water and grass at the bottom."""
    quarter = content.shape[0] // 4
    top, bottom = content[:quarter], content[-quarter:]
    assert top.mean() > bottom.mean() + 0.1
    sky_r, _, sky_b = top.reshape(-1, 3).mean(axis=0)
    assert sky_b > sky_r + 0.2


def test_content_lake_mirrors_the_shore(content: npt.NDArray[np.float32]) -> None:
    """The rows just below the water line are a (rippled) mirror image of those just above it."""
    shore = round(0.64 * content.shape[0])
    above = content[shore - 40 : shore].mean(axis=-1)
    mirrored = content[shore : shore + 40][::-1].mean(axis=-1)
    assert np.corrcoef(above.ravel(), mirrored.ravel())[0, 1] > 0.6


def test_content_has_smooth_photo_shading(content: npt.NDArray[np.float32]) -> None:
    """No perfectly flat cartoon fills: gradients and grain give every tile some variation."""
    assert _block_std(content, 8).min() > 0.003


def test_content_looks_the_same_at_other_sizes(content: npt.NDArray[np.float32]) -> None:
    """Shapes are placed in fractions of the canvas, so a half-size drawing matches when shrunk."""
    half = draw_demo_content(256, 192)
    difference = np.abs(_shrink(content, (32, 24)) - _shrink(half, (32, 24))).mean()
    assert difference < 0.02


def test_style_is_mostly_blue(style: npt.NDArray[np.float32]) -> None:
    """A night sky: blue dominates on average and in most pixels, with some yellow star light."""
    red, green, blue = style.reshape(-1, 3).mean(axis=0)
    assert blue > red + 0.15 and blue > green + 0.08
    assert np.mean(style[..., 2] > style[..., 0]) > 0.8
    yellow = (style[..., 0] > 0.6) & (style[..., 1] > 0.5) & (style[..., 2] < 0.5)
    assert yellow.mean() > 0.005


def test_style_has_strong_brush_stroke_texture(
    style: npt.NDArray[np.float32], content: npt.NDArray[np.float32]
) -> None:
    """Strokes give high edge energy, far more than the smooth photo."""
    assert _edge_energy(style) > 0.12
    assert _edge_energy(style) > 2.0 * _edge_energy(content)


def test_style_fills_the_whole_canvas(style: npt.NDArray[np.float32]) -> None:
    """No flat background shows: every 16x16 tile is textured by strokes."""
    assert _block_std(style).min() > 0.03
