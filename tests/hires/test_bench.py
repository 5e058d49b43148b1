"""The benchmarks run and report sane fields (never a speed threshold).

The ladder benchmark's curves; ``hires bench`` on the tiny network at 32 and 64 px, its FLOP
count against a hand count, its nominal peaks, its table, and the tiled comparison's fallbacks.
"""

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from core.objective import LossSpec
from hires import bench
from hires.bench import Curve, compare_ladder_to_single
from hires.cli import app
from hires.config import default_settings
from hires.flops import count_flops
from hires.ladder import Rung
from tests.conftest import noise_image, save_png, smooth_image

runner = CliRunner()
PAPER_STYLE = [f"block{i}_conv1" for i in range(1, 6)]


def test_ladder_benchmark_reports_two_curves(tmp_path):
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    settings = replace(default_settings(), backbone="tiny", chunk_iterations=2)
    single, ladder = compare_ladder_to_single(
        content, style, settings=settings, ladder_rungs=(Rung(32, 4), Rung(64, 4)), single_iterations=4,
        folder=tmp_path)
    for curve in (single, ladder):
        assert len(curve.seconds) == len(curve.losses) == 2
        assert all(b >= a for a, b in zip(curve.seconds, curve.seconds[1:]))
        assert all(loss > 0 for loss in curve.losses)
    assert ladder.seconds[0] > 0  # timed from the start of the ladder's first rung
    # Both pictures scored at the ladder's first size: the ladder's finished there, so it is the
    # lower of the two on that measure, a loss of the same objective the first rung minimised.
    assert 0 < ladder.coarse_loss < single.coarse_loss
    assert all(0 < curve.cpu_share <= 1.05 for curve in (single, ladder))  # a share, with timer slack
    # Judged on other layers, at the cost each spent: evaluations times megapixels of every rung.
    assert all(curve.quality.style > 0 and curve.quality.layout > 0 and curve.quality.content > 0
               for curve in (single, ladder))
    assert single.cost == pytest.approx(64 * 48 * (4 + 1) / 1e6, rel=0.5)  # about one evaluation an iteration
    assert ladder.cost > single.cost * 32 * 16 / (64 * 48)  # its small rung counts too


def test_losses_at_size_are_the_objective_of_a_rung_that_size(tmp_path):
    # Square, so that the photograph and the painting resize to the same 32 x 32 pixels.
    photo = save_png(tmp_path / "c.png", smooth_image(64, 64, 0))
    other = save_png(tmp_path / "n.png", noise_image(64, 64, 7))
    settings = replace(default_settings(), backbone="tiny")
    # With the photograph as its own painting, the photograph meets both targets exactly.
    at_itself, at_other = bench.losses_at_size(photo, photo, [photo, other], settings, 32)
    assert at_itself == 0.0 and at_other > 0.0
    # Against a painting, the score depends on the size it is taken at.
    (at_32,) = bench.losses_at_size(photo, other, [photo], settings, 32)
    assert at_32 > 0.0 and bench.losses_at_size(photo, other, [photo], settings, 64)[0] != at_32


def test_best_time_ratio_takes_the_reading_the_ladder_beat_most():
    single = Curve("single", (10.0, 20.0, 40.0), (5.0, 3.0, 2.0))
    ladder = Curve("ladder", (15.0, 25.0, 35.0), (4.0, 2.5, 1.9))
    # the ladder reached 5 at 15 s (1.5x), 3 at 25 s (1.25x), 2 at 35 s (0.875x)
    assert bench.best_time_ratio(single, ladder) == (35.0 / 40.0, 40.0, 2.0)
    assert bench.best_time_ratio(single, Curve("ladder", (1.0,), (9.0,))) is None


def test_time_to_reach_finds_the_first_point_at_or_below():
    curve = Curve("x", (1.0, 2.0, 3.0), (5.0, 3.0, 2.0))
    assert curve.time_to_reach(3.0) == 2.0
    assert curve.time_to_reach(1.0) is None


# ---------------------------------------------------------------------------------------------
# `hires bench`: the objective's cost on this machine
# ---------------------------------------------------------------------------------------------


def _tiny_hand_count(height: int, width: int) -> int:
    """The tiny network's FLOPs per evaluation, written out layer by layer (content block4_conv2)."""
    # (positions, C_in, C_out, style layer?) for block1_conv1 ... block5_conv1: _TINY_BLOCKS,
    # the sides halved by each pool.
    h, w = height, width
    layers = [(h * w, 3, 8, True), (h * w, 8, 8, False),
              (h * w // 4, 8, 16, True), (h * w // 4, 16, 16, False),
              (h * w // 16, 16, 16, True), (h * w // 16, 16, 16, False),
              (h * w // 64, 16, 32, True), (h * w // 64, 32, 32, False),
              (h * w // 256, 32, 32, True)]
    convolutions = sum(2 * n * c_in * c_out * 9 for n, c_in, c_out, _ in layers)
    grams = sum(2 * n * c_out * c_out for n, _, c_out, style in layers if style)
    return 2 * convolutions + 3 * grams  # forward + input gradient; Gram forward + both operands


def test_flops_of_the_tiny_network_match_a_hand_count(tiny):
    names = LossSpec().layer_names
    count = count_flops(tiny, layer_names=names, style_layer_names=PAPER_STYLE, height_px=32, width_px=32)
    assert count.layers == 9  # up to block5_conv1, the deepest layer the loss uses
    assert count.evaluation == _tiny_hand_count(32, 32) == 10_002_432
    assert count_flops(tiny, layer_names=names, style_layer_names=PAPER_STYLE,
                       height_px=64, width_px=48).evaluation == _tiny_hand_count(64, 48)


def test_flops_stop_at_the_deepest_layer_and_scale_with_pixels(tiny):
    shallow = count_flops(tiny, layer_names=["block1_conv1"], style_layer_names=["block1_conv1"],
                          height_px=32, width_px=32)
    assert shallow.layers == 1
    assert shallow.convolution_forward == 2 * 32 * 32 * 3 * 8 * 9
    assert shallow.gram_forward == 2 * 32 * 32 * 8 * 8
    names = LossSpec().layer_names
    small, large = (count_flops(tiny, layer_names=names, style_layer_names=PAPER_STYLE,
                                height_px=side, width_px=side).evaluation for side in (64, 128))
    assert large == 4 * small  # sides that are stride multiples: exactly proportional to pixels


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory):
    """One `hires bench --json` on the tiny network at 32 and 64 px (32x32 and 64x48)."""
    copy = tmp_path_factory.mktemp("bench") / "bench.json"
    result = runner.invoke(app, ["bench", "--backbone", "tiny", "--sizes", "32,64", "--iterations", "20",
                                 "--repeats", "2", "--json", "--json-file", str(copy)])
    assert result.exit_code == 0, result.output
    assert "bench: 32 px (32x32)" in result.stderr  # progress goes to stderr, the document to stdout
    document = json.loads(result.stdout)
    assert json.loads(copy.read_text()) == document
    return document


def test_bench_times_each_size(bench_json):
    sizes = bench_json["sizes"]
    assert [(s["long_edge_px"], s["width_px"], s["height_px"]) for s in sizes] == [(32, 32, 32), (64, 64, 48)]
    for s in sizes:
        assert s["first_call_seconds"] > 0 and len(s["runs_seconds"]) == 2
        assert all(seconds > 0 for seconds in s["runs_seconds"])
        assert s["seconds_per_evaluation"] == pytest.approx(sum(s["runs_seconds"]) / 2)  # median of 2
        assert s["megapixel_evaluations_per_second"] == pytest.approx(
            s["megapixels"] / s["seconds_per_evaluation"])
        assert s["flops_per_evaluation"] == _tiny_hand_count(s["height_px"], s["width_px"])
        assert s["gflops_per_second"] == pytest.approx(s["flops_per_evaluation"] / s["seconds_per_evaluation"] / 1e9)
    assert sizes[1]["flops_per_evaluation"] == 3 * sizes[0]["flops_per_evaluation"]  # 3x the pixels
    assert bench_json["backbone"] == "tiny" and bench_json["machine"]["logical_cpus"] >= 1
    assert bench_json["schema"] == "hires-bench/2" and bench_json["xla"] is False
    if bench_json["load_average"] is not None:
        assert len(bench_json["load_average"]) == 2 and min(bench_json["load_average"]) >= 0


def test_bench_measures_lbfgs_loop_eager_and_compiled_and_keeps_the_rate(bench_json):
    loop = bench_json["loop"]
    assert loop["long_edge_px"] == 32 and loop["iterations"] == 20 and loop["chunk_iterations"] == 10
    assert loop["seconds_per_evaluation"] == bench_json["sizes"][0]["seconds_per_evaluation"]
    assert bench_json["lbfgs_overhead_per_iteration_seconds"] == loop["compiled_overhead_per_iteration_seconds"]
    assert loop["eager_evaluations_per_iteration"] >= 1 and loop["compiled_evaluations_per_iteration"] >= 1
    assert loop["compile_seconds"] >= 0
    from hires import speed

    kept = speed.machine_rate(speed.machine_key("tiny", "float32", False, "CPU"), kind="CPU", devices=1)
    assert kept.measured  # --plan estimates from it now
    assert [p for p, _ in kept.points] == [32 * 32, 64 * 48]


def test_bench_reports_no_peak_fraction_on_a_cpu(bench_json):
    if bench_json["machine"]["gpus"]:
        pytest.skip("TensorFlow sees a GPU here")
    assert bench_json["device"] == "CPU"
    assert bench_json["peak"]["tflops"] is None and "CPU" in bench_json["peak"]["reason"]
    assert all(s["peak_fraction"] is None for s in bench_json["sizes"])


def test_bench_compares_lbfgs_and_adam_at_equal_evaluations(bench_json):
    o = bench_json["lbfgs_vs_adam"]
    assert o["long_edge_px"] == 32 and o["lbfgs_iterations"] == 20
    assert o["evaluations_per_iteration"] >= 1
    assert o["evaluations_per_iteration"] == pytest.approx(o["lbfgs_evaluations"] / o["lbfgs_iterations"])
    assert o["adam_steps"] == o["adam_evaluations"] == o["lbfgs_evaluations"]
    assert o["adam_preset"] == "seed-report"
    assert 0 < o["lbfgs_total"] < o["initial_total"]
    assert o["adam_total"] > 0


def test_bench_compares_tiled_with_untiled(bench_json):
    t = bench_json["tiling"]
    assert t["long_edge_px"] == 64
    assert t["untiled_seconds_per_megapixel_evaluation"] == pytest.approx(
        bench_json["sizes"][1]["seconds_per_evaluation"] / bench_json["sizes"][1]["megapixels"])
    assert t["tile_px"] == 32 and t["tiles"] >= 2 and t["ratio"] > 0 and t["reason"] is None


def _problem(tiny):
    spec = LossSpec()
    return bench.make_problem(tiny, spec, long_edge_px=32, stride=16)


def _untiled(problem) -> bench.EvaluationTiming:
    return bench.EvaluationTiming(32, 32, 32, problem.megapixels, 1.0, (0.5,), 0.5, 0.002, 10, 20.0, None)


def test_tiling_is_null_with_a_reason_when_the_size_is_one_tile(tiny):
    problem = _problem(tiny)  # 32 px: half the long edge is one stride, below the smallest tile
    result = bench.compare_tiling(problem, tiny, _untiled(problem), stride=16, repeats=1)
    assert result.ratio is None and result.tiles == 1 and result.reason == "too small to cut into tiles"
    assert result.untiled_seconds_per_megapixel_evaluation == pytest.approx(0.5 / problem.megapixels)


@pytest.mark.parametrize("gpu, tf32, expected", [
    ("NVIDIA H100 80GB HBM3", False, (67.0, "fp32")),
    ("NVIDIA H100 80GB HBM3", True, (494.7, "tf32")),
    ("NVIDIA H100 PCIe", False, (51.2, "fp32")),
    ("NVIDIA H200", False, (67.0, "fp32")),
    ("NVIDIA A100-SXM4-40GB", True, (156.0, "tf32")),
    ("Tesla T4", True, (8.1, "fp32")),  # no TF32 tensor cores: fp32 whatever TensorFlow allows
])
def test_nominal_peaks_by_gpu_name(gpu, tf32, expected):
    peak = bench.find_peak(bench.Machine("x", 2, 2, (gpu,), "2.21", tf32))
    assert (peak.tflops, peak.precision) == expected
    assert peak.source.startswith("nominal") and peak.reason is None


def test_bfloat16_peak_is_twice_tf32_where_the_gpu_has_bfloat16_tensor_cores():
    h100 = bench.find_peak(bench.Machine("x", 2, 2, ("NVIDIA H100 80GB HBM3",), "2.21", True), "bfloat16")
    assert (h100.tflops, h100.precision) == (989.4, "bf16")
    t4 = bench.find_peak(bench.Machine("x", 2, 2, ("Tesla T4",), "2.21", True), "bfloat16")
    assert t4.tflops is None and "no bfloat16" in t4.reason


def test_no_peak_for_an_unknown_gpu_or_a_cpu():
    unknown = bench.find_peak(bench.Machine("x", 2, 2, ("Some Future GPU",), "2.21", True))
    assert unknown.tflops is None and "Some Future GPU" in unknown.reason
    assert bench.find_peak(bench.Machine("x", 2, 2, ("NVIDIA L40S",), "2.21", True)).tflops is None  # not an L4
    assert bench.find_peak(bench.Machine("x", 2, 2, (), "2.21", True)).reason == bench.CPU_PEAK_REASON


def _report(tiling: bench.TilingComparison) -> bench.BenchReport:
    machine = bench.Machine("Test CPU", 2, 2, (), "2.21", True)
    timing = bench.EvaluationTiming(256, 192, 256, 0.049152, 3.0, (0.5, 0.7), 0.6, 0.08192, 10**10, 16.7, None)
    optimizers = bench.OptimizerComparison(256, 192, 256, 5.0, 20, 22, 1.1, 0.5, 12.0, "seed-report",
                                           22, 22, 0.9, 11.0)
    loop = bench.LoopOverhead(256, 100, 10, 0.6, 0.0312, 0.0021, 5.5, 1.1, 1.1)
    return bench.BenchReport(machine, "tiny", "backbone: tiny", "CPU", False, bench.find_peak(machine),
                             (timing,), optimizers, tiling, loop, (3.9, 3.7))


def test_the_table_prints_every_measurement(monkeypatch, capsys):
    from hires import cli

    monkeypatch.setenv("COLUMNS", "200")  # rich's width when stdout is not a terminal
    tiling = bench.TilingComparison(256, 192, 256, 12.2, 128, 4, 2.0, 15.0, 1.23, None)
    cli._print_bench(_report(tiling))
    text = capsys.readouterr().out
    assert "machine: Test CPU, 2 logical CPUs (2 usable), no GPU; TensorFlow 2.21" in text
    assert "load average 3.9 before the run, 3.7 after it (the minute before it was busy" in text
    assert "256x192" in text and "0.600" in text and "16.7" in text
    assert "peak: unknown (no dependable peak for a CPU" in text
    assert "L-BFGS: 20 iterations, 22 evaluations (1.10 per iteration): loss 0.5" in text
    assert "Adam (seed-report): 22 steps, 22 evaluations: loss 0.9" in text
    assert "4 tiles of 128 px" in text and "1.23x" in text
    assert "31.2 ms an iteration eager, 2.1 ms compiled (compiled once in 5.5 s)" in text


def test_the_table_says_why_tiling_was_not_measured(monkeypatch, capsys):
    from hires import cli

    monkeypatch.setenv("COLUMNS", "200")
    tiling = bench.TilingComparison(256, 192, 256, 12.2, reason="core.tiles does not import: boom")
    cli._print_bench(_report(tiling))
    assert "not measured (core.tiles does not import: boom)" in capsys.readouterr().out


@pytest.mark.parametrize("sizes", ["12", "256,abc", "", "100000"])
def test_bench_refuses_bad_sizes_with_one_error_line(sizes):
    result = runner.invoke(app, ["bench", "--backbone", "tiny", "--sizes", sizes])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --sizes") and len(result.stderr.splitlines()) == 1


def test_bench_ladder_still_runs_as_a_subcommand(tmp_path):
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    result = runner.invoke(app, ["bench", "ladder", str(content), str(style), "--size", "64", "--backbone", "tiny",
                                 "--single-iterations", "2", "--first-iterations", "2", "--top-iterations", "2"])
    assert result.exit_code == 0, result.output
    assert "ladder 64 px vs one 64 px rung" in result.stdout
    assert "bench: " not in result.stderr  # the measurement did not run as well


def test_bench_ladder_takes_its_rungs_from_the_command_line(tmp_path):
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    base = ["bench", "ladder", str(content), str(style), "--backbone", "tiny", "--single-iterations", "2"]
    result = runner.invoke(app, base + ["--ladder", "32:2,48:2,64:2", "--chunk-iterations", "1",
                                        "--json", str(tmp_path / "curves.json")])
    assert result.exit_code == 0, result.output
    assert "ladder 32 -> 48 -> 64 px vs one 64 px rung" in result.stdout
    assert "both pictures shrunk to 32 px" in result.stdout
    data = json.loads((tmp_path / "curves.json").read_text())
    assert len(data["single"]["losses"]) == 2 and data["ladder"]["loss_at_first_size"] > 0
    assert data["single"]["cpu_share"] > 0 and "of the CPUs' time" in result.stdout
    broken = runner.invoke(app, base + ["--ladder", "64:2,32:2"])
    assert broken.exit_code == 2 and "--ladder" in broken.output
    for option, value in (("--chunk-iterations", "0"), ("--single-iterations", "0")):
        refused = runner.invoke(app, base + ["--ladder", "32:2,64:2", option, value])  # 0 chunks: it would spin
        assert refused.exit_code == 2 and "must be 1 or more" in refused.output, refused.output


def test_bench_in_mixed_precision_says_so():
    result = runner.invoke(app, ["bench", "--backbone", "tiny", "--sizes", "32", "--iterations", "2",
                                 "--repeats", "1", "--json", "--precision", "bfloat16"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["precision"] == "bfloat16"
    assert document["sizes"][0]["seconds_per_evaluation"] > 0


def test_bench_ladder_keeps_its_pictures_only_where_none_would_be_overwritten(tmp_path):
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    args = ["bench", "ladder", str(content), str(style), "--backbone", "tiny", "--single-iterations", "2",
            "--ladder", "32:2,64:2", "--pictures", str(tmp_path / "kept")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "kept").iterdir()}
    assert set(kept) == {"single.png", "ladder.png"}
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "single.png" in again.stderr and "exists" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "kept").iterdir()} == kept


@pytest.mark.parametrize("args, complaint", [
    (["ladder", "C", "S", "--size", "64", "--top-iterations", "0"], "--top-iterations must be 1 or more"),
    (["ladder", "C", "S", "--size", "64", "--json", "NOWHERE/c.json"], "--json"),
    (["--sizes", "32", "--json-file", "NOWHERE/r.json"], "--json-file"),
    (["--sizes", "nonsense", "ladder", "C", "S"], "--sizes belong to hires bench's own timing"),
])
def test_bench_refuses_before_measuring_what_it_could_not_use_after(tmp_path, args, complaint):
    """Each of these used to run the whole measurement first, or to be silently ignored."""
    content = save_png(tmp_path / "c.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "s.png", noise_image(40, 40, 1))
    names = {"C": str(content), "S": str(style)}
    args = [names.get(a, a.replace("NOWHERE", str(tmp_path / "no-such-folder"))) for a in args]
    result = runner.invoke(app, ["bench", "--backbone", "tiny", *args] if args[0] != "ladder"
                           else ["bench", *args, "--backbone", "tiny", "--single-iterations", "2"])
    assert result.exit_code == 2, result.output
    assert complaint in result.stderr and "bench: " not in result.stderr and result.stdout == ""


def test_bench_ladder_starts_afresh_over_a_leftover_state_folder(tmp_path):
    """An interrupted bench leaves single.state/ in --pictures; a rerun must time from scratch, not resume."""
    from hires import bench as bench_module

    calls = []
    monkey = pytest.MonkeyPatch()
    monkey.setattr(bench_module, "render", lambda job, reporter, **options: calls.append(options))
    try:
        bench_module._run_curve("single", object(), 0)
    except Exception:
        pass  # the fake render draws no curve
    finally:
        monkey.undo()
    assert calls == [{"restart": True}]
