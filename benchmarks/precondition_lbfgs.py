"""Does a change of variables that favours large-scale moves speed up L-BFGS's slow tail?

L-BFGS runs over c, with the image x = A c and A a symmetric filter that scales each spatial
frequency f by (f / f_max) ** -alpha (alpha 0: plain pixels). The larger alpha, the further the
low frequencies (the picture's layout) move per step. It prints the loss after every 10
iterations, from the same start (the photograph): tubingen x starry night, vgg16-hed, the
paper's loss.

    python benchmarks/precondition_lbfgs.py --size 256 --iterations 60 --alphas 0,0.5,1

Measured 2026-11-26 on the 2-core development CPU at 192x256 px, loss after 60 iterations:
alpha 0: 0.795, alpha 0.5: 0.802, alpha 1: 1.010. Plain pixels are best; the renderer keeps them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, WholeImageObjective, compute_targets, make_extractor, make_loss_function  # noqa: E402
from core.optimize import minimize_lbfgs  # noqa: E402
from hires import images  # noqa: E402
from hires.inputs import resize, to_tensor  # noqa: E402

IMAGES = ROOT.parent / "shared" / "images"


def read_at(path: Path, long_edge: int) -> tf.Tensor:
    """The picture with its long edge near ``long_edge``, sides multiples of 16 as the renderer's."""
    picture = to_tensor(images.read_image(path))
    height, width = picture.shape[1:3]
    scale = long_edge / max(height, width)
    return resize(picture, max(16, round(height * scale / 16) * 16), max(16, round(width * scale / 16) * 16))


class FilteredObjective:
    """The objective of x = A c as a function of c; A is symmetric, so the gradient is A g."""

    def __init__(self, inner: WholeImageObjective, height: int, width: int, alpha: float) -> None:
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        f = np.maximum(np.sqrt(fy ** 2 + fx ** 2), 1.0 / max(height, width))
        self.gain = tf.constant((f / f.max()) ** -alpha, tf.complex64)
        self.inner, self.shape, self.traces = inner, [height, width], 0

    def apply(self, image: tf.Tensor, inverse: bool = False) -> tf.Tensor:
        spectrum = tf.signal.rfft2d(tf.transpose(image, [0, 3, 1, 2]))
        spectrum = spectrum / self.gain if inverse else spectrum * self.gain
        return tf.transpose(tf.signal.irfft2d(spectrum, fft_length=self.shape), [0, 2, 3, 1])

    def value_and_gradient(self, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        value, gradient = self.inner.value_and_gradient(self.apply(c))
        return value, self.apply(gradient)

    def terms(self, c: tf.Tensor) -> dict:
        return self.inner.terms(self.apply(c))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--alphas", default="0,0.5,1")
    args = parser.parse_args()
    content = read_at(IMAGES / "tubingen.jpg", args.size)
    style = read_at(IMAGES / "starry_night.jpg", args.size)
    spec = LossSpec()
    extractor = make_extractor(load_backbone("vgg16-hed"), spec)
    targets = compute_targets(extractor, spec, content, [style])
    inner = WholeImageObjective(make_loss_function(extractor, spec, targets), jit_compile=True)
    height, width = content.shape[1:3]
    for alpha in (float(a) for a in args.alphas.split(",")):
        objective = FilteredObjective(inner, height, width, alpha)
        start, rows = time.perf_counter(), []
        minimize_lbfgs(objective, objective.apply(content, inverse=True), iterations=args.iterations,
                       chunk_iterations=10,
                       callback=lambda p: rows.append((p.iteration, float(p.terms.total), time.perf_counter() - start)))
        print(f"alpha {alpha} at {height}x{width}: "
              + ", ".join(f"{i}: {loss:.4f} ({s:.0f} s)" for i, loss, s in rows), flush=True)


if __name__ == "__main__":
    main()
