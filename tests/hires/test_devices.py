"""Devices, their memory, TF_CONFIG, and renders spread over tiles and devices from the command line."""

import json
import re
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hires import images
from hires.cli import app
from hires.devices import find_devices, is_chief, make_strategy
from hires.errors import HiresError
from tests.conftest import noise_image, save_png, smooth_image

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_all_devices_on_a_machine_without_gpu_is_the_cpu():
    devices = find_devices("all")
    assert devices.names == ("/cpu:0",) and devices.kind == "CPU"
    assert devices.memory_bytes > 0 and 0 < devices.budget_bytes < devices.memory_bytes
    assert make_strategy(devices) is None


def test_memory_gb_replaces_what_the_machine_reports():
    devices = find_devices("cpu", memory_gb=80)
    assert devices.memory_bytes == 80 * 2**30 and devices.memory_source == "--memory-gb"
    assert "80.0 GiB" in devices.description


@pytest.mark.parametrize("spec, message", [
    ("gpu", "sees no GPU"),
    ("3", "no device '3'"),
    ("/cpu:0,/cpu:0", "each device once"),
])
def test_devices_this_machine_lacks_are_refused(spec, message):
    with pytest.raises(HiresError, match=message):
        find_devices(spec)


def test_memory_gb_must_be_positive():
    with pytest.raises(HiresError, match="more than 0"):
        find_devices("cpu", memory_gb=0)


def test_tf_config_names_the_workers_and_the_chief(monkeypatch):
    cluster = {"worker": ["host-a:12345", "host-b:12345"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert find_devices("cpu").workers == 2 and not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(HiresError, match="TF_CONFIG"):
        find_devices("cpu")


@pytest.mark.parametrize("config, problem", [
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}, "task index 2"),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}, "task type is 'chief'"),
    ({"cluster": {"worker": ["a:1"]}}, 'no "task"'),
    ({"cluster": {"worker": ["a:1"], "ps": ["c:1"]}, "task": {"type": "worker"}}, '"ps" tasks'),
    ({"cluster": {"worker": "a:1"}, "task": {"type": "worker"}}, "not a list"),
])
def test_a_tf_config_that_would_render_alone_and_write_nothing_is_refused(monkeypatch, config, problem):
    """Such a process was neither a worker of the cluster nor its chief: it rendered, exited 0, wrote nothing."""
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    with pytest.raises(HiresError, match=re.escape(problem)):
        is_chief()


def _inputs(folder: Path) -> tuple[Path, Path]:
    return (save_png(folder / "content.png", smooth_image(48, 64, seed=0)),
            save_png(folder / "style.png", noise_image(40, 40, seed=1)))


def _render(content, style, output, *options):
    args = ["render", str(content), str(style), "-o", str(output), "--backbone", "tiny", "--size", "64",
            "--iterations", "10", "-q", *options]
    return runner.invoke(app, args)


@pytest.mark.slow
def test_a_render_in_small_tiles_matches_the_untiled_render(tmp_path):
    content, style = _inputs(tmp_path)
    whole = _render(content, style, tmp_path / "whole.png")
    tiled = _render(content, style, tmp_path / "tiled.png", "--tile-px", "32")
    assert whole.exit_code == 0 and tiled.exit_code == 0, whole.output + tiled.output
    difference = np.abs(images.read_image(tmp_path / "whole.png") - images.read_image(tmp_path / "tiled.png"))
    assert difference.max() * 255 <= 4


def test_a_rung_too_large_for_the_memory_is_refused_before_it_starts(tmp_path):
    content, style = _inputs(tmp_path)
    result = _render(content, style, tmp_path / "out.png", "--memory-gb", "0.00001")
    assert result.exit_code == 2
    assert "rung 1: a 64x48 px rung needs" in result.output and "--memory-gb" in result.output
    assert not (tmp_path / "out.png").exists()


def test_plan_shows_the_tiles_a_small_memory_needs(tmp_path):
    content, style = _inputs(tmp_path)
    result = runner.invoke(app, ["render", "--plan", str(content), str(style), "-o", str(tmp_path / "o.png"),
                                 "--backbone", "tiny", "--size", "1024", "--memory-gb", "1.5"])
    assert result.exit_code == 0, result.output
    assert "tiles of" in result.output and "1.5 GiB each (--memory-gb)" in result.output


@pytest.mark.slow
def test_a_render_over_two_devices_matches_one_device(tmp_path):
    """Two logical CPUs, MirroredStrategy: the same picture as one device (run in a fresh process,
    since logical devices must be set before TensorFlow starts)."""
    content, style = _inputs(tmp_path)
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from typer.testing import CliRunner
        from hires.cli import app
        base = ["render", r"{content}", r"{style}", "--backbone", "tiny", "--size", "64", "--iterations", "6",
                "-q", "--tile-px", "32"]
        for name, devices in (("one", "/cpu:0"), ("two", "/cpu:0,/cpu:1")):
            result = CliRunner().invoke(app, base + ["-o", r"{tmp_path}/" + name + ".png", "--devices", devices])
            assert result.exit_code == 0, result.output
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = (images.read_image(tmp_path / f"{name}.png") for name in ("one", "two"))
    assert np.abs(one - two).max() * 255 <= 2


@pytest.mark.slow
def test_the_device_devices_names_does_the_work(tmp_path):
    """--devices /cpu:1 evaluates on CPU:1, not on TensorFlow's default device (a fresh process:
    logical devices must be set before TensorFlow starts)."""
    content, style = _inputs(tmp_path)
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from typer.testing import CliRunner
        from core.objective import WholeImageObjective
        from hires.cli import app
        seen = set()
        evaluate = WholeImageObjective.value_and_gradient
        def recording(self, image, **options):
            total, gradient = evaluate(self, image, **options)
            seen.add(gradient.device.split("/")[-1])
            return total, gradient
        WholeImageObjective.value_and_gradient = recording
        base = ["render", r"{content}", r"{style}", "--backbone", "tiny", "--size", "64", "--iterations", "3", "-q"]
        result = CliRunner().invoke(app, base + ["-o", r"{tmp_path}/one.png", "--devices", "/cpu:1"])
        assert result.exit_code == 0, result.output
        print(sorted(seen))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "['device:CPU:1']"


@pytest.mark.slow
def test_a_render_over_two_workers_matches_one_process(tmp_path):
    """TF_CONFIG with two workers on this host: the chief writes the picture of a one-process
    render; the other worker writes nothing."""
    content, style = _inputs(tmp_path)
    base = ["render", str(content), str(style), "--backbone", "tiny", "--size", "64", "--iterations", "6",
            "--tile-px", "32", "-q"]
    assert runner.invoke(app, base + ["-o", str(tmp_path / "single.png")]).exit_code == 0
    sockets = [socket.socket() for _ in range(2)]
    for each in sockets:
        each.bind(("localhost", 0))
    cluster = {"worker": [f"localhost:{each.getsockname()[1]}" for each in sockets]}
    for each in sockets:
        each.close()
    (tmp_path / "multi").mkdir()
    workers = []
    for index in (1, 0):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
                       "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        command = [sys.executable, "-m", "hires", *base, "-o", str(tmp_path / "multi" / "out.png")]
        workers.append(subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    assert "the chief writes" in outputs[0][0]
    assert sorted(p.name for p in (tmp_path / "multi").iterdir()) == ["out.contact.png", "out.png", "out.rungs"]
    difference = images.read_image(tmp_path / "single.png") - images.read_image(tmp_path / "multi" / "out.png")
    assert np.abs(difference).max() * 255 <= 2


# ---------------------------------------------------------------------------------------------
# cgroup memory limits (Slurm --mem, containers)
# ---------------------------------------------------------------------------------------------

GIB = 2**30


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_cgroup_v2_limit_on_a_parent_counts_less_its_working_set(tmp_path):
    from hires.devices import cgroup_available

    root = tmp_path / "cgroup"
    job, step = root / "slurm" / "job_7", root / "slurm" / "job_7" / "step_0"
    _write(job / "memory.max", f"{32 * GIB}\n")
    _write(job / "memory.current", f"{2 * GIB}\n")
    _write(job / "memory.stat", f"anon 1\ninactive_file {GIB}\n")
    _write(step / "memory.max", "max\n")
    _write(step / "memory.current", f"{GIB}\n")
    _write(tmp_path / "cgroup-of-self", "0::/slurm/job_7/step_0\n")
    assert cgroup_available(root, tmp_path / "cgroup-of-self") == 31 * GIB  # page cache is not use


def test_a_cgroup_v1_limit_is_read_and_no_limit_is_none(tmp_path):
    from hires.devices import cgroup_available

    root = tmp_path / "cgroup"
    job = root / "memory" / "slurm" / "uid_0" / "job_5"
    _write(job / "memory.limit_in_bytes", f"{8 * GIB}\n")
    _write(job / "memory.usage_in_bytes", f"{GIB}\n")
    _write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")  # v1's "no limit"
    _write(tmp_path / "self", "5:cpu:/\n4:memory:/slurm/uid_0/job_5\n")
    assert cgroup_available(root, tmp_path / "self") == 7 * GIB
    _write(tmp_path / "unlimited", "4:memory:/\n")
    assert cgroup_available(root, tmp_path / "unlimited") is None
    assert cgroup_available(root, tmp_path / "missing") is None


# ---------------------------------------------------------------------------------------------
# GPUs, faked: which are hidden from TensorFlow, and whose memory the planner takes
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine whose TensorFlow lists two GPUs (before its runtime starts); records what is hidden."""
    import tensorflow as tf

    from hires import devices

    physical = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(2)]
    hidden = []
    real_list = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: physical if kind == "GPU" else real_list(kind))
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda chosen, kind=None: hidden.append((chosen, kind)))
    monkeypatch.setattr(devices, "_RENUMBERED", devices._Renumbering())
    monkeypatch.setattr(devices, "_list_cards", lambda: [devices._Card(0, "GPU-aaaa", 80 * GIB),
                                                         devices._Card(1, "GPU-bbbb", 24 * GIB)])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    return physical, hidden


def test_devices_1_hides_gpu_0_and_is_gpu_0_to_tensorflow(two_gpus):
    """TensorFlow takes the memory of every GPU it sees: --devices 1 must leave GPU 0 alone."""
    physical, hidden = two_gpus
    chosen = find_devices("1")
    assert hidden == [([physical[1]], "GPU")]
    assert chosen.names == ("/gpu:0",) and chosen.first == "/gpu:0"  # TensorFlow renumbers the one it sees
    assert chosen.labels == ("/gpu:1",) and "devices: /gpu:1;" in chosen.description
    assert chosen.memory_bytes == 24 * GIB  # GPU 1's own memory, not GPU 0's
    with pytest.raises(HiresError, match="hidden from TensorFlow"):
        find_devices("0")


def test_devices_cpu_hides_every_gpu(two_gpus):
    physical, hidden = two_gpus
    assert find_devices("cpu").names == ("/cpu:0",)
    assert hidden == [([], "GPU")]


def test_every_gpu_stays_visible_for_all(two_gpus):
    _, hidden = two_gpus
    with pytest.raises(HiresError):  # the fake GPUs are not real logical devices
        find_devices("gpu")
    assert hidden == []


@pytest.mark.parametrize("visible, order, expected_gib, exact", [
    (None, "PCI_BUS_ID", 80, True),  # CUDA's 0 is nvidia-smi's 0
    ("1", "PCI_BUS_ID", 24, True),  # CUDA_VISIBLE_DEVICES=1: TensorFlow's GPU 0 is card 1
    ("GPU-bbbb", "", 24, True),  # a UUID names its card in any order
    (None, "", 24, False),  # fastest first, cards unlike: the smaller, to be safe
])
def test_gpu_memory_is_read_from_the_card_cuda_means(monkeypatch, visible, order, expected_gib, exact):
    from hires import devices

    monkeypatch.setattr(devices, "_list_cards", lambda: [devices._Card(0, "GPU-aaaa", 80 * GIB),
                                                         devices._Card(1, "GPU-bbbb", 24 * GIB)])
    for name, value in (("CUDA_VISIBLE_DEVICES", visible), ("CUDA_DEVICE_ORDER", order)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    memory, source = devices._gpu_memory([0])
    assert memory == expected_gib * GIB
    assert (source == "nvidia-smi") == exact


def test_a_mig_slice_asks_for_memory_gb(monkeypatch):
    from hires import devices

    monkeypatch.setattr(devices, "_list_cards", lambda: [devices._Card(0, "GPU-aaaa", 80 * GIB)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-1234")
    assert "--memory-gb" in devices._gpu_memory([0])[1]
