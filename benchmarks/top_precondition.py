"""Does a change of variables that favours fine detail shorten the top rung?

The top rung starts from the rung below enlarged: its layout is already right, and what its
iterations make is the fine texture above the rung below's band. If the picture's coarse
frequencies are the stiff directions of the loss, they limit L-BFGS's step for the fine ones.
Here L-BFGS runs over c, with the picture x = x0 + A c (x0 the start, c = 0 at first) and A a
symmetric filter whose gain is 1 above ``--band`` cycles per pixel (0.25: what the rung below
could not hold) and (f / band) ** power below it, at least ``--floor``. A is its own transpose,
so the gradient over c is A applied to the gradient over x. ``plain`` is the renderer (A = 1).

For a pair, the ladder below (``--below-ladder``, 256:200,512:100 by default) is climbed once
(kept in ``--below`` to share it between runs), then the ``--top`` px rung (1024) runs from its
last picture enlarged, once per variant, judged every 10 iterations by ``hires.quality.Judge``:

    python benchmarks/top_precondition.py --pair democontent-starry --variants plain,p1,p2 --iterations 40 --out s.json

A variant ``pP`` uses power P (with ``--floor``); ``plain`` is no filter.
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
import tensorflow as tf  # noqa: E402

from benchmarks.quality_ladder import climb_unjudged, load_pair, painting_at  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, WholeImageObjective, compute_targets, make_extractor, make_loss_function  # noqa: E402
from core.optimize import minimize_lbfgs  # noqa: E402
from core.precondition import apply_gain  # noqa: E402
from hires.inputs import resize, to_tensor  # noqa: E402
from hires.ladder import rung_shape  # noqa: E402
from hires.quality import Judge  # noqa: E402


def gain(height: int, width: int, band: float, power: float, floor: float) -> tf.Tensor:
    """The filter's gain over ``rfft2d``'s frequencies, ``(height, width // 2 + 1)``."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2)
    values = np.maximum(np.minimum(radius / band, 1.0) ** power, floor)
    return tf.constant(values, tf.complex64)


class Filtered:
    """The objective of c, for x = x0 + A c: value f(x), gradient A grad f(x)."""

    def __init__(self, base, x0: tf.Tensor, response: tf.Tensor) -> None:
        self.base, self.x0, self.response = base, x0, response

    @property
    def traces(self) -> int:
        return self.base.traces

    def apply(self, c: tf.Tensor) -> tf.Tensor:
        return apply_gain(c, self.response, c.shape)

    def picture(self, c: tf.Tensor) -> tf.Tensor:
        return self.x0 + self.apply(c)

    def value_and_gradient(self, c, *, scale=1.0):
        value, gradient = self.base.value_and_gradient(self.picture(c), scale=scale)
        return value, self.apply(gradient)

    def terms(self, c):
        return self.base.terms(self.picture(c))


def run_variant(extractor, spec, photo, painting, start: np.ndarray, variant: str, options, judge, log) -> dict:
    height, width = start.shape[:2]
    targets = compute_targets(extractor, spec, resize(to_tensor(photo), height, width),
                              [to_tensor(painting_at(painting, options.top))])
    base = WholeImageObjective(make_loss_function(extractor, spec, targets), jit_compile=True)
    x0 = to_tensor(start)
    power = 0.0 if variant == "plain" else float(variant[1:])
    band = options.band if options.band else 0.5 * options.ladder[-1][0] / options.top
    objective = Filtered(base, x0, gain(height, width, band, power, options.floor))
    readings, clock = [], time.perf_counter()

    def record(c, iteration, evaluations):
        picture = np.clip(objective.picture(c)[0].numpy(), 0.0, 1.0)
        readings.append({"iteration": iteration, "evaluations": evaluations, **judge(picture).__dict__})
        log(f"{variant} it {iteration}: " + " ".join(
            f"{key} {value:.4g}" for key, value in readings[-1].items() if key not in ("iteration", "evaluations"))
            + f" ({time.perf_counter() - clock:.0f} s)")

    c0 = tf.zeros_like(x0)
    record(c0, 0, 0)
    minimize_lbfgs(objective, c0, iterations=options.iterations, chunk_iterations=10,
                   callback=lambda p: record(p.image, p.iteration, p.evaluations))
    return {"power": power, "readings": readings, "seconds": time.perf_counter() - clock}


def picture_below(extractor, spec, photo, painting, ladder, path: Path | None, log) -> np.ndarray:
    if path is not None and path.is_file():
        return np.load(path)
    below = climb_unjudged(extractor, spec, photo, painting, ladder, log)
    if path is not None:
        np.save(path, below)
    return below


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", required=True)
    parser.add_argument("--variants", default="plain,p1")
    parser.add_argument("--below-ladder", default="256:200,512:100")
    parser.add_argument("--top", type=int, default=1024)
    parser.add_argument("--band", type=float, default=0.0, help="0: the Nyquist frequency of the rung below")
    parser.add_argument("--floor", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--below", type=Path, help="a .npy file keeping the 512 px picture between runs")
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    options.ladder = [tuple(int(v) for v in part.split(":")) for part in options.below_ladder.split(",")]
    backbone, spec = load_backbone("vgg16-hed"), LossSpec()
    photo, painting = load_pair(options.pair)
    judge = Judge(backbone, photo, painting, used=spec.layer_names)
    extractor = make_extractor(backbone, spec)
    log = lambda text: print(f"{options.pair} {text}", flush=True)  # noqa: E731
    below = picture_below(extractor, spec, photo, painting, options.ladder, options.below, log)
    height, width = rung_shape(*photo.shape[:2], options.top, multiple=16)
    start = resize(to_tensor(below), height, width)[0].numpy()  # the rung below enlarged, as a render starts
    results = {"date": time.strftime("%Y-%m-%d"), "pair": options.pair, "below": options.ladder, "top": options.top,
               "band": options.band,
               "floor": options.floor, "variants": {}}
    for variant in options.variants.split(","):
        results["variants"][variant] = run_variant(extractor, spec, photo, painting, start, variant, options,
                                                   judge, log)
        options.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
