"""Two logical devices on one card: tiles spread over both give the one device's loss and gradient.

On a GPU the card is split in two (``tf.config.set_logical_device_configuration``); with
``--small`` the CPU is, to check the script. Times one evaluation each way; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--small", action="store_true", help="64 px tiles on the CPU")
    parser.add_argument("--size", type=int, default=2048)
    options = parser.parse_args()
    kind = "CPU" if options.small else "GPU"
    device = tf.config.list_physical_devices(kind)[0]
    limit = None if options.small else 60 * 1024  # MiB each: two halves of an H200
    tf.config.set_logical_device_configuration(device, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)] * 2)
    names = [d.name for d in tf.config.list_logical_devices(kind)][:2]

    from core.backbones import load_backbone
    from core.objective import LossSpec
    from core.tiles import TiledObjective, plan_tiles
    from hires.bench import make_problem

    size = 128 if options.small else options.size
    backbone = load_backbone("tiny" if options.small else "vgg16-hed")
    spec = LossSpec()
    with tf.device(names[0]):
        problem = make_problem(backbone, spec, long_edge_px=size, stride=16)
        height, width = problem.shape
        plan = plan_tiles(height, width, tile_px=size // 2, backbone=backbone, layer_names=spec.layer_names)
        results = {}
        for label, strategy in (("one", None), ("two", tf.distribute.MirroredStrategy(names))):
            objective = TiledObjective(problem.extractor, spec, problem.targets, plan, strategy)
            total, gradient = objective.value_and_gradient(problem.content)
            seconds = []
            for _ in range(3):
                start = time.perf_counter()
                float(objective.value_and_gradient(problem.content)[0])
                seconds.append(time.perf_counter() - start)
            results[label] = (float(total), gradient.numpy(), statistics.median(seconds))
    (one, g1, s1), (two, g2, s2) = results["one"], results["two"]
    report = {"devices": names, "size": [height, width], "tiles": plan.tile_count,
              "loss_relative_difference": abs(two / one - 1),
              "gradient_relative_difference": float(abs(g2 - g1).max() / abs(g1).max()),
              "seconds_one_device": s1, "seconds_two_devices": s2, "ratio": s2 / s1}
    options.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
