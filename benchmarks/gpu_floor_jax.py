"""The GPU cost of hires' objective, measured with JAX where TensorFlow cannot run.

Why this exists: the GPU machines this project was lent have JAX and PyTorch but no
TensorFlow, and TensorFlow 2.21 with its CUDA 12 libraries (about 3 GB) cannot be carried
there. This script is not hires: it rebuilds the same objective (VGG16 up to block5_conv1 with
average pooling, content on block4_conv2, Gram matrices on block1_conv1 ... block5_conv1,
normalised as in core/losses.py) in JAX, and times its value and gradient compiled with XLA,
the compiler hires uses on whole rungs. Weights are random (He): the time and memory of a
convolution do not depend on its weights' values. The figures are a floor for hires on that
GPU, not hires' own: TensorFlow adds the L-BFGS loop's overhead around each evaluation.

    python3 benchmarks/gpu_floor_jax.py [--sizes 256,512,1024,2048,4096] [--json out.json]

For each size and precision ("float32": TF32 tensor cores, JAX's and TensorFlow's default on
Ampere and later; "bfloat16": the convolutions after the first in bfloat16, Gram matrices and
losses in float32, as hires --precision bfloat16): seconds per evaluation (median of warm
calls), GFLOP/s (FLOPs counted as hires/flops.py counts them) and the peak device memory; then
the largest 4:3 image one evaluation fits in, from XLA's memory analysis; then what the
`poster-4k` ladder's evaluations would take at 1.1 evaluations per iteration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

# VGG16's convolutions up to block5_conv1: (name, input channels, output channels).
LAYERS = [
    ("block1_conv1", 3, 64), ("block1_conv2", 64, 64),
    ("block2_conv1", 64, 128), ("block2_conv2", 128, 128),
    ("block3_conv1", 128, 256), ("block3_conv2", 256, 256), ("block3_conv3", 256, 256),
    ("block4_conv1", 256, 512), ("block4_conv2", 512, 512), ("block4_conv3", 512, 512),
    ("block5_conv1", 512, 512),
]
STYLE = [f"block{i}_conv1" for i in range(1, 6)]
CONTENT = "block4_conv2"
# configs/poster-4k.toml: (long edge, iterations).
POSTER_4K = [(256, 300), (512, 150), (1024, 100), (2048, 60), (4096, 40)]
EVALUATIONS_PER_ITERATION = 1.1  # hires' L-BFGS with its first-step line search (README)


def make_weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, np.sqrt(2 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32),
             np.zeros(cout, np.float32)) for _, cin, cout in LAYERS]


def features(weights, image, precision):
    """``image (1, H, W, 3)`` float32 -> {layer: float32 features}, as core/backbones.py."""
    dtype = jnp.bfloat16 if precision == "bfloat16" else jnp.float32
    x = image * 255.0 - 120.0
    out, previous = {}, None
    for index, ((name, _, _), (kernel, bias)) in enumerate(zip(LAYERS, weights)):
        block = name.split("_")[0]
        if previous is not None and block != previous:  # 2x2 average pooling, "VALID"
            h, w = x.shape[1] // 2, x.shape[2] // 2
            x = x[:, : 2 * h, : 2 * w].reshape(1, h, 2, w, 2, x.shape[3]).mean(axis=(2, 4))
        here = jnp.float32 if index == 0 else dtype  # the first layer stays float32, as in hires
        x = jax.lax.conv_general_dilated(x.astype(here), kernel.astype(here), (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        x = jax.nn.relu(x + bias.astype(here))
        if name in STYLE or name == CONTENT:
            out[name] = x.astype(jnp.float32)
        previous = block
    return out


def gram(f):
    flat = f.reshape(-1, f.shape[-1])
    return flat.T @ flat / flat.shape[0]


def objective(image, weights, content_target, grams, precision):
    f = features(weights, image, precision)
    c = jnp.mean((f[CONTENT] - content_target) ** 2) / jnp.mean(content_target ** 2)
    s = sum(jnp.sum((gram(f[n]) - grams[n]) ** 2) / jnp.sum(grams[n] ** 2) for n in STYLE) / len(STYLE)
    return c + 10.0 * s


def make_step(precision):
    """``(image, weights, content target, grams) -> (loss, gradient)``, compiled by XLA."""
    return jax.jit(jax.value_and_grad(lambda *args: objective(*args, precision)))


def targets(weights, content, style, precision):
    style_features = features(weights, style, precision)
    return features(weights, content, precision)[CONTENT], {n: gram(style_features[n]) for n in STYLE}


def shape_of(long_edge):
    return long_edge * 3 // 4 // 16 * 16, long_edge // 16 * 16


def flops(height, width):
    """As hires/flops.py: convolutions 3 passes, Grams 2 passes."""
    conv = gram_flops = 0
    previous = None
    for name, cin, cout in LAYERS:
        block = name.split("_")[0]
        if previous is not None and block != previous:
            height, width = height // 2, width // 2
        conv += 2 * height * width * cin * cout * 9
        if name in STYLE:
            gram_flops += 2 * height * width * cout * cout
        previous = block
    return 3 * conv + 2 * gram_flops


def images(height, width, seed):
    rng = np.random.default_rng(seed)
    smooth = jax.image.resize(jnp.asarray(rng.uniform(size=(1, height // 8, width // 8, 3)), jnp.float32),
                              (1, height, width, 3), "bicubic")
    return [jnp.clip(smooth + 0.1 * jnp.asarray(rng.normal(size=(1, height, width, 3)), jnp.float32), 0, 1)
            for _ in range(3)]


def time_size(weights, long_edge, precision, repeats):
    height, width = shape_of(long_edge)
    content, style, image = images(height, width, long_edge)
    content_target, grams = jax.jit(targets, static_argnums=3)(weights, content, style, precision)
    step = make_step(precision)
    arguments = (image, weights, content_target, grams)
    clock = time.perf_counter()
    value, grad = step(*arguments)
    grad.block_until_ready()
    first = time.perf_counter() - clock
    times = []
    for _ in range(repeats):
        clock = time.perf_counter()
        value, grad = step(*arguments)
        grad.block_until_ready()
        times.append(time.perf_counter() - clock)
    seconds = statistics.median(times)
    return {"long_edge_px": long_edge, "width_px": width, "height_px": height, "precision": precision,
            "first_call_s": round(first, 3), "seconds_per_evaluation": seconds,
            "gflop_per_second": flops(height, width) / seconds / 1e9, "loss": float(value),
            "finite_gradient": bool(jnp.all(jnp.isfinite(grad))),
            "xla_gib": xla_bytes(step, arguments) / 2**30}


def xla_bytes(step, arguments):
    """XLA's own account of one evaluation's memory: arguments, outputs and temporaries."""
    analysis = step.lower(*arguments).compile().memory_analysis()
    return analysis.temp_size_in_bytes + analysis.argument_size_in_bytes + analysis.output_size_in_bytes


def fits(weights, long_edge, precision, limit_bytes):
    """Whether one evaluation at this size fits the device, from XLA's analysis (compiled, not run)."""
    height, width = shape_of(long_edge)
    arguments = (jax.ShapeDtypeStruct((1, height, width, 3), jnp.float32), weights,
                 jax.ShapeDtypeStruct((1, height // 8, width // 8, 512), jnp.float32),
                 {n: jax.ShapeDtypeStruct((c, c), jnp.float32) for n, _, c in LAYERS if n in STYLE})
    need = xla_bytes(make_step(precision), arguments)
    return need, need <= limit_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="256,512,1024,2048,4096")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--largest", default="4096,5120,6144,7168,8192,10240,12288")
    parser.add_argument("--json")
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"device: {device.device_kind} ({device.platform}), JAX {jax.__version__}", flush=True)
    weights = jax.device_put(make_weights())
    rows = []
    for precision in args.precisions.split(","):
        for size in [int(s) for s in args.sizes.split(",")]:
            try:
                rows.append(time_size(weights, size, precision, args.repeats))
            except Exception as exc:  # out of memory at the largest sizes: say so and go on
                rows.append({"long_edge_px": size, "precision": precision, "error": str(exc).splitlines()[0][:200]})
            print(json.dumps(rows[-1]), flush=True)
    limit = (device.memory_stats() or {}).get("bytes_limit", 0)
    largest = []
    for precision in args.precisions.split(","):
        for size in [int(s) for s in args.largest.split(",") if s]:
            try:
                need, ok = fits(weights, size, precision, limit)
            except Exception as exc:
                largest.append({"precision": precision, "long_edge_px": size, "error": str(exc).splitlines()[0][:200]})
                break
            largest.append({"precision": precision, "long_edge_px": size, "need_gib": need / 2**30, "fits": ok})
            print(json.dumps(largest[-1]), flush=True)
            if not ok:
                break
    ladder = {}
    for precision in args.precisions.split(","):
        per_size = {r["long_edge_px"]: r["seconds_per_evaluation"] for r in rows
                    if r.get("precision") == precision and "seconds_per_evaluation" in r}
        if all(edge in per_size for edge, _ in POSTER_4K):
            ladder[precision] = sum(EVALUATIONS_PER_ITERATION * its * per_size[edge] for edge, its in POSTER_4K)
    report = {"device": device.device_kind, "jax": jax.__version__, "memory_limit_gib": limit / 2**30,
              "sizes": rows, "largest": largest, "poster_4k_evaluations_seconds": ladder}
    print("\nsize  precision  s/eval  GFLOP/s  XLA GiB")
    for r in rows:
        if "error" in r:
            print(f"{r['long_edge_px']:5d} {r['precision']:9s} error: {r['error']}")
        else:
            print(f"{r['long_edge_px']:5d} {r['precision']:9s} {r['seconds_per_evaluation']:.4f} "
                  f"{r['gflop_per_second']:8.0f} {r['xla_gib']:6.1f}")
    print("largest:", [(x["precision"], x["long_edge_px"], round(x.get("need_gib", -1), 1), x.get("fits")) for x in largest])
    print("poster-4k evaluations (s):", {k: round(v, 1) for k, v in ladder.items()})
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(report, stream, indent=2)


if __name__ == "__main__":
    main()
