"""The memory planner's figure against TensorFlow's own peak on a GPU, whole and tiled.

For each case one value-and-gradient evaluation runs after ``reset_memory_stats``; the peak
``get_memory_info`` reports is set beside ``hires.tiling.estimate_bytes`` (less its vectors
and baseline, which live elsewhere in a render: the planner's network share is what this
checks). With ``--small`` it runs on the CPU, where TensorFlow keeps no such statistics: the
script's path is checked and the peaks are left empty.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--small", action="store_true")
    options = parser.parse_args()
    from core.backbones import activation_floats, load_backbone
    from core.objective import LossSpec, WholeImageObjective, make_loss_function
    from core.tiles import TiledObjective, plan_tiles, tile_geometry
    from hires.bench import make_problem
    from hires.tiling import NETWORK_FACTOR

    gpu = bool(tf.config.list_physical_devices("GPU")) and not options.small
    backbone, spec = load_backbone("tiny" if options.small else "vgg16-hed"), LossSpec()
    cases = [(128, None), (256, 64)] if options.small else [(4096, None), (8192, 2048)]
    rows = []
    for size, tile in cases:
        problem = make_problem(backbone, spec, long_edge_px=size, stride=16)
        height, width = problem.shape
        if tile is None:
            objective = WholeImageObjective(make_loss_function(problem.extractor, spec, problem.targets))
            crop = (height, width)
        else:
            plan = plan_tiles(height, width, tile_px=tile, backbone=backbone, layer_names=spec.layer_names)
            objective = TiledObjective(problem.extractor, spec, problem.targets, plan)
            margin = tile_geometry(backbone, spec.layer_names)[1]
            crop = (min(height, tile + 2 * margin), min(width, tile + 2 * margin))
        if gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")
        float(objective.value_and_gradient(problem.content)[0])
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpu else None
        planned = NETWORK_FACTOR * 4 * activation_floats(backbone, spec.layer_names, *crop)
        rows.append({"size": [height, width], "tile_px": tile, "planned_network_bytes": planned,
                     "image_bytes": height * width * 12, "measured_peak_bytes": peak,
                     "ratio": None if peak is None else peak / planned})
        print(rows[-1], flush=True)
    options.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
