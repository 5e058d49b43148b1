"""What XLA's compile costs a batch of same-size renders, with and without TensorFlow's
persistent compilation cache (``TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=DIR``).

A "job" here is what a render's rung builds: the extractor's targets for a new photograph and
painting of one shape, and a new whole-image objective compiled with XLA. For each mode (no
cache; a cache directory shared by the processes), two processes run one after the other, each
with ``--jobs`` jobs; for each job the first evaluation's time beyond a warm one is its
one-off (tracing and compiling, or loading the compiled program). Printed, and written as JSON.

    python benchmarks/xla_cache.py --backbone vgg16-hed --sizes 256,512 --jobs 2 --json x.json

TensorFlow keys its cache entries by the function's name as well as its program, so a second
process that traces the same functions in the same order finds them, while a second job in one
process (a new objective, a new function name) compiles again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_jobs(backbone_name: str, size: int, jobs: int) -> list[dict]:
    """In this process: ``jobs`` new objectives of one 4:3 shape, each timed cold and warm."""
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf
    from core.backbones import load_backbone
    from core.objective import (LossSpec, WholeImageObjective, compute_targets, make_extractor,
                                make_loss_function)

    backbone, spec = load_backbone(backbone_name), LossSpec()
    extractor = make_extractor(backbone, spec)
    height, width = size * 3 // 4 // 16 * 16, size
    results = []
    for job in range(jobs):
        photo = tf.random.stateless_uniform([1, height, width, 3], [job, 1])
        painting = tf.random.stateless_uniform([1, height, width, 3], [job, 2])
        targets = compute_targets(extractor, spec, photo, [painting])
        objective = WholeImageObjective(make_loss_function(extractor, spec, targets), jit_compile=True)
        cold = _seconds(lambda: objective.value_and_gradient(photo))
        warm = min(_seconds(lambda: objective.value_and_gradient(photo)) for _ in range(2))
        results.append({"job": job, "first_seconds": cold, "warm_seconds": warm,
                        "one_off_seconds": cold - warm})
    return results


def _seconds(call) -> float:
    start = time.perf_counter()
    value, gradient = call()
    float(value), gradient.numpy()  # wait for the device
    return time.perf_counter() - start


def child_process(options, cache: str | None) -> list[dict]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")  # the CPU loader warns about feature flags on every load
    if cache:
        env["TF_XLA_FLAGS"] = f"{env.get('TF_XLA_FLAGS', '')} --tf_xla_persistent_cache_directory={cache}".strip()
    command = [sys.executable, __file__, "--child", "--backbone", options.backbone,
               "--sizes", str(options.size), "--jobs", str(options.jobs)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vgg16-hed")
    parser.add_argument("--sizes", default="256,512", help="long edges, one 4:3 shape each")
    parser.add_argument("--jobs", type=int, default=2, help="jobs per process")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(run_jobs(options.backbone, int(options.sizes), options.jobs)))
        return
    runs = []
    for size in (int(part) for part in options.sizes.split(",")):
        options.size = size
        with tempfile.TemporaryDirectory() as cache_dir:
            for mode, cache in (("no cache", None), ("persistent cache", cache_dir)):
                for process in (1, 2):
                    for job in child_process(options, cache):
                        runs.append({"size": size, "mode": mode, "process": process, **job})
                        print(f"{size} px, {mode}, process {process}, job {job['job'] + 1}: "
                              f"one-off {job['one_off_seconds']:.2f} s (evaluation {job['warm_seconds']:.3f} s)",
                              flush=True)
    if options.json:
        options.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "backbone": options.backbone,
                                            "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
