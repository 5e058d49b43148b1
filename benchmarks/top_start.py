"""Does a sharper start shorten the top rung? The rung below, enlarged, is soft: the top rung's
first iterations rebuild the fine detail the enlargement lost.

For a pair, the ladder 256:200, 512:100 is climbed once, then the 1024 px rung runs from each
start and is judged every 10 iterations (``hires.quality.Judge``):

- ``bicubic``: the 512 px picture enlarged (what a render does);
- ``detail``: that, plus the photograph's own detail above the 512 px rung's band (the
  photograph at 1024 px minus the photograph shrunk to 512 px and enlarged again);
- ``sharpen``: that picture sharpened by the same band of its own (an unsharp mask);
- ``noiseS``: that picture plus Gaussian noise of standard deviation S (fixed seed), as a
  texture synthesis starts from noise: something for the fine texture to grow from.

    python benchmarks/top_start.py --pair democontent-starry --starts detail,sharpen --iterations 40 --out s.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.quality_ladder import climb_unjudged, load_pair, painting_at, run_rung  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, make_extractor  # noqa: E402
from hires.inputs import resize, to_tensor  # noqa: E402
from hires.ladder import rung_shape  # noqa: E402
from hires.quality import Judge  # noqa: E402

BELOW = ((256, 200), (512, 100))
TOP_PX = 1024


def start_picture(kind: str, below: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The top rung's start from the picture of the rung below, as ``kind`` makes it."""
    height, width = rung_shape(*photo.shape[:2], TOP_PX, multiple=16)
    small = below.shape[:2]
    enlarged = resize(to_tensor(below), height, width)
    if kind == "bicubic":
        return enlarged[0].numpy()
    if kind.startswith("noise"):
        noise = np.random.default_rng(0).normal(0.0, float(kind[len("noise"):]), (height, width, 3))
        return np.clip(enlarged[0].numpy() + noise, 0.0, 1.0).astype(np.float32)
    source = resize(to_tensor(photo), height, width) if kind == "detail" else enlarged
    band = source - resize(resize(source, *small), height, width)  # what the smaller size cannot hold
    return np.clip((enlarged + band)[0].numpy(), 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", required=True)
    parser.add_argument("--starts", default="bicubic,detail,sharpen")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    backbone, spec = load_backbone("vgg16-hed"), LossSpec()
    photo, painting = load_pair(options.pair)
    judge = Judge(backbone, photo, painting, used=spec.layer_names)
    extractor = make_extractor(backbone, spec)
    log = lambda text: print(f"{options.pair} {text}", flush=True)  # noqa: E731
    below = climb_unjudged(extractor, spec, photo, painting, BELOW, log)  # judged only where the top rung is
    results = {"date": time.strftime("%Y-%m-%d"), "pair": options.pair, "below": BELOW, "starts": {}}
    for kind in options.starts.split(","):
        rung = run_rung(extractor, spec, photo, painting_at(painting, TOP_PX), start_picture(kind, below, photo),
                        TOP_PX, options.iterations, lambda picture: judge(picture).__dict__, 10,
                        lambda text: log(f"{kind} {text}"))
        rung.pop("pictures")
        results["starts"][kind] = rung
        options.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
