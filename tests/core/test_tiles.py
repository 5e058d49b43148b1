"""Tiled equals untiled: plans, targets, loss and gradient, one device and two."""

import json
from dataclasses import replace
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.backbones import receptive_field
from core.errors import CoreError
from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function
from core.tiles import TiledObjective, compute_targets_tiled, plan_tiles, tile_geometry
from tests.conftest import noise_image, smooth_image

# Several style layers down to conv5_1 (the deepest, widest receptive field), a content layer
# in between, and a little total variation: every term of the objective is active.
SPEC = LossSpec(
    content_layer="block4_conv2",
    style_layers=(("block1_conv1", 1.0), ("block2_conv1", 0.5), ("block3_conv1", 1.0), ("block5_conv1", 2.0)),
    tv_weight=0.01,
)
TOLERANCE = 1e-4
BORDER_PX = 4  # pixels either side of a core edge that count as "along a tile border"


def _problem(backbone, height, width):
    """Extractor, targets and an image that strays outside [0, 1] (so the range term is active)."""
    extractor = make_extractor(backbone, SPEC)
    content = tf.constant(smooth_image(height, width, 3))
    style = tf.constant(smooth_image(40, 56, 4))
    targets = compute_targets(extractor, SPEC, content, [style])
    image = tf.constant(1.2 * smooth_image(height, width, 5) - 0.1 + 0.1 * noise_image(height, width))
    return extractor, targets, image


def _whole(extractor, targets, image):
    """``(terms, gradient of total)`` of the untiled objective."""
    with tf.GradientTape() as tape:
        tape.watch(image)
        terms = make_loss_function(extractor, SPEC, targets)(image)
    return terms.as_floats(), tape.gradient(terms.total, image).numpy()


def _border_mask(plan):
    """True for pixels within BORDER_PX of an edge between two cores."""
    mask = np.zeros((plan.height_px, plan.width_px), bool)
    for tile in plan.tiles:
        if tile.core.top > 0:
            mask[tile.core.top - BORDER_PX:tile.core.top + BORDER_PX, :] = True
        if tile.core.left > 0:
            mask[:, tile.core.left - BORDER_PX:tile.core.left + BORDER_PX] = True
    return mask


def _errors(backbone, height, width, tile_px, margin_px=None):
    """Relative errors of the tiled total and gradient (everywhere, and along tile borders)."""
    extractor, targets, image = _problem(backbone, height, width)
    plan = plan_tiles(height, width, tile_px=tile_px, backbone=backbone, layer_names=SPEC.layer_names,
                      margin_px=margin_px)
    terms, gradient = _whole(extractor, targets, image)
    total, tiled_gradient = TiledObjective(extractor, SPEC, targets, plan).value_and_gradient(image)
    scale = np.abs(gradient).max()
    difference = np.abs(tiled_gradient.numpy() - gradient)[0].max(axis=-1)
    border = difference[_border_mask(plan)].max() / scale if plan.tile_count > 1 else 0.0
    return abs(float(total) / terms.total - 1), difference.max() / scale, border, plan


def test_margin_is_the_deepest_reach_rounded_up_to_the_stride(tiny):
    size, stride = receptive_field(tiny, "block5_conv1")
    assert (size, stride) == (108, 16)
    assert tile_geometry(tiny, SPEC.layer_names)[:2] == (16, 48)  # reach 46, rounded up to 48
    assert tile_geometry(tiny, ["block4_conv2"])[:2] == (8, 32)  # (68 - 8) / 2 = 30 -> 32
    assert tile_geometry(tiny, ["block1_conv1"])[:2] == (1, 1)


@pytest.mark.parametrize("height, width, tile_px", [(64, 96, 32), (72, 100, 32), (16, 48, 64)])
def test_cores_partition_the_image_and_crops_hold_them(tiny, height, width, tile_px):
    plan = plan_tiles(height, width, tile_px=tile_px, backbone=tiny, layer_names=SPEC.layer_names)
    owners = np.zeros((height, width), int)
    for tile in plan.tiles:
        core, crop = tile.core, tile.crop
        owners[core.slices()] += 1
        assert core.top % plan.stride_px == 0 and core.left % plan.stride_px == 0
        assert crop.top == max(0, core.top - plan.margin_px) and crop.left == max(0, core.left - plan.margin_px)
        assert crop.bottom == min(height, core.bottom + plan.margin_px)
        assert crop.right == min(width, core.right + plan.margin_px)
    assert (owners == 1).all()
    assert plan.tile_count == plan.rows * plan.columns
    for name, _ in SPEC.style_layers:  # owned features partition each feature map too
        assert sum(plan.owned_in_image(t, name).height * plan.owned_in_image(t, name).width
                   for t in plan.tiles) == np.prod(plan.feature_shape(name))


def test_owned_window_is_the_core_in_feature_units(tiny):
    plan = plan_tiles(64, 96, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
    tile = plan.tiles[4]  # row 1, column 1: core at (32, 32), crop from (0, 0)
    assert (tile.core.top, tile.core.left, tile.crop.top, tile.crop.left) == (32, 32, 0, 0)
    window = plan.owned_in_crop(tile, "block3_conv1")  # stride 4
    assert (window.top, window.left, window.height, window.width) == (8, 8, 8, 8)


def test_bad_tile_sizes_are_refused(tiny):
    with pytest.raises(CoreError, match="multiples of the network's stride, 16 px"):
        plan_tiles(64, 64, tile_px=40, backbone=tiny, layer_names=SPEC.layer_names)
    with pytest.raises(CoreError, match="smaller than the network's stride"):
        plan_tiles(8, 64, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
    with pytest.raises(CoreError, match="no layer"):
        plan_tiles(64, 64, tile_px=32, backbone=tiny, layer_names=["block9_conv1"])


@pytest.mark.parametrize(
    "height, width, tile_px",
    [
        (64, 96, 32),  # 2x3 full tiles
        (64, 96, 48),  # 2x2, ragged last row and column
        (64, 96, 96),  # a single tile
        (32, 96, 32),  # 1x3
        (72, 100, 32),  # sides not multiples of the stride: the last cores take the remainder
    ],
)
def test_tiled_loss_and_gradient_equal_the_whole_image(tiny, height, width, tile_px):
    value, gradient, border, _ = _errors(tiny, height, width, tile_px)
    assert value < TOLERANCE and gradient < TOLERANCE and border < TOLERANCE, (value, gradient, border)


def test_one_stride_less_margin_is_not_exact(tiny):
    stride, margin, _ = tile_geometry(tiny, SPEC.layer_names)
    value, gradient, border, _ = _errors(tiny, 64, 96, 32, margin_px=margin - stride)
    assert value > TOLERANCE and border > 10 * TOLERANCE, (value, border)


def test_terms_equal_the_whole_image_and_traces_stay_fixed(tiny):
    extractor, targets, image = _problem(tiny, 64, 96)
    plan = plan_tiles(64, 96, tile_px=16, backbone=tiny, layer_names=SPEC.layer_names)
    objective = TiledObjective(extractor, SPEC, targets, plan)
    expected, _ = _whole(extractor, targets, image)
    assert expected.range > 0 and expected.tv > 0
    for _ in range(2):
        objective.value_and_gradient(image + 0.01)
    terms = objective.terms(image)
    for name, value in expected._asdict().items():
        assert abs(float(getattr(terms, name)) - value) <= TOLERANCE * abs(value), name
    # pass 1, pass 2 and the pixel terms: one trace each for 24 tiles and three calls
    assert plan.tile_count == 24 and objective.traces == 3
    # The terms of the image last evaluated are those its evaluation computed, not a new pass.
    total, _ = objective.value_and_gradient(image)
    calls = []
    objective._sums = lambda *args: calls.append(args)  # a pass 1 would fail here
    kept = objective.terms(tf.identity(image))
    assert not calls and float(kept.total) == float(total)
    for name, value in expected._asdict().items():
        assert abs(float(getattr(kept, name)) - value) <= TOLERANCE * abs(value), name


def test_tiled_targets_equal_compute_targets(tiny):
    extractor = make_extractor(tiny, SPEC)
    content = tf.constant(smooth_image(64, 96, 1))
    styles = [tf.constant(smooth_image(70, 90, 2)), tf.constant(noise_image(50, 41, 3))]  # any size
    plan = plan_tiles(64, 96, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
    expected = compute_targets(extractor, SPEC, content, styles, [1.0, 2.0])
    tiled = compute_targets_tiled(extractor, SPEC, plan, content, styles, [1.0, 2.0])
    # float32 convolutions of different sizes round differently: compare against the largest value
    content_scale = np.abs(expected.content.numpy()).max()
    np.testing.assert_allclose(tiled.content.numpy(), expected.content.numpy(), rtol=0, atol=1e-5 * content_scale)
    for name, gram in expected.grams.items():
        scale = np.abs(gram.numpy()).max()
        np.testing.assert_allclose(tiled.grams[name].numpy(), gram.numpy(), rtol=0, atol=TOLERANCE * scale)
    with pytest.raises(CoreError, match="blend"):
        compute_targets_tiled(extractor, SPEC, plan, content, styles, [1.0])


def test_objective_refuses_targets_of_another_size(tiny):
    extractor, targets, _ = _problem(tiny, 64, 96)
    plan = plan_tiles(64, 112, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
    with pytest.raises(CoreError, match="content target"):
        TiledObjective(extractor, SPEC, targets, plan)


_TWO_DEVICES = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from core.backbones import load_backbone
from core.tiles import TiledObjective, plan_tiles
from tests.core.test_tiles import SPEC, _problem, _whole
tiny = load_backbone("tiny")
extractor, targets, image = _problem(tiny, 80, 96)
plan = plan_tiles(80, 96, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)  # 9 tiles
terms, whole = _whole(extractor, targets, image)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
results = {}
for name, s in (("one", None), ("two", strategy)):
    objective = TiledObjective(extractor, SPEC, targets, plan, strategy=s)
    total, gradient = objective.value_and_gradient(image)
    results[name] = (float(total), gradient.numpy(), objective.traces, float(objective.terms(image).style))
scale = np.abs(whole).max()
print(json.dumps({
    "tiles": plan.tile_count, "replicas": strategy.num_replicas_in_sync, "whole": terms.total,
    "one": results["one"][0], "two": results["two"][0], "style_one": results["one"][3], "style_two": results["two"][3],
    "gradient_two_one": float(np.abs(results["two"][1] - results["one"][1]).max() / scale),
    "gradient_two_whole": float(np.abs(results["two"][1] - whole).max() / scale),
    "traces_two": results["two"][2],
}))
"""


def test_two_replicas_equal_one_device():
    """MirroredStrategy over two logical CPUs; devices must be set before TF starts, so a subprocess."""
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    run = subprocess.run([sys.executable, "-c", _TWO_DEVICES], cwd=root, env=environment,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    digest = json.loads(run.stdout.strip().splitlines()[-1])
    assert digest["tiles"] == 9 and digest["replicas"] == 2  # an odd count: the last group is padded
    assert abs(digest["two"] / digest["one"] - 1) < 1e-6
    assert abs(digest["two"] / digest["whole"] - 1) < TOLERANCE
    assert abs(digest["style_two"] / digest["style_one"] - 1) < 1e-6
    assert digest["gradient_two_one"] < 1e-6 and digest["gradient_two_whole"] < TOLERANCE
    assert digest["traces_two"] == 5  # passes 1 and 2 once per device, the pixel terms once


_WORKER = """
import json, os, sys
index, ports = int(sys.argv[1]), sys.argv[2].split(",")
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                      "task": {"type": "worker", "index": index}})
import numpy as np
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
from core.backbones import load_backbone
from core.tiles import TiledObjective, plan_tiles
from tests.core.test_tiles import SPEC, _problem, _whole
tiny = load_backbone("tiny")
extractor, targets, image = _problem(tiny, 64, 96)
plan = plan_tiles(64, 96, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
terms, whole = _whole(extractor, targets, image)
total, gradient = TiledObjective(extractor, SPEC, targets, plan, strategy=strategy).value_and_gradient(image)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": abs(float(total) / terms.total - 1),
                  "gradient": float(np.abs(gradient.numpy() - whole).max() / np.abs(whole).max())}))
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("localhost", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def test_two_workers_equal_the_whole_image():
    """MultiWorkerMirroredStrategy over two processes on this host, as TF_CONFIG would set up two hosts:
    each worker evaluates its own tiles, and both end with the whole image's loss and gradient."""
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    environment.pop("TF_CONFIG", None)
    ports = ",".join(str(port) for port in _free_ports(2))
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(i), ports], cwd=root, env=environment,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
        digest = json.loads(stdout.strip().splitlines()[-1])
        assert digest["replicas"] == 2
        assert digest["loss"] < TOLERANCE and digest["gradient"] < TOLERANCE, digest


@pytest.mark.real
def test_vgg16_tiled_equals_whole(hed):
    value, gradient, border, plan = _errors(hed, 96, 160, 64)  # 2x3, ragged last row and column
    assert plan.margin_px == 64  # conv5_1: field 132, stride 16: reach 58, rounded up to 64
    assert value < TOLERANCE and gradient < TOLERANCE and border < TOLERANCE, (value, gradient, border)


@pytest.mark.real
def test_vgg16_one_stride_less_margin_is_not_exact(hed):
    value, gradient, border, _ = _errors(hed, 96, 160, 64, margin_px=48)
    assert value > TOLERANCE and border > 10 * TOLERANCE, (value, border)


def _whole_image(extractor, spec, targets, image):
    with tf.GradientTape() as tape:
        tape.watch(image)
        total = make_loss_function(extractor, spec, targets)(image).total
    return float(total), tape.gradient(total, image).numpy()


def _relative_errors(found, reference):
    (total, gradient), (reference_total, reference_gradient) = found, reference
    return (abs(total / reference_total - 1),
            np.abs(gradient - reference_gradient).max() / np.abs(reference_gradient).max())


def test_mixed_precision_tiles_agree_with_the_whole_image(tiny):
    """In bfloat16, tiling adds no more error than bfloat16 itself makes on the whole image.

    The bound is bfloat16's own error, not a fixed figure: how the convolutions round depends on
    the CPU (oneDNN on a CPU with native bfloat16 picks per-shape kernels that round differently).
    """
    content, style, image = (tf.constant(smooth_image(64, 96, 3)), tf.constant(smooth_image(40, 56, 4)),
                             _problem(tiny, 64, 96)[2])
    found = {}
    for precision in ("float32", "bfloat16"):
        spec = replace(SPEC, precision=precision)
        extractor = make_extractor(tiny, spec)
        targets = compute_targets(extractor, spec, content, [style])
        plan = plan_tiles(64, 96, tile_px=32, backbone=tiny, layer_names=spec.layer_names)
        tiled_total, tiled_gradient = TiledObjective(extractor, spec, targets, plan).value_and_gradient(image)
        found[precision] = _whole_image(extractor, spec, targets, image)
        found[precision, "tiled"] = (float(tiled_total), tiled_gradient.numpy())
    rounding = _relative_errors(found["bfloat16"], found["float32"])
    tiling = _relative_errors(found["bfloat16", "tiled"], found["bfloat16"])
    assert tiling[0] <= rounding[0] and tiling[1] <= rounding[1], (tiling, rounding)


def test_a_bfloat16_content_target_costs_only_its_rounding(tiny):
    """What gives last when a poster would not fit: the content term within bfloat16's rounding."""
    extractor, targets, image = _problem(tiny, 64, 96)
    plan = plan_tiles(64, 96, tile_px=32, backbone=tiny, layer_names=SPEC.layer_names)
    exact = TiledObjective(extractor, SPEC, targets, plan)
    rounded = TiledObjective(extractor, SPEC, targets, plan, content_dtype=tf.bfloat16)
    exact_terms, rounded_terms = exact.terms(image), rounded.terms(image)
    assert float(rounded_terms.content) != float(exact_terms.content)
    assert abs(float(rounded_terms.content) / float(exact_terms.content) - 1) < 1e-2
    assert float(rounded_terms.style) == float(exact_terms.style)
    gradient, rounded_gradient = exact.value_and_gradient(image)[1], rounded.value_and_gradient(image)[1]
    assert np.abs(rounded_gradient - gradient).max() < 1e-2 * np.abs(gradient).max()
