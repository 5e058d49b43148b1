"""Does a mean and standard deviation term beside the Gram loss (Galerne et al. 2024) help?

Each style layer's features get a second statistic beside the Gram matrix: the per-channel mean
and standard deviation over positions, compared with the painting's relative to their size,

    (|mu(F) - mu(S)|^2 + |sigma(F) - sigma(S)|^2) / (|mu(S)|^2 + |sigma(S)|^2),

averaged over the style layers with their weights and added to the style term times
``--weight`` (the style term's own weight applies to both). A ladder is climbed with it, each
rung from the end of the one below, and judged every ``--every`` iterations by
``hires.quality.Judge`` (layers the objective does not use) — the same readings as
``quality_ladder.py`` gives for the renderer's loss, to compare at equal evaluations.

    python benchmarks/moments.py --pairs democontent-starry --ladder 256:200,512:100,1024:60 --weight 1 --out m.json

The term weighs style more against content; ``--weight 0 --style-weight W`` climbs the same ladder
with the renderer's loss at a heavier style weight, to tell a faster loss from another balance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402

from benchmarks.quality_ladder import climb  # noqa: E402
from core import losses  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, assemble_terms  # noqa: E402


def moments(features: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-channel mean and standard deviation over positions of ``(1, H, W, C)``: two ``(C,)``."""
    mean, variance = tf.nn.moments(features[0], axes=[0, 1])
    return mean, tf.sqrt(variance + 1e-8)  # the epsilon keeps the gradient finite for a dead channel


def moment_distance(ours: tuple[tf.Tensor, tf.Tensor], theirs: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
    scale = tf.reduce_sum(tf.square(theirs[0])) + tf.reduce_sum(tf.square(theirs[1])) + losses.EPSILON
    return (tf.reduce_sum(tf.square(ours[0] - theirs[0])) + tf.reduce_sum(tf.square(ours[1] - theirs[1]))) / scale


def loss_with_moments(weight: float):
    """A ``make_loss`` for ``quality_ladder.run_rung``: the renderer's loss plus the moment term."""

    def make_loss(extractor, spec: LossSpec, targets, painting: tf.Tensor):
        style_weights = dict(spec.style_layers)
        painted = extractor(painting)
        target_moments = {name: moments(painted[name]) for name in style_weights}
        total_weight = sum(style_weights.values())

        def loss_function(image: tf.Tensor):
            features = extractor(image)
            content = losses.content_loss(features[spec.content_layer], targets.content)
            grams = {name: losses.gram_matrix(features[name]) for name in style_weights}
            style = losses.style_loss(grams, targets.grams, style_weights)
            extra = tf.add_n([w * moment_distance(moments(features[name]), target_moments[name])
                              for name, w in style_weights.items()]) / total_weight
            tv = losses.total_variation_loss(image) if spec.tv_weight > 0 else tf.constant(0.0)
            return assemble_terms(spec, content, style + weight * extra, tv, losses.range_penalty(image))

        return loss_function

    return make_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="democontent-starry")
    parser.add_argument("--ladder", default="256:200,512:100,1024:60")
    parser.add_argument("--weight", type=float, default=1.0, help="the moment term against the Gram term")
    parser.add_argument("--style-weight", type=float, default=LossSpec().style_weight,
                        help="the style term's weight (with --weight 0: the renderer's loss at another balance)")
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    ladder = tuple(tuple(int(v) for v in part.split(":")) for part in options.ladder.split(","))
    backbone, spec = load_backbone("vgg16-hed"), LossSpec(style_weight=options.style_weight)
    results = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "ladder": ladder,
               "weight": options.weight, "style_weight": options.style_weight, "pairs": []}
    for name in options.pairs.split(","):
        results["pairs"].append(climb(name, backbone, spec, 0.0, ladder, lambda text: print(text, flush=True),
                                      options.every, make_loss=loss_with_moments(options.weight)))
        options.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
