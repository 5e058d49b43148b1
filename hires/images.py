"""Reading and writing image files: the only module of ``hires`` that touches them.

Images in memory are float32 NumPy arrays of shape ``(H, W, 3)``, RGB, values in [0, 1].

Reading accepts whatever Pillow opens (JPEG, PNG, TIFF, WebP, BMP, ...) in any mode, keeps
16-bit precision where the file has it, applies the EXIF orientation and an embedded ICC
profile, and composites transparency onto white. Writing is atomic: a render never leaves a
half-written file behind; every file written embeds an sRGB ICC profile and the DPI. Every
problem a user can fix raises :class:`HiresError` with a one-line message.

This module deliberately imports no TensorFlow: NumPy, Pillow and (optionally) tifffile only.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import logging
import os
import stat
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from hires.errors import HiresError
from hires.files import Exists, make_folders, remove_empty, resolve, temporary_prefix, write_atomically

try:  # tifffile reads the 16-bit colour TIFFs that Pillow truncates; optional.
    import tifffile as _tifffile

    # Its warnings ("contains no pages") would print beside our own one-line error.
    logging.getLogger("tifffile").setLevel(logging.ERROR)
except ImportError:  # pragma: no cover - exercised only where tifffile is missing
    _tifffile = None

try:  # ImageCms needs Pillow built with LittleCMS; without it we skip colour management.
    from PIL import ImageCms as _ImageCms
except ImportError:  # pragma: no cover
    _ImageCms = None

SUPPORTED_OUTPUT_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
"""File name endings :func:`write_image` accepts (case-insensitive)."""

MIN_SIDE_PX = 16
"""The smallest width or height a render can start from."""

MAX_ASPECT_RATIO = 50.0
"""Longest side over shortest side beyond which an input is refused."""

_INPUT_FIX = "Pass a JPEG, PNG, TIFF or WebP image."
_FORMAT_BY_SUFFIX = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_MAX_SIDE_BY_FORMAT = {"JPEG": 65_500, "WEBP": 16_383}  # limits of libjpeg and libwebp
_ORIENTATION_TAG = 0x0112
_ICC_TIFF_TAG = 34675
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_BIGTIFF_THRESHOLD = 2**32 - 2**25
"""Uncompressed pixel bytes beyond which a TIFF is written as BigTIFF.

Classic TIFF addresses at most 4 GiB (32-bit offsets); 32 MiB are kept back for the
header, tags, strip tables and the ICC profile. The test is on the uncompressed size,
which is known before writing, because deflate may shrink a photo hardly at all.
"""
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


@dataclass
class _Pixels:
    """Decoded pixels before orientation, colour management and compositing.

    Attributes:
        colour: float32 ``(H, W, 1)`` grey or ``(H, W, 3)`` RGB in [0, 1].
        alpha: float32 ``(H, W)`` opacity in [0, 1], or None when opaque.
        premultiplied: whether ``colour`` is already multiplied by ``alpha``.
        icc: an embedded ICC profile still to apply, or None.
        orientation: the EXIF orientation, 1 to 8.
    """

    colour: np.ndarray
    alpha: np.ndarray | None = None
    premultiplied: bool = False
    icc: bytes | None = None
    orientation: int = 1
    frames: int = 1  # an animation's or a multi-page file's; the first is read


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_image(path: str | Path, *, max_megapixels: float = 250.0, notes: list[str] | None = None) -> np.ndarray:
    """Reads an image file as float32 RGB in [0, 1].

    Args:
        path: a JPEG, PNG, TIFF, WebP or other file Pillow can open.
        max_megapixels: refuse images with more pixels than this (millions), checked from
            the header before anything is decoded.
        notes: receives a line for what the reading changed that the user may not expect
            (transparency painted white, frames after the first left out).

    Returns:
        A float32 array of shape ``(H, W, 3)``, upright per the EXIF orientation, in sRGB
        when the file embeds an ICC profile, with any transparency composited onto white.

    Raises:
        HiresError: the file is missing, a folder, unreadable, empty, not an image, truncated
            or corrupt, larger than ``max_megapixels``, smaller than 16x16 px, or has an
            aspect ratio beyond 1:50.
    """
    path = Path(path)
    _check_input_file(path)
    try:
        with open(path, "rb") as fp, _pillow_read_guards():
            pixels = _decode(fp, path, max_megapixels)
        if notes is not None:
            notes.extend(_notes(path, pixels))
        return _finish(pixels)
    except PermissionError as exc:
        raise HiresError(f"cannot read {path}: permission denied. {_fix_permissions()}") from exc
    except MemoryError as exc:
        raise HiresError(
            f"cannot read {path}: not enough memory to decode it. "
            "Downscale the image or free some memory."
        ) from exc


def _notes(path: Path, pixels: _Pixels) -> list[str]:
    found = []
    if pixels.alpha is not None and float(pixels.alpha.min()) < 1.0:
        found.append(f"note: {path.name} has transparent parts: they are read as white")
    if pixels.frames > 1:
        found.append(f"note: {path.name} holds {pixels.frames} frames (an animation or pages): only the first is used")
    return found


def check_input_file(path: str | Path, *, max_megapixels: float = 250.0) -> None:
    """Checks, from the file system and the header alone, what ``read_image`` would refuse early.

    For a batch's check of every job before the first render: the pixels are not decoded, so a
    file damaged past its header is still found only when its job reads it.

    Raises:
        HiresError: as ``read_image`` does for a missing, empty, unreadable, unrecognised, too
            large, too small or too elongated image.
    """
    path = Path(path)
    _check_input_file(path)
    try:
        with open(path, "rb") as fp, _pillow_read_guards():
            im = _open_pillow(fp, path)
            if im is not None:  # None: a TIFF only tifffile reads; its job checks it in full
                with im:
                    _check_size(path, im.size, max_megapixels)
    except PermissionError as exc:
        raise HiresError(f"cannot read {path}: permission denied. {_fix_permissions()}") from exc


def _check_input_file(path: Path) -> None:
    """Turns the usual file-system mistakes into clear messages before Pillow sees the file."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise HiresError(f"cannot read {path}: no such file. Check the path and spelling.") from exc
    except PermissionError as exc:
        raise HiresError(f"cannot read {path}: permission denied. {_fix_permissions()}") from exc
    except OSError as exc:
        raise HiresError(f"cannot read {path}: {_reason(exc)}. Check the path.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise HiresError(f"cannot read {path}: it is a folder, not an image file. {_INPUT_FIX}")
    if not stat.S_ISREG(info.st_mode):  # a device (/dev/urandom), a pipe, a socket: never a picture
        raise HiresError(f"cannot read {path}: it is not a regular file (a device, pipe or socket). {_INPUT_FIX}")
    if info.st_size == 0:
        raise HiresError(f"cannot read {path}: the file is empty. {_INPUT_FIX}")


def _fix_permissions() -> str:
    return "Make the file readable (chmod u+r) or copy it somewhere you can read."


@contextlib.contextmanager
def _pillow_read_guards() -> Iterator[None]:
    """Swaps Pillow's process-wide reading switches for ours, restoring them afterwards.

    Pillow's decompression-bomb guard (a fixed ~179 MP) would refuse the large photos this
    tool is for, so we disable it and apply ``max_megapixels`` ourselves from the header.
    ``LOAD_TRUNCATED_IMAGES`` is forced off so that a truncated file is an error rather than
    a silently grey-padded input, whatever another library may have set. These are module
    globals in Pillow: images are read from one thread, so a scoped swap is safe here.
    """
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode(fp: IO[bytes], path: Path, max_megapixels: float) -> _Pixels:
    """Picks the decoder: tifffile for deep colour TIFFs, Pillow for everything else."""
    im = _open_pillow(fp, path)
    if im is None:
        # Pillow cannot identify some valid TIFFs (float RGB, 16-bit grey+alpha).
        return _decode_tiff_or_fail(fp, path, max_megapixels)
    with im:
        _check_size(path, im.size, max_megapixels)
        if im.format == "EPS":  # Pillow opens it, but decoding needs Ghostscript
            raise HiresError(f"cannot read {path}: EPS (PostScript) is not read here. Export it as PNG, "
                             "TIFF or JPEG.")
        if im.format == "PNG":
            _verify_png(fp, path)
        if _wants_tifffile(im):
            pixels = _try_tifffile(fp, path, max_megapixels)
            if pixels is not None:
                return pixels
        return _decode_pillow(im, fp, path)


def _verify_png(fp: IO[bytes], path: Path) -> None:
    """Checks every chunk's checksum: a PNG damaged inside its data can decode without an error."""
    fp.seek(0)
    try:
        with Image.open(fp) as im:
            im.verify()
    except _DECODE_ERRORS as exc:
        raise _corrupt(path, exc) from exc
    finally:
        fp.seek(0)


def _open_pillow(fp: IO[bytes], path: Path) -> Image.Image | None:
    """Opens the header lazily; returns None for a TIFF Pillow does not understand."""
    try:
        return Image.open(fp)
    except UnidentifiedImageError as exc:
        if _tifffile is not None and _is_tiff(fp):
            return None
        raise HiresError(
            f"cannot read {path}: it is not an image file Pillow recognises "
            f"(unknown format or not an image). {_INPUT_FIX}"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise _corrupt(path, exc) from exc


def _is_tiff(fp: IO[bytes]) -> bool:
    fp.seek(0)
    magic = fp.read(4)
    fp.seek(0)
    return magic in _TIFF_MAGICS


def _corrupt(path: Path, exc: BaseException) -> HiresError:
    return HiresError(
        f"cannot read {path}: the file is truncated or corrupt ({_reason(exc)}). "
        "Re-export or re-download it."
    )


def _reason(exc: BaseException) -> str:
    """One line of an exception's text, so that messages stay on one line."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _check_size(path: Path, size: tuple[int, int], max_megapixels: float) -> None:
    """Refuses sizes a render cannot use, from the header alone (before decoding)."""
    width, height = size
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise HiresError(
            f"cannot read {path}: it is {width}x{height} px ({megapixels:.1f} MP), more than "
            f"the limit of {max_megapixels:g} MP. Downscale it, or pass "
            "--max-input-megapixels to raise the limit."
        )
    if min(width, height) > 0 and max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        ratio = max(width, height) / min(width, height)
        raise HiresError(
            f"cannot read {path}: its aspect ratio {ratio:.0f}:1 ({width}x{height} px) is too "
            f"extreme; crop it to at most {MAX_ASPECT_RATIO:.0f}:1."
        )
    if min(width, height) < MIN_SIDE_PX:
        raise HiresError(
            f"cannot read {path}: it is {width}x{height} px, too small to render: at least "
            f"{MIN_SIDE_PX}x{MIN_SIDE_PX} px is needed. Pass a larger image."
        )


# ---- tifffile ------------------------------------------------------------------------------


def _wants_tifffile(im: Image.Image) -> bool:
    """True for TIFFs with more than 8 bits a sample that Pillow would squeeze into 8 bits."""
    if _tifffile is None or im.format != "TIFF":
        return False
    bits = getattr(im, "tag_v2", {}).get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return max(bits) > 8 and im.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _decode_tiff_or_fail(fp: IO[bytes], path: Path, max_megapixels: float) -> _Pixels:
    pixels = _try_tifffile(fp, path, max_megapixels)
    if pixels is None:
        raise HiresError(
            f"cannot read {path}: this TIFF is corrupt or uses a layout that is not supported. "
            "Save it as an 8- or 16-bit RGB TIFF, or as PNG."
        )
    return pixels


def _try_tifffile(fp: IO[bytes], path: Path, max_megapixels: float) -> _Pixels | None:
    """Decodes the first page with tifffile; None when it cannot (e.g. a missing codec).

    None lets the caller fall back to Pillow, which reads LZW and JPEG TIFFs without the
    optional ``imagecodecs`` package that tifffile needs for them.
    """
    assert _tifffile is not None
    fp.seek(0)
    try:
        with _tifffile.TiffFile(fp) as tif:
            page = tif.pages[0]
            _check_size(path, (int(page.imagewidth), int(page.imagelength)), max_megapixels)
            data = page.asarray()
            return _tiff_pixels(page, data)
    except HiresError:
        raise
    except MemoryError:
        raise
    except Exception:  # tifffile raises many types for codecs and layouts; Pillow decides.
        return None
    finally:
        fp.seek(0)


def _tiff_pixels(page: Any, data: np.ndarray) -> _Pixels:
    """Interprets a tifffile page's samples (grey or RGB, optional alpha, CMYK)."""
    axes: str = page.axes
    if "S" in axes:
        data = np.moveaxis(data, axes.index("S"), -1)
    elif data.ndim == 2:
        data = data[..., np.newaxis]
    if data.ndim != 3:
        raise ValueError(f"unsupported TIFF axes {axes}")
    values = _scale_to_unit(data)
    photometric = int(page.photometric)
    if photometric == 5 and values.shape[-1] >= 4:  # SEPARATED: CMYK, naive conversion
        colour = (1.0 - values[..., :3]) * (1.0 - values[..., 3:4])
        extra = values[..., 4:]
    elif photometric in (0, 1):  # MINISWHITE, MINISBLACK
        colour = 1.0 - values[..., :1] if photometric == 0 else values[..., :1]
        extra = values[..., 1:]
    elif photometric == 2 and values.shape[-1] >= 3:  # RGB
        colour, extra = values[..., :3], values[..., 3:]
    else:
        raise ValueError(f"unsupported TIFF photometric {photometric}")
    return _Pixels(
        colour=np.ascontiguousarray(colour, dtype=np.float32),
        **_tiff_alpha(page, extra),
        icc=_tag_value(page, _ICC_TIFF_TAG),
        orientation=int(_tag_value(page, 274) or 1),
    )


def _tiff_alpha(page: Any, extra: np.ndarray) -> dict[str, Any]:
    """Alpha from the first extra sample, if the file says it is alpha (1 or 2)."""
    kinds = tuple(int(kind) for kind in (page.extrasamples or ()))
    if extra.shape[-1] == 0 or not kinds or kinds[0] not in (1, 2):
        return {"alpha": None, "premultiplied": False}
    return {"alpha": np.ascontiguousarray(extra[..., 0]), "premultiplied": kinds[0] == 1}


def _tag_value(page: Any, code: int) -> Any:
    tag = page.tags.get(code)
    return None if tag is None else tag.value


# ---- Pillow --------------------------------------------------------------------------------


def _decode_pillow(im: Image.Image, fp: IO[bytes], path: Path) -> _Pixels:
    """Fully decodes a Pillow image (so truncation is caught) and converts it to floats."""
    tiles = list(im.tile)  # load() empties im.tile; the 16-bit RGB route needs it
    try:
        im.load()
        pixels = _pillow_pixels(im, fp, tiles)
    except _DECODE_ERRORS as exc:
        raise _corrupt(path, exc) from exc
    pixels.orientation = _orientation(im)
    pixels.frames = int(getattr(im, "n_frames", 1) or 1)
    return pixels


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 to 8); broken EXIF counts as upright rather than an error."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG) or getattr(im, "tag_v2", {}).get(274)
        return int(value) if value and 1 <= int(value) <= 8 else 1
    except Exception:  # Pillow raises assorted errors for malformed EXIF blocks.
        return 1


def _pillow_pixels(im: Image.Image, fp: IO[bytes], tiles: list[Any]) -> _Pixels:
    """Maps every Pillow mode to grey or RGB floats plus alpha."""
    deep = _wide_rgb(im, fp, tiles)
    if deep is None and im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        deep = _deep_grey(im)
    if deep is not None:
        deep.icc = im.info.get("icc_profile") or None  # applied later, see _apply_pending_icc
        return deep
    mode = im.mode
    if "transparency" in im.info and mode in ("1", "L", "P", "RGB"):
        im = im.convert("LA" if mode in ("1", "L") else "RGBA")
    elif mode in ("P", "PA", "RGBa", "La", "RGBX", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGBA" if mode in ("P", "PA", "RGBa") else "LA" if mode == "La" else "RGB")
    elif mode == "1":
        im = im.convert("L")
    alpha = None
    if im.mode in ("LA", "RGBA"):
        alpha = np.asarray(im.getchannel("A"), dtype=np.float32) / 255.0
        im = im.convert("L" if im.mode == "LA" else "RGB")
    if im.mode == "CMYK" or im.info.get("icc_profile"):
        # 8-bit data: colour-manage the Pillow image itself, exactly, then nothing is pending.
        rgb = _to_srgb(im, im.info.get("icc_profile"))
        return _Pixels(colour=_u8_to_unit(rgb), alpha=alpha, icc=None)
    return _Pixels(colour=_u8_to_unit(im), alpha=alpha)


def _u8_to_unit(im: Image.Image) -> np.ndarray:
    data = np.asarray(im, dtype=np.float32) / 255.0
    return data[..., np.newaxis] if data.ndim == 2 else data


def _deep_grey(im: Image.Image) -> _Pixels:
    """16-bit, 32-bit integer and float greyscale, scaled without clipping to 8 bits."""
    raw = np.asarray(im)
    alpha = None
    transparent = im.info.get("transparency")
    if isinstance(transparent, int):  # a PNG tRNS grey level
        alpha = (raw != transparent).astype(np.float32)
    return _Pixels(colour=_scale_to_unit(raw)[..., np.newaxis], alpha=alpha)


def _wide_rgb(im: Image.Image, fp: IO[bytes], tiles: list[Any]) -> _Pixels | None:
    """Recovers all 16 bits of 16-bit RGB(A) PNGs and TIFFs that Pillow cuts to 8 bits.

    Pillow has no 16-bit RGB mode, so its decoder keeps only the high byte of each sample
    (e.g. rawmode ``RGB;16B`` for PNG). Decoding the same file a second time with the
    opposite byte order (``RGB;16L``) yields the low bytes, through the same zlib,
    filter and interlace code; the two together are the exact 16-bit values. Anything we
    do not recognise keeps Pillow's 8-bit result.
    """
    if tiles and all(_rawmode(tile.args) == "LA;16B" for tile in tiles):
        return _wide_grey_alpha(fp)
    low_modes = [_low_byte_rawmode(tile.args) for tile in tiles]
    if not low_modes or None in low_modes:
        return None
    high = np.asarray(im)
    fp.seek(0)
    with Image.open(fp) as twin:
        twin.tile = [
            tile._replace(args=_replace_rawmode(tile.args, low))
            for tile, low in zip(twin.tile, low_modes, strict=True)
        ]
        twin.load()
        low = np.asarray(twin)
    wide = (high.astype(np.uint16) << 8) | low
    return _wide_pixels(wide, im.info.get("transparency"))


def _wide_grey_alpha(fp: IO[bytes]) -> _Pixels:
    """Recovers a 16-bit grey+alpha PNG, which Pillow opens as 8-bit RGBA.

    Its pixels are four bytes (grey high, low, alpha high, low), as many as 8-bit RGBA's, so
    decoding again with the raw ``RGBA`` unpacker hands back every byte as it is in the file,
    through the same zlib, filter and interlace code.
    """
    fp.seek(0)
    with Image.open(fp) as twin:
        twin.tile = [tile._replace(args=_replace_rawmode(tile.args, "RGBA")) for tile in twin.tile]
        twin.load()
        raw = np.asarray(twin).astype(np.uint16)
    grey, alpha = (raw[..., 0] << 8) | raw[..., 1], (raw[..., 2] << 8) | raw[..., 3]
    return _Pixels(colour=grey[..., np.newaxis].astype(np.float32) / 65535.0,
                   alpha=alpha.astype(np.float32) / 65535.0)


def _rawmode(args: Any) -> str | None:
    rawmode = args if isinstance(args, str) else (args[0] if args else None)
    return rawmode if isinstance(rawmode, str) else None


def _low_byte_rawmode(args: Any) -> str | None:
    rawmode = _rawmode(args)
    if rawmode is None:
        return None
    native = "L" if sys.byteorder == "little" else "B"
    for base in ("RGB", "RGBA"):
        order = {f"{base};16L": "L", f"{base};16B": "B", f"{base};16N": native}.get(rawmode)
        if order is not None:
            return f"{base};16{'B' if order == 'L' else 'L'}"
    return None


def _replace_rawmode(args: Any, rawmode: str) -> Any:
    return rawmode if isinstance(args, str) else (rawmode, *args[1:])


def _wide_pixels(wide: np.ndarray, transparency: Any) -> _Pixels:
    values = wide.astype(np.float32) / 65535.0
    alpha = values[..., 3] if wide.shape[-1] == 4 else None
    if alpha is None and isinstance(transparency, tuple) and len(transparency) == 3:
        # A PNG tRNS colour is given in 16 bits: compare with the full 16-bit samples.
        alpha = (~np.all(wide == np.asarray(transparency, np.uint16), axis=-1)).astype(np.float32)
    return _Pixels(colour=np.ascontiguousarray(values[..., :3]), alpha=alpha)


# ---- numbers and colour --------------------------------------------------------------------


def _scale_to_unit(data: np.ndarray) -> np.ndarray:
    """Maps samples of any dtype onto [0, 1] float32.

    Unsigned integers use their full range (16-bit: 1/65535, never clipped at 255). 32-bit
    integers whose values fit 16 bits are taken as 16-bit data, which is how Pillow and many
    tools store it. Floats are taken as [0, 1]; larger maxima are read as 0-255 or 0-65535
    data rather than clipped to white.
    """
    if data.dtype == np.bool_:
        return data.astype(np.float32)
    if np.issubdtype(data.dtype, np.integer):
        top = float(data.max(initial=0))
        scale = 65535.0 if data.itemsize >= 4 and top <= 65535 else float(np.iinfo(data.dtype).max)
        return np.clip(data.astype(np.float32) / scale, 0.0, 1.0)
    values = data.astype(np.float32)
    if not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    top = float(values.max(initial=0.0))
    if top > 1.0 + 1e-6:  # not [0, 1] data: read it as 0-255 or 0-65535 rather than clip
        values /= 255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top
    return np.clip(values, 0.0, 1.0)


def _icc_source(icc: bytes | None) -> Any:
    """A usable, non-sRGB source profile, or None (absent, sRGB already, or broken)."""
    if not icc or _ImageCms is None:
        return None
    try:
        profile = _ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = _ImageCms.getProfileDescription(profile)
    except Exception:  # a broken profile: ImageCms raises PyCMSError, OSError, TypeError...
        return None
    return None if "srgb" in description.lower() else profile


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """An RGB image in sRGB: via the ICC profile when usable, else Pillow's plain conversion."""
    profile = _icc_source(icc)
    if profile is not None:
        try:
            srgb = _ImageCms.createProfile("sRGB")
            return _ImageCms.profileToProfile(im, profile, srgb, outputMode="RGB")
        except Exception:  # a profile that does not fit the image's mode (e.g. RGB on grey)
            pass
    return im.convert("RGB")


def _apply_pending_icc(colour: np.ndarray, icc: bytes | None) -> np.ndarray:
    """Colour-manages high-bit data through an 8-bit transform.

    ImageCms only transforms 8-bit colour images, so a deep image with a non-sRGB profile
    loses its extra precision here; correct colours matter more than the last bits for a
    style-transfer input. sRGB-tagged and untagged images keep every bit.
    """
    if _icc_source(icc) is None:
        return colour
    eight_bit = np.rint(colour * 255.0).astype(np.uint8)
    im = Image.fromarray(eight_bit[..., 0] if colour.shape[-1] == 1 else eight_bit)
    return _u8_to_unit(_to_srgb(im, icc))


def _finish(pixels: _Pixels) -> np.ndarray:
    """Colour management, grey to RGB, alpha onto white, orientation: the final array."""
    colour = _apply_pending_icc(pixels.colour, pixels.icc)
    if colour.shape[-1] == 1:
        colour = np.repeat(colour, 3, axis=-1)
    else:
        colour = np.array(colour, dtype=np.float32, copy=True)
    if pixels.alpha is not None:
        alpha = pixels.alpha[..., np.newaxis].astype(np.float32)
        if not pixels.premultiplied:
            colour *= alpha
        colour += 1.0 - alpha  # white shows through where the image is transparent
    np.clip(colour, 0.0, 1.0, out=colour)
    return np.ascontiguousarray(_orient(colour, pixels.orientation), dtype=np.float32)


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Applies an EXIF orientation, as ``PIL.ImageOps.exif_transpose`` does."""
    transforms: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }
    transform = transforms.get(orientation)
    return image if transform is None else transform(image)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_image(
    path: str | Path,
    image: np.ndarray,
    *,
    overwrite: bool = False,
    bit_depth: int = 8,
    jpeg_quality: int = 95,
    dpi: float | None = None,
) -> Path:
    """Writes float RGB in [0, 1] to an image file, atomically.

    The format follows the extension (see ``SUPPORTED_OUTPUT_SUFFIXES``). Values are clipped
    to [0, 1] and quantised once, to ``round(x * 255)`` or ``round(x * 65535)``. The data
    goes to a hidden temporary file in the target's folder, is flushed to disk and then
    renamed onto the target, so the target is either complete or untouched.

    Every file embeds an sRGB ICC profile (see :func:`srgb_profile`; none where Pillow has
    no LittleCMS), and ``dpi`` is stored where readers look for it: PNG ``pHYs``, JPEG JFIF
    density, TIFF X/YResolution in inches, WebP EXIF. TIFFs whose pixels would pass 4 GiB
    are written as BigTIFF with tifffile, whatever the bit depth.

    Args:
        path: where to write; missing parent folders are created.
        image: float array of shape ``(H, W, 3)``.
        overwrite: replace an existing file; otherwise an existing file is an error.
        bit_depth: 8, or 16 for ``.png`` and ``.tif``/``.tiff``.
        jpeg_quality: 1 to 100, used by ``.jpg``/``.jpeg`` and ``.webp`` (where 100
            means lossless).
        dpi: resolution stored in the file's metadata, if given.

    Returns:
        The path written, as a ``Path``.

    Raises:
        HiresError: unsupported extension or option, NaN or infinite values, an existing
            file without ``overwrite``, a TIFF over 4 GiB without tifffile installed, or a
            file-system failure (no space, no permission).
        ValueError: ``image`` is not a float array of shape ``(H, W, 3)`` (a programming error).
    """
    target = Path(path)
    fmt = _output_format(target)
    _check_write_options(target, fmt, bit_depth, jpeg_quality, dpi)
    samples = _Samples(target, image, bit_depth)
    _check_encoder_limits(target, fmt, samples.shape, bit_depth)
    _refuse_existing(target, overwrite)
    created = _make_folder(target)
    saver = _SAVERS[fmt]
    try:
        write_atomically(target, lambda fp: saver(fp, samples, jpeg_quality, dpi), overwrite=overwrite)
    except Exists as exc:  # it appeared while this was written
        remove_empty(created)
        raise HiresError(_exists_message(target)) from exc
    except (OSError, ValueError) as exc:
        remove_empty(created)  # a full disk leaves no empty out.rungs/ behind
        raise _write_failure(target, exc) from exc
    return target


def _output_format(path: Path) -> str:
    fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        shown = path.suffix or "no extension"
        raise HiresError(
            f"cannot write {path}: {shown} is not a supported output format. "
            f"Use one of {', '.join(SUPPORTED_OUTPUT_SUFFIXES)}."
        )
    return fmt


def _check_write_options(
    path: Path, fmt: str, bit_depth: int, jpeg_quality: int, dpi: float | None
) -> None:
    if bit_depth not in (8, 16):
        raise HiresError(
            f"cannot write {path}: bit depth {bit_depth} is not supported. Use 8 or 16."
        )
    if bit_depth == 16 and fmt in ("JPEG", "WEBP"):
        raise HiresError(
            f"cannot write {path}: {fmt} stores only 8 bits per channel. "
            "Use a .png or .tif output for 16-bit, or write 8-bit."
        )
    if bit_depth == 16 and fmt == "TIFF" and _tifffile is None:
        raise HiresError(
            f"cannot write {path}: 16-bit TIFF needs the tifffile package. "
            "Install it (pip install tifffile), use a .png output, or write 8-bit."
        )
    if not 1 <= jpeg_quality <= 100:
        raise HiresError(
            f"cannot write {path}: quality {jpeg_quality} is out of range. Use 1 to 100."
        )
    if dpi is not None and not (np.isfinite(dpi) and dpi > 0):
        raise HiresError(
            f"cannot write {path}: DPI {dpi} is not a positive number. Pass e.g. 300."
        )


# Rows quantised at a time: a poster's float image is most of a gigabyte, and a whole-image
# float copy (clipping) or integer copy (a 16-bit TIFF) beside it would double that.
_BLOCK_BYTES = 32 << 20


class _Samples:
    """A float image to be written, quantised block by block on demand (clipped, rounded once).

    ``round(clip(x, 0, 1) * 255)`` or ``* 65535``. No whole-image copy is made unless a saver
    asks for ``whole()`` (Pillow's encoders need the whole array; then only the integers are).
    """

    def __init__(self, path: Path, image: np.ndarray, bit_depth: int) -> None:
        data = np.asarray(image)
        if data.ndim != 3 or data.shape[2] != 3 or not np.issubdtype(data.dtype, np.floating):
            raise ValueError(f"expected a float (H, W, 3) image, got {data.dtype} {data.shape}")
        self.data, self.bit_depth = data, bit_depth
        self.dtype = np.dtype(np.uint16 if bit_depth == 16 else np.uint8)
        self.rows_per_block = max(1, _BLOCK_BYTES // (data.shape[1] * 3 * 4))
        for top in range(0, data.shape[0], self.rows_per_block):
            if not np.isfinite(data[top:top + self.rows_per_block]).all():
                raise HiresError(
                    f"cannot write {path}: the image contains NaN or infinite values (the render "
                    "diverged), so nothing was written. Rerun with different settings."
                )

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.data.shape

    def rows(self, top: int, bottom: int) -> np.ndarray:
        """Rows ``[top, bottom)`` as integers ``(rows, W, 3)``."""
        block = np.clip(self.data[top:bottom], 0.0, 1.0, dtype=np.float32)
        block *= 65535.0 if self.bit_depth == 16 else 255.0
        np.rint(block, out=block)
        return block.astype(self.dtype)

    def blocks(self, rows: int | None = None) -> Iterator[np.ndarray]:
        """The image's rows as integer blocks of ``rows`` rows (the last may be shorter)."""
        step = rows or self.rows_per_block
        for top in range(0, self.shape[0], step):
            yield self.rows(top, top + step)

    def whole(self) -> np.ndarray:
        """Every row as one integer array ``(H, W, 3)``."""
        out = np.empty(self.shape, self.dtype)
        for top in range(0, self.shape[0], self.rows_per_block):
            out[top:top + self.rows_per_block] = self.rows(top, top + self.rows_per_block)
        return out


def _check_encoder_limits(path: Path, fmt: str, shape: tuple[int, ...], bit_depth: int) -> None:
    limit = _MAX_SIDE_BY_FORMAT.get(fmt)
    if limit is not None and max(shape[:2]) > limit:
        raise HiresError(
            f"cannot write {path}: {shape[1]}x{shape[0]} px is larger than {fmt} allows "
            f"({limit} px a side). Use a .png or .tif output."
        )
    if fmt == "TIFF" and _tifffile is None and _needs_bigtiff(shape, bit_depth):
        raise HiresError(
            f"cannot write {path}: {shape[1]}x{shape[0]} px at {bit_depth} bits is over 4 GB, "
            "which needs BigTIFF and the tifffile package. Install it (pip install tifffile) "
            "or use a .png output."
        )


def _needs_bigtiff(shape: tuple[int, ...], bit_depth: int) -> bool:
    """Whether a TIFF of these pixels must be BigTIFF: uncompressed size past ~4 GiB.

    Args:
        shape: ``(H, W)`` or ``(H, W, samples)``; 3 samples when not given.
        bit_depth: bits a sample, 8 or 16.
    """
    height, width = int(shape[0]), int(shape[1])
    samples = int(shape[2]) if len(shape) > 2 else 3
    return height * width * samples * (bit_depth // 8) > _BIGTIFF_THRESHOLD


def _exists_message(path: Path) -> str:
    return (
        f"cannot write {path}: it already exists. "
        "Pass --overwrite to replace it, or choose another -o."
    )


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise HiresError(f"cannot write {path}: it is a folder. Pass a file name such as out.png.")
    if os.path.lexists(path) and not overwrite:  # a link to nowhere is there too: it would block the write
        raise HiresError(_exists_message(path))


def _make_folder(path: Path) -> list[Path]:
    """Creates the folders ``path`` needs; returns those it created."""
    try:
        return make_folders(path.parent)
    except OSError as exc:
        raise HiresError(
            f"cannot write {path}: cannot create the folder {path.parent} ({_reason(exc)}). "
            "Choose another -o."
        ) from exc


def _write_failure(path: Path, exc: BaseException) -> HiresError:
    full = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    if isinstance(exc, OSError) and exc.errno in full:
        problem, fix = "no space left on the disk", "Free some space or choose another -o."
    elif isinstance(exc, PermissionError):
        problem, fix = "permission denied", "Choose a folder you can write to with -o."
    else:
        problem, fix = _reason(exc), "Nothing was written; choose another -o."
    return HiresError(f"cannot write {path}: {problem}. {fix}")


# ---- encoders ------------------------------------------------------------------------------


@functools.cache
def _build_srgb_profile(cms: Any) -> bytes | None:
    try:
        return bytes(cms.ImageCmsProfile(cms.createProfile("sRGB")).tobytes())
    except Exception:  # a LittleCMS build that cannot make it: write untagged, not fail
        return None


def srgb_profile() -> bytes | None:
    """The sRGB ICC profile that :func:`write_image` embeds in every file it writes.

    Built once with LittleCMS (``PIL.ImageCms``) and cached. Its description reads
    "sRGB built-in", which :func:`read_image` recognises as sRGB and leaves alone.

    Returns:
        The profile's bytes (about 600), or None where Pillow has no ImageCms; files are
        then written without a profile rather than not at all.
    """
    return None if _ImageCms is None else _build_srgb_profile(_ImageCms)


def _pillow_icc() -> dict[str, Any]:
    icc = srgb_profile()
    return {"icc_profile": icc} if icc else {}


def _save_png(fp: IO[bytes], samples: _Samples, quality: int, dpi: float | None) -> None:
    if samples.bit_depth == 16:
        _write_png16(fp, samples, dpi)
        return
    options = {"dpi": (dpi, dpi)} if dpi else {}  # pHYs, in dots per metre
    Image.fromarray(samples.whole()).save(fp, format="PNG", **options, **_pillow_icc())


def _save_jpeg(fp: IO[bytes], samples: _Samples, quality: int, dpi: float | None) -> None:
    # JFIF density is a whole number of dots per inch.
    options = {"dpi": (round(dpi), round(dpi))} if dpi else {}
    # 4:4:4 (no chroma subsampling): stylised images are full of fine colour detail.
    Image.fromarray(samples.whole()).save(
        fp, format="JPEG", quality=quality, subsampling=0, **options, **_pillow_icc()
    )


def _save_webp(fp: IO[bytes], samples: _Samples, quality: int, dpi: float | None) -> None:
    options: dict[str, Any] = _pillow_icc()  # an ICCP chunk
    if dpi:
        # WebP has no resolution field of its own; EXIF is where readers look. Pillow does
        # not turn it into info["dpi"] when reading WebP: see the EXIF via getexif().
        exif = Image.Exif()
        exif[282], exif[283], exif[296] = dpi, dpi, 2  # X/YResolution, unit = inch
        options["exif"] = exif
    # Quality 100 means lossless: lossy WebP always halves the colour resolution.
    options["lossless"] = quality == 100
    Image.fromarray(samples.whole()).save(fp, format="WEBP", quality=quality, **options)


def _save_tiff(fp: IO[bytes], samples: _Samples, quality: int, dpi: float | None) -> None:
    bigtiff = _needs_bigtiff(samples.shape, samples.bit_depth)
    if samples.bit_depth == 8 and not bigtiff:
        # Pillow writes classic TIFF only; dpi= sets X/YResolution with ResolutionUnit inch.
        options = {"dpi": (dpi, dpi)} if dpi else {}
        deflate = "tiff_adobe_deflate"
        Image.fromarray(samples.whole()).save(
            fp, format="TIFF", compression=deflate, **options, **_pillow_icc()
        )
        return
    assert _tifffile is not None  # checked up front: _check_write_options, _check_encoder_limits
    resolution = {"resolution": (dpi, dpi), "resolutionunit": "INCH"} if dpi else {}
    icc = srgb_profile()
    # Tag 34675 (InterColorProfile), UNDEFINED bytes, written via extratags, which every
    # tifffile version accepts (newer ones also take iccprofile=, to the same effect).
    extratags = [(_ICC_TIFF_TAG, 7, None, icc, True)] if icc else []
    rows = _tiff_rows_per_strip(samples)
    _tifffile.imwrite(
        fp,
        _tiff_strips(samples, rows),
        shape=samples.shape,
        dtype=samples.dtype,
        rowsperstrip=rows,
        bigtiff=bigtiff,
        photometric="rgb",
        compression="zlib",
        predictor=True,  # horizontal differencing: much smaller 16-bit photos
        metadata=None,
        extratags=extratags,
        **resolution,
    )


def _tiff_rows_per_strip(samples: _Samples) -> int:
    """Strips of about 1 MiB of samples, as TIFF readers expect (and no fewer than 1 row)."""
    return max(1, (1 << 20) // (samples.shape[1] * 3 * samples.dtype.itemsize))


def _tiff_strips(samples: _Samples, rows: int) -> Iterator[bytes]:
    """The TIFF's strips, each quantised, predicted and deflated on its own.

    Written strip by strip so that a 16-bit poster (466 MB of samples) is never held whole: the
    bytes are what tifffile would write for the whole array with ``compression="zlib"`` and
    ``predictor=True`` (horizontal differencing of each sample, modulo 2^bits, little-endian).
    """
    for block in samples.blocks(rows):
        block = block.astype(block.dtype.newbyteorder("<"), copy=False)
        predicted = block.copy()
        predicted[:, 1:] -= block[:, :-1]  # unsigned arithmetic wraps, as the predictor specifies
        yield zlib.compress(predicted.tobytes(), 6)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK_BYTES = 1 << 20


def _write_png16(fp: IO[bytes], samples: _Samples, dpi: float | None) -> None:
    """Encodes a 48-bit RGB PNG, which Pillow cannot write.

    The PNG format is simple enough to write directly: rows filtered with PNG's "Sub"
    filter (vectorised here), deflated in blocks so memory stays bounded, in 1 MiB IDAT
    chunks. The sRGB profile goes in an ``iCCP`` chunk and ``dpi`` in ``pHYs``, both
    before the image data as the PNG specification requires.
    """
    height, width, _ = samples.shape
    fp.write(_PNG_SIGNATURE)
    _png_chunk(fp, b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
    icc = srgb_profile()
    if icc:  # name, NUL, compression method 0 (zlib), compressed profile
        _png_chunk(fp, b"iCCP", b"sRGB\x00\x00" + zlib.compress(icc, 9))
    if dpi:
        per_metre = round(dpi / 0.0254)
        _png_chunk(fp, b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
    compressor = zlib.compressobj(6)
    pending = bytearray()
    rows_per_block = max(1, (4 << 20) // (width * 6))
    for block in samples.blocks(rows_per_block):
        pending += compressor.compress(_png_sub_filtered(block))
        while len(pending) >= _PNG_CHUNK_BYTES:
            _png_chunk(fp, b"IDAT", bytes(pending[:_PNG_CHUNK_BYTES]))
            del pending[:_PNG_CHUNK_BYTES]
    pending += compressor.flush()
    _png_chunk(fp, b"IDAT", bytes(pending))
    _png_chunk(fp, b"IEND", b"")


def _png_sub_filtered(rows: np.ndarray) -> bytes:
    """Big-endian 16-bit rows, each led by filter type 1 ("Sub": minus the pixel to the left)."""
    raw = rows.astype(">u2").view(np.uint8).reshape(rows.shape[0], -1)
    out = np.empty((raw.shape[0], raw.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 1
    out[:, 1:] = raw
    out[:, 7:] -= raw[:, :-6]  # uint8 arithmetic wraps modulo 256, as PNG specifies
    return out.tobytes()


def _png_chunk(fp: IO[bytes], kind: bytes, data: bytes) -> None:
    fp.write(struct.pack(">I", len(data)))
    fp.write(kind)
    fp.write(data)
    fp.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


_SAVERS: dict[str, Callable[[IO[bytes], _Samples, int, float | None], None]] = {
    "PNG": _save_png,
    "JPEG": _save_jpeg,
    "TIFF": _save_tiff,
    "WEBP": _save_webp,
}


# --------------------------------------------------------------------------------------------
# Pre-flight check
# --------------------------------------------------------------------------------------------


def shrink(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """A float ``(H, W, 3)`` picture shrunk by a whole factor to at most about ``max_side_px``
    a side, each output pixel the mean of a square of inputs: a preview of a poster without
    a float copy of it (the factor's blocks are a view, averaged straight into the output).

    Pictures already small enough are returned as they are.
    """
    factor = -(-max(image.shape[:2]) // max_side_px)
    if factor <= 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[: height * factor, : width * factor].reshape(height, factor, width, factor, 3)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def side_path(output: str | Path, suffix: str) -> Path:
    """A file or folder that belongs to an output: ``out/a.png`` and ``".rungs"`` -> ``out/a.rungs``."""
    output = Path(output)
    return output.with_name(output.name.rsplit(".", 1)[0] + suffix)


def check_output_path(path: str | Path, *, overwrite: bool) -> Path:
    """Checks, before a long render, that ``write_image`` will be able to write ``path``.

    Checks the extension, that the target is not a folder and does not exist (unless
    ``overwrite``), and that its folder exists or can be created and is writable, by
    creating and deleting a temporary file there. Nothing is left behind and no folder is
    created.

    Args:
        path: the intended output file.
        overwrite: whether an existing file may be replaced.

    Returns:
        The absolute, resolved path.

    Raises:
        HiresError: naming the problem and the fix.
    """
    target = Path(path).expanduser()
    _refuse_too_long(target)
    if target.is_dir():  # before the extension: "d" or "out.png/" named a folder
        raise HiresError(f"cannot write {target}: it is a folder. Give a file name, e.g. -o {target / 'out.png'}")
    _output_format(target)
    _refuse_existing(target, overwrite)
    folder = _nearest_existing_folder(target)
    _probe_writable(target, folder)
    return resolve(target)


def check_output_options(path: str | Path, *, height: int, width: int, bit_depth: int = 8,
                         jpeg_quality: int = 95, dpi: float | None = None) -> None:
    """Checks, before a long render, that ``path``'s format can hold a picture of these pixels and options.

    Raises:
        HiresError: e.g. 16 bits for a JPEG, a WebP wider than 16383 px; naming the fix.
    """
    target = Path(path)
    fmt = _output_format(target)
    _check_write_options(target, fmt, bit_depth, jpeg_quality, dpi)
    _check_encoder_limits(target, fmt, (height, width, 3), bit_depth)


def _nearest_existing_folder(target: Path) -> Path:
    """The deepest existing ancestor of ``target``, which ``mkdir`` would build under."""
    folder = target.absolute().parent
    while not _exists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise HiresError(
            f"cannot write {target}: {folder} is a file, not a folder. Choose another -o."
        )
    return folder


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. no permission to look: treat as present and let the probe decide
        return True


def _probe_writable(target: Path, folder: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(target), suffix=".tmp")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a file system with short names: the temporary name
            raise _name_too_long(target) from exc
        raise HiresError(
            f"cannot write {target}: files cannot be created in the folder {folder} ({_reason(exc)}). "
            "Choose another -o."
        ) from exc


def _refuse_too_long(target: Path) -> None:
    try:
        os.lstat(target)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise _name_too_long(target) from exc


def _name_too_long(target: Path) -> HiresError:
    return HiresError(f"cannot write {target}: its name is too long for this file system. Choose a shorter -o.")
