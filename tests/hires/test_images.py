"""Tests for hires.images: every image is made in code, in tmp_path."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps

from hires import images
from hires.errors import HiresError
from hires.images import (SUPPORTED_OUTPUT_SUFFIXES, check_output_options, check_output_path, read_image,
                          write_image)

SIZE = (24, 32)  # (H, W): above the 16 px minimum, not square, so transposes show


def _gradient(height: int = SIZE[0], width: int = SIZE[1]) -> np.ndarray:
    """A smooth float RGB test image, which lossy codecs reproduce closely."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs / (width - 1), ys / (height - 1), 1.0 - xs / (width - 1)], axis=-1)


def _save(tmp_path: Path, name: str, im: Image.Image, **options: object) -> Path:
    path = tmp_path / name
    im.save(path, **options)
    return path


def _mode(path: Path) -> str:
    with Image.open(path) as im:
        return im.mode


def _solid(mode: str, value: object, size: tuple[int, int] = (32, 24)) -> Image.Image:
    return Image.new(mode, size, value)  # type: ignore[arg-type]


# ---- reading: modes ------------------------------------------------------------------------


def test_reads_rgb_png_exactly(tmp_path: Path) -> None:
    data = (np.arange(24 * 32 * 3) % 256).astype(np.uint8).reshape(24, 32, 3)
    path = _save(tmp_path, "rgb.png", Image.fromarray(data))
    result = read_image(path)
    assert result.dtype == np.float32 and result.shape == (24, 32, 3)
    np.testing.assert_allclose(result, data / 255.0, atol=1e-6)


def test_reads_greyscale_as_three_equal_channels(tmp_path: Path) -> None:
    path = _save(tmp_path, "grey.png", _solid("L", 51))
    np.testing.assert_allclose(read_image(path), 0.2, atol=1e-6)


def test_bilevel_image_reads_as_black_and_white(tmp_path: Path) -> None:
    im = _solid("1", 0)
    im.paste(1, (0, 0, 16, 24))
    result = read_image(_save(tmp_path, "bw.png", im))
    assert result[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert result[0, -1].tolist() == [0.0, 0.0, 0.0]


def test_la_with_zero_alpha_becomes_white(tmp_path: Path) -> None:
    im = _solid("LA", (0, 0))
    im.paste((0, 255), (0, 0, 16, 24))
    im.paste((0, 128), (16, 0, 24, 24))
    result = read_image(_save(tmp_path, "la.png", im))
    assert result[0, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(result[0, 20], 1.0 - 128 / 255, atol=1e-6)
    assert result[0, -1].tolist() == [1.0, 1.0, 1.0]


def test_rgba_composites_onto_white(tmp_path: Path) -> None:
    im = _solid("RGBA", (255, 0, 0, 0))
    im.paste((255, 0, 0, 255), (0, 0, 16, 24))
    result = read_image(_save(tmp_path, "rgba.png", im))
    assert result[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert result[0, -1].tolist() == [1.0, 1.0, 1.0]


def test_palette_image_reads_its_colours(tmp_path: Path) -> None:
    im = _solid("P", 1)
    im.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    np.testing.assert_allclose(read_image(_save(tmp_path, "p.png", im))[5, 5], [10 / 255, 20 / 255, 30 / 255], atol=1e-6)


def test_palette_transparency_becomes_white(tmp_path: Path) -> None:
    im = _solid("P", 1)
    im.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    im.paste(0, (0, 0, 16, 24))
    result = read_image(_save(tmp_path, "pt.png", im, transparency=0))
    assert result[0, 0].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(result[0, -1], [10 / 255, 20 / 255, 30 / 255], atol=1e-6)


def test_rgb_png_transparent_colour_becomes_white(tmp_path: Path) -> None:
    im = _solid("RGB", (10, 20, 30))
    im.paste((1, 2, 3), (0, 0, 16, 24))
    result = read_image(_save(tmp_path, "trns.png", im, transparency=(1, 2, 3)))
    assert result[0, 0].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(result[0, -1], [10 / 255, 20 / 255, 30 / 255], atol=1e-6)


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    data = np.full((24, 32), 32768, dtype=np.uint16)
    data[:, :16] = 65535
    data[:, -1] = 300  # would be white if clipped at 255
    path = _save(tmp_path, "g16.png", Image.fromarray(data))
    assert _mode(path) == "I;16"
    result = read_image(path)
    assert result[0, 0].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(result[0, 20], 32768 / 65535, atol=1e-6)
    np.testing.assert_allclose(result[0, -1], 300 / 65535, atol=1e-6)


def test_32bit_integer_image_holding_16bit_values(tmp_path: Path) -> None:
    data = np.full((24, 32), 65535, dtype=np.int32)
    data[:, 16:] = 16384
    path = _save(tmp_path, "i32.tif", Image.fromarray(data))
    assert _mode(path) == "I"
    result = read_image(path)
    assert result[0, 0, 0] == pytest.approx(1.0)
    assert result[0, -1, 0] == pytest.approx(16384 / 65535)


def test_float_image_in_unit_range(tmp_path: Path) -> None:
    path = _save(tmp_path, "f.tif", Image.fromarray(np.full((24, 32), 0.25, dtype=np.float32)))
    assert _mode(path) == "F"
    np.testing.assert_allclose(read_image(path), 0.25, atol=1e-6)


def test_16bit_rgb_tiff_keeps_every_bit(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", data, photometric="rgb")
    np.testing.assert_allclose(read_image(tmp_path / "rgb16.tif"), data / 65535.0, atol=1e-6)


def test_16bit_rgb_tiff_without_tifffile_still_keeps_16_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.random.default_rng(2).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", data, photometric="rgb", compression="zlib")
    monkeypatch.setattr(images, "_tifffile", None)
    np.testing.assert_allclose(read_image(tmp_path / "rgb16.tif"), data / 65535.0, atol=1e-6)


def test_16bit_planar_tiff(tmp_path: Path) -> None:
    data = np.random.default_rng(3).integers(0, 65536, (3, 24, 32), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", data, photometric="rgb", planarconfig="separate")
    expected = np.moveaxis(data, 0, -1) / 65535.0
    np.testing.assert_allclose(read_image(tmp_path / "planar.tif"), expected, atol=1e-6)


def test_16bit_rgba_tiff_composites_onto_white(tmp_path: Path) -> None:
    data = np.zeros((24, 32, 4), dtype=np.uint16)
    data[:, :16] = (65535, 0, 0, 65535)
    data[:, 16:] = (0, 0, 65535, 0)
    tifffile.imwrite(tmp_path / "rgba16.tif", data, photometric="rgb", extrasamples=["unassalpha"])
    result = read_image(tmp_path / "rgba16.tif")
    assert result[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert result[0, -1].tolist() == [1.0, 1.0, 1.0]


def test_float_rgb_tiff_that_pillow_cannot_open(tmp_path: Path) -> None:
    data = np.full((24, 32, 3), 0.75, dtype=np.float32)
    tifffile.imwrite(tmp_path / "float.tif", data, photometric="rgb")
    np.testing.assert_allclose(read_image(tmp_path / "float.tif"), 0.75, atol=1e-6)


def test_48bit_png_keeps_16_bits(tmp_path: Path) -> None:
    image = np.random.default_rng(4).random((24, 32, 3)).astype(np.float32)
    write_image(tmp_path / "deep.png", image, bit_depth=16)
    expected = np.rint(image * 65535) / 65535
    np.testing.assert_allclose(read_image(tmp_path / "deep.png"), expected, atol=1e-6)


def test_cmyk_jpeg_converts_to_rgb(tmp_path: Path) -> None:
    im = _solid("CMYK", (255, 0, 0, 0))  # pure cyan ink
    im.paste((0, 0, 0, 255), (0, 0, 16, 24))  # pure black ink
    result = read_image(_save(tmp_path, "cmyk.jpg", im, quality=100))
    np.testing.assert_allclose(result[12, 4], [0.0, 0.0, 0.0], atol=0.03)
    np.testing.assert_allclose(result[12, 28], [0.0, 1.0, 1.0], atol=0.03)


def test_cmyk_tiff_converts_to_rgb(tmp_path: Path) -> None:
    result = read_image(_save(tmp_path, "cmyk.tif", _solid("CMYK", (0, 255, 0, 0))))
    np.testing.assert_allclose(result[0, 0], [1.0, 0.0, 1.0], atol=1e-6)


def test_srgb_and_broken_icc_profiles_leave_values_alone(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, icc in (("srgb.png", srgb), ("broken.png", b"not an ICC profile at all")):
        path = _save(tmp_path, name, _solid("RGB", (10, 20, 30)), icc_profile=icc)
        np.testing.assert_allclose(read_image(path)[0, 0], [10 / 255, 20 / 255, 30 / 255], atol=1e-6)


def test_icc_profile_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-sRGB profile goes through ImageCms (stubbed: no such profile can be made here)."""
    calls = []

    def fake_profile_to_profile(im: Image.Image, *args: object, **kwargs: object) -> Image.Image:
        calls.append(im.mode)
        return Image.new("RGB", im.size, (255, 0, 255))

    monkeypatch.setattr(images, "_icc_source", lambda icc: object() if icc else None)
    monkeypatch.setattr(ImageCms, "profileToProfile", fake_profile_to_profile)
    path = _save(tmp_path, "tagged.png", _solid("RGB", (10, 20, 30)), icc_profile=b"x" * 200)
    assert read_image(path)[0, 0].tolist() == [1.0, 0.0, 1.0]
    assert calls == ["RGB"]


def test_16bit_tiff_with_srgb_profile_keeps_16_bits(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = np.random.default_rng(9).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "tagged16.tif", data, photometric="rgb", iccprofile=srgb)
    np.testing.assert_allclose(read_image(tmp_path / "tagged16.tif"), data / 65535.0, atol=1e-6)


def test_16bit_image_with_foreign_profile_is_colour_managed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_profile_to_profile(im: Image.Image, *args: object, **kwargs: object) -> Image.Image:
        return Image.new("RGB", im.size, (0, 255, 0))

    monkeypatch.setattr(images, "_icc_source", lambda icc: object() if icc else None)
    monkeypatch.setattr(ImageCms, "profileToProfile", fake_profile_to_profile)
    data = np.full((24, 32), 40000, dtype=np.uint16)
    path = _save(tmp_path, "g16icc.png", Image.fromarray(data), icc_profile=b"y" * 200)
    assert read_image(path)[0, 0].tolist() == [0.0, 1.0, 0.0]


def test_tiff_orientation_is_applied(tmp_path: Path) -> None:
    data = np.zeros((24, 32, 3), dtype=np.uint8)
    _save(tmp_path, "o8.tif", Image.fromarray(data), tiffinfo={274: 6})
    tifffile.imwrite(
        tmp_path / "o16.tif", data.astype(np.uint16), photometric="rgb", extratags=[(274, "H", 1, 6, True)]
    )
    assert read_image(tmp_path / "o8.tif").shape == (32, 24, 3)
    assert read_image(tmp_path / "o16.tif").shape == (32, 24, 3)


def test_exif_orientation_6_transposes_a_jpeg(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    im = Image.fromarray((_gradient(24, 32) * 255).astype(np.uint8))
    path = _save(tmp_path, "rotated.jpg", im, exif=exif)
    assert read_image(path).shape == (32, 24, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    data = np.random.default_rng(orientation).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(tmp_path, "o.png", Image.fromarray(data), exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path))) / 255.0
    np.testing.assert_allclose(read_image(path), expected, atol=1e-6)


def test_reads_webp_and_bmp(tmp_path: Path) -> None:
    im = _solid("RGB", (0, 128, 255))
    for name in ("a.webp", "a.bmp"):
        path = _save(tmp_path, name, im, **({"lossless": True} if name.endswith("webp") else {}))
        np.testing.assert_allclose(read_image(path)[0, 0], [0, 128 / 255, 1], atol=1e-6)


# ---- reading: errors -----------------------------------------------------------------------


def _error(path: Path, **kwargs: object) -> str:
    with pytest.raises(HiresError) as info:
        read_image(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert path.name in message and "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "nope.jpg")


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    assert "folder" in _error(tmp_path / "dir.png")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    assert "empty" in _error(tmp_path / "empty.jpg")


def test_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("hello, not an image\n")
    assert "not an image" in _error(tmp_path / "notes.png")


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path, "locked.png", _solid("RGB", (0, 0, 0)))

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images, "open", refuse, raising=False)  # root ignores chmod
    assert "permission denied" in _error(path)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    data = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = _save(tmp_path, "cut" + suffix, Image.fromarray(data))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "truncated or corrupt" in _error(path)


def test_too_many_megapixels(tmp_path: Path) -> None:
    path = _save(tmp_path, "big.png", _solid("RGB", 0, (100, 100)))
    message = _error(path, max_megapixels=0.005)
    assert "100x100" in message and "--max-input-megapixels" in message


def test_tiny_image(tmp_path: Path) -> None:
    assert "too small" in _error(_save(tmp_path, "dot.png", _solid("RGB", 0, (1, 1))))


def test_extreme_aspect_ratios(tmp_path: Path) -> None:
    _error(_save(tmp_path, "strip.png", _solid("L", 0, (20000, 10))))
    assert "aspect ratio" in _error(_save(tmp_path, "band.png", _solid("L", 0, (1000, 16))))


def test_pillow_globals_are_restored_and_its_bomb_guard_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path, "ok.png", _solid("RGB", 0, (64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would refuse 64x64
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert read_image(path).shape == (64, 64, 3)
    assert Image.MAX_IMAGE_PIXELS == 100 and ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_truncation_detected_even_if_pillow_was_told_to_allow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.random.default_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = _save(tmp_path, "cut.jpg", Image.fromarray(data))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert "truncated" in _error(path)


# ---- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bit_depth", "tolerance"),
    [
        ("out.png", 8, 0.5 / 255 + 1e-6),
        ("out.png", 16, 0.5 / 65535 + 1e-6),
        ("out.jpg", 8, 0.05),
        ("out.jpeg", 8, 0.05),
        ("out.tif", 8, 0.5 / 255 + 1e-6),
        ("out.tiff", 16, 0.5 / 65535 + 1e-6),
        ("out.webp", 8, 0.05),
    ],
)
def test_round_trip(tmp_path: Path, name: str, bit_depth: int, tolerance: float) -> None:
    image = _gradient()
    written = write_image(tmp_path / name, image, bit_depth=bit_depth, dpi=300)
    assert written == tmp_path / name
    result = read_image(written)
    assert result.shape == image.shape
    assert np.abs(result - image).max() <= tolerance
    assert os.listdir(tmp_path) == [name]  # no temporary file left over


# Every output format and bit depth write_image offers, as (file name, bit depth).
_OUTPUTS = [
    ("o.png", 8), ("o16.png", 16), ("o.jpg", 8), ("o.tif", 8), ("o16.tif", 16), ("o.webp", 8)
]


def _description(icc: bytes) -> str:
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))


@pytest.mark.parametrize(("name", "bit_depth"), _OUTPUTS)
def test_dpi_is_stored(tmp_path: Path, name: str, bit_depth: int) -> None:
    path = write_image(tmp_path / name, _gradient(), dpi=300, bit_depth=bit_depth)
    with Image.open(path) as im:
        if name.endswith(".webp"):
            # Pillow (13) does not expose a WebP's EXIF resolution as info["dpi"]; it is
            # stored as EXIF X/YResolution with ResolutionUnit 2 (inch), read here.
            assert "dpi" not in im.info or im.info["dpi"][0] == pytest.approx(300, abs=0.01)
            exif = im.getexif()
            dpi = (exif.get(282), exif.get(283))
            assert exif.get(296) == 2
        else:
            dpi = im.info["dpi"]  # PNG pHYs, JPEG JFIF density, TIFF X/YResolution (inch)
    assert float(dpi[0]) == pytest.approx(300, abs=0.01)
    assert float(dpi[1]) == pytest.approx(300, abs=0.01)
    if name.endswith(".tif"):
        with tifffile.TiffFile(path) as tif:
            assert tif.pages[0].tags["ResolutionUnit"].value == 2  # inch


def test_dpi_is_optional(tmp_path: Path) -> None:
    for name, bit_depth in _OUTPUTS:
        path = write_image(tmp_path / name, _gradient(), bit_depth=bit_depth)
        if name.endswith(".tif"):
            # No absolute resolution: tifffile writes 1x1 with ResolutionUnit 1 (none), Pillow
            # none at all (and reads that back as (1, 1) dpi, the TIFF default).
            with tifffile.TiffFile(path) as tif:
                tags = tif.pages[0].tags
                assert 282 not in tags or tags[296].value == 1, name
            continue
        with Image.open(path) as im:
            assert "dpi" not in im.info and 282 not in im.getexif(), name


@pytest.mark.parametrize(("name", "bit_depth"), _OUTPUTS)
def test_srgb_icc_profile_is_embedded(tmp_path: Path, name: str, bit_depth: int) -> None:
    image = _gradient()
    path = write_image(tmp_path / name, image, bit_depth=bit_depth, dpi=300)
    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
    assert icc == images.srgb_profile()
    assert "sRGB" in _description(icc)
    if name.endswith(".tif"):
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags[34675]  # InterColorProfile, also where tifffile wrote it
            assert bytes(tag.value) == icc and "sRGB" in _description(bytes(tag.value))
            assert not tif.is_bigtiff  # small files stay classic TIFF
    if name == "o16.png":  # iCCP comes before the image data, with a name and zlib data
        data = path.read_bytes()
        start = data.index(b"iCCP")
        assert start < data.index(b"IDAT")
        length = struct.unpack(">I", data[start - 4 : start])[0]
        body = data[start + 4 : start + 4 + length]
        name_, rest = body.split(b"\x00", 1)
        assert name_ == b"sRGB" and rest[0] == 0 and zlib.decompress(rest[1:]) == icc
    # The embedded profile is recognised as sRGB on reading: values are not transformed.
    tolerance = 0.05 if name.endswith((".jpg", ".webp")) else 0.5 / (2**bit_depth - 1) + 1e-6
    assert np.abs(read_image(path) - image).max() <= tolerance


def test_srgb_profile_is_built_once() -> None:
    icc = images.srgb_profile()
    assert isinstance(icc, bytes) and icc[36:40] == b"acsp"  # the ICC signature
    assert images.srgb_profile() is icc
    assert "sRGB" in _description(icc)


def test_without_imagecms_files_are_written_without_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "_ImageCms", None)
    assert images.srgb_profile() is None
    for name, bit_depth in _OUTPUTS:
        path = write_image(tmp_path / name, _gradient(), bit_depth=bit_depth, dpi=300)
        with Image.open(path) as im:
            assert "icc_profile" not in im.info or not im.info["icc_profile"], name
        assert read_image(path).shape == (24, 32, 3)
    with tifffile.TiffFile(tmp_path / "o16.tif") as tif:
        assert 34675 not in tif.pages[0].tags
    assert b"iCCP" not in (tmp_path / "o16.png").read_bytes()


def test_a_profile_that_cannot_be_built_means_no_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenCms:
        @staticmethod
        def createProfile(name: str) -> None:  # noqa: N802 - mirrors ImageCms
            raise OSError("no LittleCMS")

    monkeypatch.setattr(images, "_ImageCms", BrokenCms())
    assert images.srgb_profile() is None


# ---- BigTIFF -------------------------------------------------------------------------------


def test_needs_bigtiff_past_4gb() -> None:
    limit = images._BIGTIFF_THRESHOLD
    assert 2**32 - 2**26 < limit < 2**32  # a margin under 4 GiB for the metadata
    assert not images._needs_bigtiff((limit, 1, 1), 8)
    assert images._needs_bigtiff((limit + 1, 1, 1), 8)
    assert not images._needs_bigtiff((limit // 2, 1, 1), 16)
    assert images._needs_bigtiff((limit // 2 + 1, 1, 1), 16)
    # (H, W) means RGB, 3 samples; the same pixels need BigTIFF at 16 bits first.
    assert not images._needs_bigtiff((30_000, 30_000), 8)  # 2.7 GB
    assert images._needs_bigtiff((30_000, 30_000), 16)  # 5.4 GB
    assert images._needs_bigtiff((40_000, 40_000, 3), 8)  # 4.8 GB
    assert not images._needs_bigtiff((20_000, 30_000, 3), 16)  # 3.6 GB
    assert not images._needs_bigtiff((24, 32, 3), 16)


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_tiff_past_the_threshold_is_bigtiff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bit_depth: int
) -> None:
    monkeypatch.setattr(images, "_BIGTIFF_THRESHOLD", 4096)  # bytes, instead of ~4 GiB
    image = np.random.default_rng(10).random((48, 64, 3)).astype(np.float32)  # 9 or 18 KB
    path = write_image(tmp_path / "big.tif", image, bit_depth=bit_depth, dpi=300)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
        page = tif.pages[0]
        assert page.dtype == (np.uint16 if bit_depth == 16 else np.uint8)
        assert "sRGB" in _description(bytes(page.tags[34675].value))
    with Image.open(path) as im:
        assert im.info["dpi"][0] == pytest.approx(300, abs=0.01)
    top = 2**bit_depth - 1
    np.testing.assert_allclose(read_image(path), np.rint(image * top) / top, atol=1e-6)
    assert os.listdir(tmp_path) == ["big.tif"]


def test_bigtiff_without_tifffile_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "_BIGTIFF_THRESHOLD", 1024)
    monkeypatch.setattr(images, "_tifffile", None)
    with pytest.raises(HiresError, match="BigTIFF.*tifffile") as info:
        write_image(tmp_path / "big.tif", _gradient())
    assert "big.tif" in str(info.value) and "\n" not in str(info.value)
    assert os.listdir(tmp_path) == []
    write_image(tmp_path / "big.png", _gradient())  # other formats are unaffected


def test_webp_quality_100_is_lossless(tmp_path: Path) -> None:
    image = np.random.default_rng(7).random((24, 32, 3)).astype(np.float32)
    result = read_image(write_image(tmp_path / "x.webp", image, jpeg_quality=100))
    assert np.abs(result - image).max() <= 0.5 / 255 + 1e-6


def test_16bit_png_is_a_valid_png_for_other_readers(tmp_path: Path) -> None:
    image = _gradient()
    path = write_image(tmp_path / "deep.png", image, bit_depth=16)
    with Image.open(path) as im:  # Pillow's own decoder keeps the high bytes
        assert im.mode == "RGB" and im.size == (32, 24)
        high = np.asarray(im)
    np.testing.assert_array_equal(high, np.rint(image * 65535).astype(np.uint16) >> 8)


def test_16bit_tiff_keeps_a_gradient_that_8bit_loses(tmp_path: Path) -> None:
    ramp = np.linspace(0.0, 0.05, 64 * 64, dtype=np.float32).reshape(64, 64, 1).repeat(3, axis=-1)
    levels = {}
    for depth in (8, 16):
        result = read_image(write_image(tmp_path / f"ramp{depth}.tif", ramp, bit_depth=depth))
        levels[depth] = len(np.unique(result[..., 0]))
    assert levels[8] <= 14 and levels[16] > 1000


def test_16bit_tiff_has_uint16_samples_for_every_level(tmp_path: Path) -> None:
    ramp = np.linspace(0.0, 1.0, 4096, dtype=np.float32).reshape(1, 4096, 1).repeat(3, axis=-1)
    for depth, dtype, levels in ((16, np.uint16, 4096), (8, np.uint8, 256)):
        samples = tifffile.imread(write_image(tmp_path / f"r{depth}.tif", ramp, bit_depth=depth))
        assert samples.dtype == dtype and samples.shape == (1, 4096, 3)
        assert len(np.unique(samples[..., 0])) == levels
    # 8-bit keeps at most 256 of the ramp's 4096 levels; 16-bit keeps them all, in order.
    assert np.all(np.diff(samples[0, :, 0].astype(int)) >= 0)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_keeps_every_level_of_a_full_ramp(tmp_path: Path, suffix: str) -> None:
    ramp = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64, 1).repeat(3, axis=-1)
    levels = {}
    for depth in (8, 16):
        result = read_image(write_image(tmp_path / f"ramp{depth}{suffix}", ramp, bit_depth=depth))
        levels[depth] = len(np.unique(result[..., 0]))
    assert levels == {8: 256, 16: 4096}


def test_values_are_clipped(tmp_path: Path) -> None:
    image = np.full((24, 32, 3), 1.5, dtype=np.float32)
    image[:, :16] = -0.5
    result = read_image(write_image(tmp_path / "clip.png", image))
    assert result[0, 0].tolist() == [0.0, 0.0, 0.0] and result[0, -1].tolist() == [1.0, 1.0, 1.0]


def test_nan_is_refused_and_nothing_written(tmp_path: Path) -> None:
    image = _gradient()
    image[3, 4, 1] = np.nan
    with pytest.raises(HiresError, match="NaN"):
        write_image(tmp_path / "nan.png", image)
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    with pytest.raises(HiresError, match="already exists.*--overwrite"):
        write_image(target, _gradient())
    assert target.read_bytes() == b"keep me" and os.listdir(tmp_path) == ["out.png"]


def test_overwrite_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    write_image(target, _gradient(), overwrite=True)
    assert read_image(target).shape == (24, 32, 3) and os.listdir(tmp_path) == ["out.png"]


def test_creates_missing_folders_with_normal_permissions(tmp_path: Path) -> None:
    target = write_image(tmp_path / "a" / "b" / "out.png", _gradient())
    assert target.is_file()
    from hires import files

    assert target.stat().st_mode & 0o777 == 0o666 & ~files._umask()


@pytest.mark.parametrize("overwrite", [False, True])
def test_failure_mid_save_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool
) -> None:
    if overwrite:
        (tmp_path / "out.png").write_bytes(b"old")

    def half_save(self: Image.Image, fp: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG partial data")
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(RuntimeError):
        write_image(tmp_path / "out.png", _gradient(), overwrite=overwrite)
    assert os.listdir(tmp_path) == (["out.png"] if overwrite else [])
    if overwrite:
        assert (tmp_path / "out.png").read_bytes() == b"old"


def test_os_error_mid_save_becomes_hires_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(HiresError, match="no space left.*out.png|out.png.*no space left"):
        write_image(tmp_path / "out.png", _gradient())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("out.gif", {}, "not a supported output format"),
        ("out", {}, "not a supported output format"),
        ("out.jpg", {"bit_depth": 16}, "8 bits"),
        ("out.webp", {"bit_depth": 16}, "8 bits"),
        ("out.png", {"bit_depth": 12}, "bit depth 12"),
        ("out.jpg", {"jpeg_quality": 0}, "quality"),
        ("out.png", {"dpi": -3.0}, "DPI"),
    ],
)
def test_bad_write_options(tmp_path: Path, name: str, options: dict, expected: str) -> None:
    with pytest.raises(HiresError, match=expected) as info:
        write_image(tmp_path / name, _gradient(), **options)
    assert name in str(info.value)
    assert os.listdir(tmp_path) == []


def test_wrong_shape_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.zeros((1, 24, 32, 3), dtype=np.float32))


def test_write_into_a_file_as_folder(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(HiresError, match="out.png"):
        write_image(tmp_path / "afile" / "out.png", _gradient())


# ---- check_output_path ---------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_OUTPUT_SUFFIXES) == {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"}


def test_check_output_path_ok_leaves_nothing(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "out.PNG", overwrite=False) == (tmp_path / "out.PNG").resolve()
    assert check_output_path(tmp_path / "new" / "sub" / "out.tif", overwrite=False).name == "out.tif"
    assert os.listdir(tmp_path) == []  # the missing folders are not created by the check


def test_check_output_path_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(HiresError, match=r"out\.bmp.*\.png"):
        check_output_path(tmp_path / "out.bmp", overwrite=False)


def test_check_output_path_existing(tmp_path: Path) -> None:
    (tmp_path / "out.png").write_bytes(b"x")
    with pytest.raises(HiresError, match="--overwrite"):
        check_output_path(tmp_path / "out.png", overwrite=False)
    assert check_output_path(tmp_path / "out.png", overwrite=True) == (tmp_path / "out.png").resolve()


@pytest.mark.parametrize("name, height, width, options, complaint", [
    ("out.webp", 12_000, 18_000, {}, "16383 px"),
    ("out.jpg", 100, 100, {"bit_depth": 16}, "only 8 bits"),
    ("out.png", 100, 100, {"dpi": -3.0}, "DPI"),
])
def test_check_output_options_refuses_what_the_format_cannot_hold(tmp_path: Path, name, height, width,
                                                                  options, complaint) -> None:
    with pytest.raises(HiresError, match=complaint):
        check_output_options(tmp_path / name, height=height, width=width, **options)


def test_check_output_options_accepts_what_write_image_writes(tmp_path: Path) -> None:
    check_output_options(tmp_path / "out.png", height=30_000, width=20_000, bit_depth=16, dpi=300.0)
    check_output_options(tmp_path / "out.webp", height=16_383, width=100)
    assert os.listdir(tmp_path) == []


def test_check_output_path_folder(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(HiresError, match="folder"):
        check_output_path(tmp_path / "out.png", overwrite=True)


@pytest.mark.parametrize("relative", ["afile/out.png", "afile/deeper/out.png"])
def test_check_output_path_unwritable_folder(tmp_path: Path, relative: str) -> None:
    (tmp_path / "afile").write_text("x")  # as root, chmod cannot make a folder unwritable
    with pytest.raises(HiresError, match="not a folder"):
        check_output_path(tmp_path / relative, overwrite=False)


def test_check_output_path_probe_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images.tempfile, "mkstemp", read_only)
    with pytest.raises(HiresError, match="files cannot be created"):
        check_output_path(tmp_path / "out.png", overwrite=False)


# ---- a hand-made PNG that exercises the 16-bit reader with Pillow's filters -----------------


def _png16(width: int, height: int, rgb: np.ndarray) -> bytes:
    """A 48-bit PNG whose rows use the Paeth filter (type 4), unlike our own writer."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = rgb.astype(">u2").view(np.uint8).reshape(height, width * 6).astype(np.int32)
    rows = []
    for y in range(height):
        above = raw[y - 1] if y else np.zeros_like(raw[0])
        line = []
        for x in range(width * 6):
            a = raw[y, x - 6] if x >= 6 else 0
            b = above[x]
            c = above[x - 6] if x >= 6 else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line.append((raw[y, x] - pred) % 256)
        rows.append(bytes([4]) + bytes(line))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")


def test_16bit_png_with_paeth_filter(tmp_path: Path) -> None:
    data = np.random.default_rng(8).integers(0, 65536, (16, 20, 3), dtype=np.uint16)
    path = tmp_path / "paeth.png"
    path.write_bytes(_png16(20, 16, data))
    np.testing.assert_allclose(read_image(path), data / 65535.0, atol=1e-6)


def test_a_png_damaged_inside_its_data_is_refused(tmp_path: Path) -> None:
    """Zeroed bytes inside a small PNG's one IDAT decode, without an error, as rows of wrong
    colours; the chunk's checksum catches them."""
    path = tmp_path / "damaged.png"
    ramp = np.zeros((300, 400, 3), np.uint8)
    ramp[:, :, 0] = np.arange(400)[None, :] * 255 // 400
    ramp[:, :, 1] = np.arange(300)[:, None] * 255 // 300
    Image.fromarray(ramp).save(path)  # about 1 KB: one IDAT chunk
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + len(data) // 5] = bytes(len(data) // 5)
    path.write_bytes(bytes(data))
    with pytest.raises(HiresError, match="truncated or corrupt"):
        read_image(path)


def test_an_eps_file_is_refused_as_a_format_not_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "drawing.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n%%EOF\n")
    with pytest.raises(HiresError, match="EPS .* is not read here"):
        read_image(path)


def test_a_link_to_nowhere_as_output_is_refused_up_front(tmp_path: Path) -> None:
    link = tmp_path / "out.png"
    link.symlink_to(tmp_path / "gone" / "out.png")
    with pytest.raises(HiresError, match="already exists"):
        check_output_path(link, overwrite=False)


def test_a_long_output_name_is_written_or_refused_as_too_long(tmp_path: Path) -> None:
    fits = tmp_path / ("n" * 240 + ".png")  # its temporary name must not be longer than the name
    check_output_path(fits, overwrite=False)
    write_image(fits, np.zeros((16, 16, 3), np.float32))
    assert fits.is_file()
    with pytest.raises(HiresError, match="name is too long"):
        check_output_path(tmp_path / ("n" * 300 + ".png"), overwrite=False)


def test_16bit_grey_alpha_png_keeps_16_bits(tmp_path: Path) -> None:
    """Pillow opens a 16-bit grey+alpha PNG as 8-bit RGBA; every bit of grey and alpha is kept."""
    height, width = 16, 20
    grey = np.random.default_rng(9).integers(0, 65536, (height, width), dtype=np.uint16)
    alpha = np.full((height, width), 65535, np.uint16)
    alpha[0, 0] = 0  # transparent: composited onto white
    rows = [b"\x00" + np.stack([grey[y], alpha[y]], -1).astype(">u2").tobytes() for y in range(height)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    path = tmp_path / "grey-alpha.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    expected = np.repeat((grey / 65535.0)[..., np.newaxis], 3, axis=-1)
    expected[0, 0] = 1.0
    np.testing.assert_allclose(read_image(path), expected, atol=1e-6)


def test_a_16bit_tiff_written_in_strips_holds_every_sample(tmp_path: Path) -> None:
    """A poster's TIFF is quantised, predicted and deflated strip by strip: the strips must add up
    to exactly the samples of the whole picture (a random picture: no strip looks like another)."""
    tifffile = pytest.importorskip("tifffile")
    image = np.random.default_rng(7).uniform(-0.05, 1.05, size=(300, 2000, 3)).astype(np.float32)
    path = write_image(tmp_path / "strips.tif", image, bit_depth=16, dpi=300)
    expected = np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        assert len(page.dataoffsets) > 1 and page.predictor == 2  # several strips, horizontal differencing
        np.testing.assert_array_equal(page.asarray(), expected)


def test_shrink_averages_whole_blocks_and_leaves_small_pictures_alone() -> None:
    from hires.images import shrink

    small = np.zeros((30, 40, 3), np.float32)
    assert shrink(small, 40) is small
    image = np.arange(8 * 12 * 3, dtype=np.float32).reshape(8, 12, 3)
    shrunk = shrink(image, 6)  # a factor of 2: each output pixel the mean of a 2x2 square
    assert shrunk.shape == (4, 6, 3) and shrunk.dtype == np.float32
    np.testing.assert_allclose(shrunk[1, 2], image[2:4, 4:6].mean(axis=(0, 1)))
