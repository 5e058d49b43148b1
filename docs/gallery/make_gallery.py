"""Makes the README's gallery from a render: thumbnails of the inputs, the result shrunk, a 1:1 crop.

    hires render ../shared/images/tubingen.jpg ../shared/images/starry_night.jpg \
        -c configs/print-2k.toml --backbone vgg16-hed -o /tmp/gallery.png
    python docs/gallery/make_gallery.py ../shared/images/tubingen.jpg \
        ../shared/images/starry_night.jpg /tmp/gallery.png

The inputs are shrunk to thumbnails: the originals stay in ../shared/images, with their licences.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
THUMB_PX, RESULT_PX = 480, 1024  # long edges: a thumbnail, and the result as a README shows it
CROP = (800, 500)  # the 1:1 crop's width and height


def shrink(picture: Image.Image, long_edge: int) -> Image.Image:
    scale = long_edge / max(picture.size)
    return picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)


def crop_box(picture: Image.Image, centre: tuple[float, float]) -> tuple[int, int, int, int]:
    """A ``CROP``-sized box around ``centre`` (fractions of width and height), kept inside the picture."""
    left = min(max(round(centre[0] * picture.width - CROP[0] / 2), 0), picture.width - CROP[0])
    top = min(max(round(centre[1] * picture.height - CROP[1] / 2), 0), picture.height - CROP[1])
    return left, top, left + CROP[0], top + CROP[1]


def main(content: str, style: str, result: str, centre: tuple[float, float] = (0.55, 0.45)) -> None:
    save = dict(quality=88, optimize=True, progressive=True)
    shrink(Image.open(content).convert("RGB"), THUMB_PX).save(HERE / "content.jpg", **save)
    shrink(Image.open(style).convert("RGB"), THUMB_PX).save(HERE / "style.jpg", **save)
    picture = Image.open(result).convert("RGB")
    shrink(picture, RESULT_PX).save(HERE / "result-2048.jpg", **save)
    picture.crop(crop_box(picture, centre)).save(HERE / "crop-1to1.jpg", **save)


if __name__ == "__main__":
    main(*sys.argv[1:4])
