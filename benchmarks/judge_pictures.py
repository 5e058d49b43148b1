"""Judges finished pictures of one pair again, as ``hires.quality.Judge`` judges them today.

For pictures kept by ``quality_defaults.py --keep`` when the judge was different (until
2026-12-07 it enlarged a painting smaller than the picture by area, which repeats rows and
columns: docs/performance.md, "The judge's painting, enlarged"). Prints and writes, per picture,
style, layout, content and grid, and the full-size style distance by the judge's layers.

A painting smaller than the picture has no one right reference: ``--enlarge 1,0`` judges against
it enlarged fully (the judge's default) and at its own size; ``--scan demostyle1024`` also
against another copy of the painting, drawn or scanned at the picture's size (the truth, where
one exists: the demo's drawn painting can be drawn at any size).

    python benchmarks/judge_pictures.py --pair tubingen-shipwreck --out j.json A.png B.png
    python benchmarks/judge_pictures.py --pair rocket-demostyle --enlarge 1,0.5,0 --scan demostyle1024 --out j.json A.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.quality_ladder import load_pair, load_picture  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec  # noqa: E402
from hires.images import read_image  # noqa: E402
from hires.quality import Judge  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", required=True, help="photo-painting, as quality_defaults.py names them")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--enlarge", default="1", help="comma-separated powers for Judge(enlarge=...); 1: the default")
    parser.add_argument("--scan", help="a painting at the picture's size to judge against as well (e.g. demostyle1024)")
    parser.add_argument("--backbone", default="vgg16-hed", help="the judge's network (tiny: for the tests)")
    parser.add_argument("pictures", nargs="+", type=Path)
    options = parser.parse_args()
    photo, painting = load_pair(options.pair)
    backbone, used = load_backbone(options.backbone), LossSpec().layer_names
    judges = {f"enlarge {power}": Judge(backbone, photo, painting, used=used, enlarge=float(power))
              for power in options.enlarge.split(",")}
    if options.scan:
        judges[f"scan {options.scan}"] = Judge(backbone, photo, load_picture(options.scan), used=used)
    results = {"date": time.strftime("%Y-%m-%d"), "pair": options.pair, "pictures": []}
    for path in options.pictures:
        picture = read_image(path)
        for name, judge in judges.items():
            reading = {"picture": path.name, "reference": name, **asdict(judge(picture)),
                       "style_by_layer": judge.style_by_layer(picture)}
            results["pictures"].append(reading)
            print(f"{path.name} [{name}]: style {reading['style']:.4f} layout {reading['layout']:.4f} "
                  f"content {reading['content']:.4f} grid {reading['grid']:.3f}")
    options.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
