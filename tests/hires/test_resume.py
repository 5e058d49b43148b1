"""Checkpoints and resume: a killed render continues where it stopped and ends where it would have."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest

from hires import checkpoint as checkpoints
from hires import images
from hires.config import (DEFAULT_COARSE_STEP, DEFAULT_START_DETAIL, DEFAULT_STOP_GAIN, DEFAULT_STYLE_ENLARGE,
                          EARLIER_DEFAULT_COARSE_STEP, EARLIER_DEFAULT_START_DETAIL, EARLIER_DEFAULT_STOP_GAIN,
                          EARLIER_DEFAULT_STYLE_ENLARGE, default_settings)
from hires.errors import HiresError
from hires.ladder import DefaultIterations, Ladder, Rung
from hires.job import RenderJob, SilentReporter
from hires.outputs import contact_sheet_path
from hires.render import render
from hires.stopping import RenderInterrupted
from tests.conftest import noise_image, save_png, smooth_image

HIRES = Path(sys.executable).parent / "hires"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    return (save_png(folder / "content.png", smooth_image(48, 64, 0)),
            save_png(folder / "style.png", noise_image(40, 40, 1)))


def _settings(**values):
    ladder = Ladder(rungs=(Rung(32, 6), Rung(64, 8)))
    return replace(default_settings(), **{"backbone": "tiny", "ladder": ladder, "chunk_iterations": 2, **values})


class _StopAt(SilentReporter):
    """Interrupts the render (as Ctrl-C would) at a given chunk of a given rung."""

    def __init__(self, rung: int, chunk: int) -> None:
        self.rung, self.left = rung, chunk

    def chunk(self, plan, progress) -> None:
        if plan.index == self.rung:
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt


class _StopAtStart(SilentReporter):
    """Interrupts the render as a rung starts: its resume starts the rung over."""

    def __init__(self, rung: int) -> None:
        self.rung = rung

    def rung_started(self, plan) -> None:
        if plan.index == self.rung:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def uninterrupted(pair, tmp_path_factory):
    content, style = pair
    output = tmp_path_factory.mktemp("whole") / "out.png"
    render(RenderJob(content, (style,), output, _settings()))
    return images.read_image(output)


class _Recording(SilentReporter):
    """Keeps the render's messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)


@pytest.mark.parametrize("rung, chunk", [(0, 2), (1, 1), (1, 3)])
def test_interrupted_render_resumes_to_the_same_picture(pair, uninterrupted, tmp_path, rung, chunk):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(rung, chunk), checkpoint_seconds=3600)
    saved = checkpoints.read_checkpoint(checkpoints.state_folder(job.output))
    assert saved.rung == rung and saved.optimizer is not None  # written on interruption, mid-rung
    assert not job.output.exists()
    render(job)
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)
    assert not checkpoints.state_folder(job.output).exists()  # removed once the output is written


def test_an_interrupt_during_the_end_of_rung_write_resumes(pair, uninterrupted, tmp_path, monkeypatch):
    """Ctrl-C while the checkpoint of a finished rung is being written: the next run resumes.

    The interrupt lands while the file is written, with the rung's last chunk not yet written
    (no timed checkpoint came due); the render's handler then writes the finished rung's
    checkpoint again, not that chunk's optimiser state under the next rung's number.
    """
    import hires.resume as resume_module

    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    real = checkpoints.write_checkpoint
    interrupted = []

    def interrupt_once(folder, checkpoint):
        if checkpoint.rung == 1 and checkpoint.optimizer is None and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        real(folder, checkpoint)

    monkeypatch.setattr(resume_module, "write_checkpoint", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        render(job, checkpoint_seconds=3600)
    saved = checkpoints.read_checkpoint(checkpoints.state_folder(job.output))
    assert interrupted and saved.rung == 1 and saved.optimizer is None
    monkeypatch.setattr(resume_module, "write_checkpoint", real)
    render(job)
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_of_another_extension_leaves_the_unfinished_render_alone(pair, uninterrupted, tmp_path,
                                                                           overwrite):
    """``out.png`` and ``out.jpg`` share ``out.state/``: the second may neither take nor discard it."""
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    other = RenderJob(content, (style,), tmp_path / "out.jpg", _settings(seed=3), overwrite=overwrite)
    with pytest.raises(HiresError, match="unfinished render of out.png.*another name with -o"):
        render(other)
    assert checkpoints.read_checkpoint(checkpoints.state_folder(job.output)).rung == 1
    render(job)
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)


def test_an_interrupt_while_the_render_is_finished_off_leaves_one_the_same_command_finishes(
        pair, uninterrupted, tmp_path, monkeypatch):
    """Ctrl-C while the contact sheet is drawn, after the last rung: running the same command again
    writes the output (not "out.png already exists", with the state folder left behind)."""
    import hires.render as render_module

    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    real = render_module.make_contact_sheet

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render_module, "make_contact_sheet", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render(job)
    monkeypatch.setattr(render_module, "make_contact_sheet", real)
    render(job)
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)
    assert contact_sheet_path(job.output).is_file()
    assert not checkpoints.state_folder(job.output).exists()


@pytest.mark.slow
def test_finished_rungs_are_not_redone(pair, tmp_path):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    started, done = [], []

    class Recording(SilentReporter):
        def ladder_started(self, plans, finished=()) -> None:
            done.extend(result.plan.index for result in finished)

        def rung_started(self, plan) -> None:
            started.append(plan.index)

    render(job, Recording())
    assert started == [1]
    assert done == [0]  # told to the display, whose ladder bar and time left count it as done


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    folder = tmp_path / "out.state"
    checkpoints.write_checkpoint(folder, checkpoints.Checkpoint("abc", rung=1, histories=[{"x": 1}]))

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from hires import files

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(HiresError, match="No space left on device.*run the same command"):
        checkpoints.write_checkpoint(folder, checkpoints.Checkpoint("abc", rung=2))
    assert checkpoints.read_checkpoint(folder).rung == 1
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.npz"]


def test_a_kill_during_a_write_leaves_the_previous_checkpoint(tmp_path, pair):
    """What SIGKILL during a write leaves: a half-written temporary file beside the last checkpoint."""
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 2), checkpoint_seconds=3600)
    folder = checkpoints.state_folder(job.output)
    (folder / ".checkpoint-half.tmp").write_bytes((folder / "checkpoint.npz").read_bytes()[:100])
    render(job)
    assert job.output.exists()


def test_a_damaged_state_folder_restarts_that_render(pair, uninterrupted, tmp_path):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    folder = checkpoints.state_folder(job.output)
    folder.mkdir()
    (folder / "checkpoint.npz").write_bytes(b"not a checkpoint")
    recording = _Recording()
    render(job, recording)
    assert any("damaged" in m for m in recording.messages)
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)


def test_a_state_folder_of_other_settings_is_not_resumed_silently(pair, tmp_path):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(0, 1), checkpoint_seconds=3600)
    settings = _settings()
    changed = replace(job, settings=replace(settings, ladder=replace(settings.ladder, style_weight=3.0)))
    with pytest.raises(HiresError, match="--restart"):
        render(changed)
    render(changed, restart=True)
    assert job.output.exists()


def _start(args, tmp_path):
    # Ctrl-C as in a terminal, also where the tests themselves run as a background job (which
    # ignores SIGINT, and hires rightly keeps it ignored then).
    return subprocess.Popen([str(HIRES), *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_mid_rung_checkpoint(folder: Path, process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            saved = checkpoints.read_checkpoint(folder)
        except checkpoints.DamagedCheckpoint:
            saved = None
        if saved is not None and saved.rung == 1 and saved.optimizer is not None:
            return
        time.sleep(0.05)
    raise AssertionError("no mid-rung checkpoint appeared")


def _cli_args(content, style, output, top_iterations=40):
    config = output.parent / "ladder.toml"
    config.write_text('backbone = "tiny"\nchunk_iterations = 2\n'
                      "[[rung]]\nlong_edge_px = 32\niterations = 6\n[[rung]]\nlong_edge_px = 64\n"
                      f"iterations = {top_iterations}\n")
    return ["render", str(content), str(style), "-o", str(output), "-c", str(config), "-q",
            "--checkpoint-minutes", "0.00001"]


@pytest.mark.slow
def test_sigkill_mid_rung_then_rerun_matches_an_uninterrupted_render(pair, tmp_path):
    content, style = pair
    whole = tmp_path / "whole" / "out.png"
    whole.parent.mkdir()
    subprocess.run([str(HIRES), *_cli_args(content, style, whole)], check=True, capture_output=True)
    output = tmp_path / "killed" / "out.png"
    output.parent.mkdir()
    args = _cli_args(content, style, output)
    process = _start(args, tmp_path)
    _wait_for_mid_rung_checkpoint(checkpoints.state_folder(output), process)
    process.kill()
    process.wait()
    assert not output.exists()
    subprocess.run([str(HIRES), *args], check=True, capture_output=True)
    np.testing.assert_allclose(images.read_image(output), images.read_image(whole), atol=2 / 255)


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_checkpoint_and_exit(pair, tmp_path, signum, status):
    content, style = pair
    output = tmp_path / "out.png"
    # A top rung far too long to finish before the signal lands: 40 iterations of the tiny
    # network could, between the checkpoint showing up and the signal arriving.
    process = _start(_cli_args(content, style, output, top_iterations=5000), tmp_path)
    _wait_for_mid_rung_checkpoint(checkpoints.state_folder(output), process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert b"resume" in stderr
    assert checkpoints.read_checkpoint(checkpoints.state_folder(output)).optimizer is not None


class _TerminateAtStart(SilentReporter):
    """A SIGTERM as the first rung starts, before any checkpoint could be written."""

    def rung_started(self, plan) -> None:
        raise RenderInterrupted(143)


@pytest.mark.parametrize("reporter, kept", [(_TerminateAtStart(), False), (_StopAt(0, 1), True)])
def test_the_interrupt_message_says_whether_a_checkpoint_was_kept(pair, tmp_path, reporter, kept):
    """Before, a render stopped ahead of its first checkpoint said "the last checkpoint is kept"."""
    import typer
    from typer.testing import CliRunner

    from hires.cli import user_errors

    job = RenderJob(*pair[:1], pair[1:], tmp_path / "out.png", _settings())
    app = typer.Typer()
    app.command()(user_errors(lambda: render(job, reporter, checkpoint_seconds=3600)))
    result = CliRunner().invoke(app, [])
    folder = checkpoints.state_folder(job.output)
    assert result.exit_code == (143 if not kept else 130) and folder.is_dir() == kept
    expected = (f"the checkpoint in {folder} is kept; run the same command to resume" if kept
                else "it had not written a checkpoint yet, so the same command starts it afresh")
    assert expected in result.output.replace("\n", ""), result.output


def test_overwrite_redoes_a_render_whose_settings_changed(pair, tmp_path):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(0, 1), checkpoint_seconds=3600)
    settings = _settings()
    changed = replace(job, settings=replace(settings, ladder=replace(settings.ladder, style_weight=3.0)),
                      overwrite=True)
    render(changed)
    assert job.output.exists() and not checkpoints.state_folder(job.output).exists()


def test_a_float32_render_keeps_the_digest_it_had_before_precision_existed(tmp_path):
    """A render begun before --precision (or --start-noise, --style-enlarge, --coarse-step,
    --start-detail) existed resumes after an upgrade: at the value that means "as before" a new
    setting is left out of the digest; bfloat16 (or noise, a painting enlarged halfway, small steps
    for the layout, the photograph's detail) is a different render."""
    import hashlib
    import json
    from dataclasses import asdict, replace

    from hires.checkpoint import FORMAT_VERSION, _plain, digests_of, hash_inputs

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"not really a picture")
    # Nor was there a stop on progress then, paintings were enlarged fully and later rungs ran on
    # plain pixels from the rung below alone.
    settings = replace(default_settings(), stop_gain=0.0, style_enlarge=1.0, coarse_step=1.0, start_detail=0.0)
    later = ("precision", "stop_gain", "start_noise", "style_enlarge", "coarse_step", "start_detail")
    older = {key: value for key, value in asdict(settings).items() if key not in later}
    hasher = hashlib.sha256()
    hasher.update(photo.name.encode())
    hasher.update(photo.read_bytes())
    hasher.update(json.dumps(_plain(older), sort_keys=True).encode())
    hasher.update(b"tiny source")
    hasher.update(str(FORMAT_VERSION).encode())
    assert digests_of(hash_inputs([photo]), settings, "tiny source")[1] == hasher.hexdigest()
    for other in ({"precision": "bfloat16"}, {"start_noise": 0.1}, {"style_enlarge": 0.5}, {"coarse_step": 0.1},
                  {"start_detail": 1.0}):
        assert digests_of(hash_inputs([photo]), replace(settings, **other), "tiny source")[1] != hasher.hexdigest()


@pytest.mark.parametrize("change", [{"jpeg_quality": 80}, {"bit_depth": 16}, {"dpi": 300.0},
                                    {"max_input_megapixels": 400.0}, {"chunk_iterations": 3}])
def test_a_render_resumes_with_other_output_options(pair, uninterrupted, tmp_path, change):
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    recording = _Recording()
    render(replace(job, settings=_settings(**change)), recording)
    assert any(m.startswith("resuming from") for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)


def test_a_checkpoint_written_under_the_older_digest_resumes(pair, uninterrupted, tmp_path, monkeypatch):
    """Until 2026-11-26 the digest hashed every setting; such a render, begun then, still resumes."""
    import hires.plan as plan_module

    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    computed, real = [], checkpoints.digests_of
    monkeypatch.setattr(plan_module, "digests_of", lambda *args: computed.append(real(*args)) or computed[-1])
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    current, older = computed[0]
    assert current != older  # so that this test tells them apart
    folder = checkpoints.state_folder(job.output)
    saved = checkpoints.read_checkpoint(folder)
    assert saved.digest == current
    saved.digest = older  # as the previous version wrote it
    checkpoints.write_checkpoint(folder, saved)
    recording = _Recording()
    render(job, recording)
    assert any(m.startswith("resuming from") for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(job.output), uninterrupted, atol=2 / 255)


def test_plan_says_where_a_render_would_resume_and_refuses_what_render_refuses(pair, tmp_path):
    from typer.testing import CliRunner

    from hires.cli import app, build_settings

    content, style = pair
    output = tmp_path / "out.png"
    args = _cli_args(content, style, output)
    settings = build_settings(output.parent / "ladder.toml", None, None)  # as the command line reads it
    with pytest.raises(KeyboardInterrupt):
        render(RenderJob(content, (style,), output, settings), _StopAt(1, 1), checkpoint_seconds=0.0)
    runner = CliRunner()
    planned = runner.invoke(app, [*args, "--plan"])
    assert planned.exit_code == 0, planned.output
    assert (f"the render would resume from {checkpoints.state_folder(output)} at rung 2 (mid-rung, after "
            "iteration 2 of") in planned.stdout
    changed = runner.invoke(app, [*args, "--plan", "--style-weight", "3"])
    assert changed.exit_code == 2 and "holds a render of other inputs or settings" in changed.output
    afresh = runner.invoke(app, [*args, "--plan", "--restart"])
    assert afresh.exit_code == 0 and "resume" not in afresh.stdout


class _Finished(SilentReporter):
    def __init__(self) -> None:
        self.results = []

    def rung_finished(self, result) -> None:
        self.results.append(result)


def test_a_rung_resumed_mid_way_keeps_its_whole_loss_curve(pair, tmp_path):
    """The contact sheet draws a rung's curve from its result: the readings before the interrupt too."""
    content, style = pair
    job = RenderJob(content, (style,), tmp_path / "out.png", _settings())
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 2), checkpoint_seconds=0.0)  # after iterations 2 and 4 of rung 2
    finished = _Finished()
    render(job, finished)
    (top,) = [r for r in finished.results if r.plan.index == 1]
    assert [p.iteration for p in top.history] == [2, 4, 6, 8]


def test_a_checkpoint_with_every_rung_finished_is_not_called_a_rung_past_the_last():
    from hires.resume import _resume_point

    plans = [SimpleNamespace(rung=Rung(32, 4)), SimpleNamespace(rung=Rung(64, 6))]
    done = checkpoints.Checkpoint("digest", rung=2)
    assert "rung 3" not in _resume_point(done, plans) and "every rung finished" in _resume_point(done, plans)
    assert _resume_point(checkpoints.Checkpoint("digest", rung=1), plans) == "at rung 2"
    mid = checkpoints.Checkpoint("digest", rung=1, optimizer={"kind": np.asarray("lbfgs")},
                                 partial={"iterations": [2, 4], "losses": [1.0, 0.9]})
    assert _resume_point(mid, plans) == "at rung 2 (mid-rung, after iteration 4 of 6)"


def test_after_an_interrupted_restart_the_message_says_to_leave_restart_out(pair, tmp_path):
    """The same command would carry --restart, which throws the kept checkpoint away again."""
    import typer
    from typer.testing import CliRunner

    from hires.cli import user_errors

    job = RenderJob(*pair[:1], pair[1:], tmp_path / "out.png", _settings())

    def command(restart: bool = typer.Option(False, "--restart")) -> None:
        render(job, _StopAt(0, 1), restart=restart, checkpoint_seconds=3600)

    app = typer.Typer()
    app.command()(user_errors(command))
    result = CliRunner().invoke(app, ["--restart"])
    assert result.exit_code == 130
    assert "run the same command without --restart to resume" in result.output.replace("\n", ""), result.output


@pytest.mark.parametrize("size, today", [
    (300, DefaultIterations(5, 2, 2)),  # other iterations
    (600, DefaultIterations(4, 3, 4, under_top_content=3.0)),  # the same iterations, the 512 px rung's content 3x
], ids=["iterations", "content-weight"])
def test_a_render_begun_under_an_earlier_default_ladder_resumes_on_it(tmp_path, monkeypatch, size, today):
    """A changed built-in ladder changes the digest; the same command still resumes the render."""
    import hires.config as config_module
    import hires.plan as plan_module

    content = save_png(tmp_path / "content.png", smooth_image(150, 200, 0))
    style = save_png(tmp_path / "style.png", noise_image(40, 40, 1))
    earlier = DefaultIterations(4, 3, 4)
    settings = replace(default_settings(), backbone="tiny", chunk_iterations=2, ladder=Ladder(rungs=()), size=size)
    whole = RenderJob(content, (style,), tmp_path / "whole.png", settings)
    job = replace(whole, output=tmp_path / "out.png")
    monkeypatch.setattr(config_module, "DEFAULT_ITERATIONS", earlier)
    render(whole)
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    monkeypatch.setattr(config_module, "DEFAULT_ITERATIONS", today)
    monkeypatch.setattr(plan_module, "EARLIER_DEFAULT_ITERATIONS", ())
    with pytest.raises(HiresError, match="--restart"):  # without the earlier ladder known
        render(job)
    monkeypatch.setattr(plan_module, "EARLIER_DEFAULT_ITERATIONS", (DefaultIterations(9, 9, 9), earlier))
    recording = _Recording()
    render(job, recording)
    assert any("earlier default ladder (4 / 3 / 4 iterations)" in m for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(job.output), images.read_image(whole.output), atol=2 / 255)


def test_a_render_begun_under_an_earlier_version_of_a_shipped_config_resumes_on_it(tmp_path, monkeypatch):
    """A shipped config whose iterations changed: the same command resumes the render begun under
    the old ones (the digest decides), and says so; a ladder of other sizes is not matched."""
    import hires.plan as plan_module

    content = save_png(tmp_path / "content.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "style.png", noise_image(40, 40, 1))

    def job_of(iterations, output):
        rungs = tuple(Rung(long_edge_px=px, iterations=n) for px, n in zip((32, 64), iterations))
        settings = replace(default_settings(), backbone="tiny", chunk_iterations=2, ladder=Ladder(rungs=rungs))
        return RenderJob(content, (style,), tmp_path / output, settings)

    whole, job = job_of((4, 3), "whole.png"), job_of((4, 3), "out.png")
    render(whole)
    with pytest.raises(KeyboardInterrupt):
        render(job, _StopAt(1, 1), checkpoint_seconds=3600)
    today = job_of((5, 2), "out.png")
    monkeypatch.setattr(plan_module, "EARLIER_CONFIG_ITERATIONS", {(32, 128): ((4, 3),)})
    with pytest.raises(HiresError, match="--restart"):  # other sizes: not this config's history
        render(today)
    monkeypatch.setattr(plan_module, "EARLIER_CONFIG_ITERATIONS", {(32, 64): ((9, 9), (4, 3))})
    recording = _Recording()
    render(today, recording)
    assert any("an earlier version of its config (4 / 3 iterations)" in m for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(today.output), images.read_image(whole.output), atol=2 / 255)


@pytest.mark.parametrize("name, earlier, today, own, words", [
    ("stop_gain", EARLIER_DEFAULT_STOP_GAIN, DEFAULT_STOP_GAIN, 0.3, "earlier default of no stop on progress"),
    # The pair's 40 px painting is enlarged for the 64 px rung, so this one changes the picture.
    ("style_enlarge", EARLIER_DEFAULT_STYLE_ENLARGE, DEFAULT_STYLE_ENLARGE, 0.25,
     "earlier default of paintings enlarged fully"),
    ("coarse_step", EARLIER_DEFAULT_COARSE_STEP, DEFAULT_COARSE_STEP, 0.5, "earlier default of plain pixels on later rungs"),
    ("start_detail", EARLIER_DEFAULT_START_DETAIL, DEFAULT_START_DETAIL, 0.5,
     "earlier default of later rungs started without the photograph's detail"),
])
def test_a_render_begun_under_a_setting_s_earlier_default_resumes_under_it(pair, tmp_path, name, earlier, today,
                                                                           own, words):
    """A default changed on 2026-12-06 or later is in the digest; a render begun before, with the same
    command, resumes as it began; a value of the user's own is another render."""
    content, style = pair
    before = RenderJob(content, (style,), tmp_path / "out.png", _settings(**{name: earlier}))
    whole = replace(before, output=tmp_path / "whole.png")
    render(whole)
    with pytest.raises(KeyboardInterrupt):
        render(before, _StopAt(1, 1), checkpoint_seconds=3600)
    with pytest.raises(HiresError, match="--restart"):
        render(replace(before, settings=_settings(**{name: own})))
    recording = _Recording()
    render(replace(before, settings=_settings(**{name: today})), recording)
    assert any(words in m for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(before.output), images.read_image(whole.output), atol=2 / 255)


def test_a_render_begun_under_the_earlier_default_enlargement_resumes_under_it(pair, tmp_path):
    """The default enlargement between rungs changed on 2026-12-07 (bicubic to bandlimited): a
    render begun under bicubic resumes under it with the same command; bilinear is another render."""
    from hires.ladder import DEFAULT_UPSAMPLE, EARLIER_DEFAULT_UPSAMPLE

    def enlarged_by(upsample):
        settings = _settings()
        return replace(settings, ladder=replace(settings.ladder, upsample=upsample))

    content, style = pair
    before = RenderJob(content, (style,), tmp_path / "out.png", enlarged_by(EARLIER_DEFAULT_UPSAMPLE))
    whole = replace(before, output=tmp_path / "whole.png")
    render(whole)
    with pytest.raises(KeyboardInterrupt):
        render(before, _StopAt(1, 1), checkpoint_seconds=3600)
    with pytest.raises(HiresError, match="--restart"):
        render(replace(before, settings=enlarged_by("bilinear")))
    recording = _Recording()
    render(replace(before, settings=enlarged_by(DEFAULT_UPSAMPLE)), recording)
    assert any("earlier default of bicubic enlargement" in m for m in recording.messages), recording.messages
    np.testing.assert_allclose(images.read_image(before.output), images.read_image(whole.output), atol=2 / 255)


def test_a_render_with_start_noise_resumes_to_the_same_picture(pair, uninterrupted, tmp_path):
    """The noise is drawn again when a rung starts over (from the checkpoint of the rung below's
    end) and not at all mid-rung: either way the resumed picture is the uninterrupted one."""
    content, style = pair
    whole = RenderJob(content, (style,), tmp_path / "whole.png", _settings(start_noise=0.2))
    render(whole)
    noisy = images.read_image(whole.output)
    assert np.abs(noisy - uninterrupted).max() > 2 / 255  # the noise changed the render
    for name, stop in (("start", _StopAtStart(1)), ("mid", _StopAt(1, 1)), ("late", _StopAt(1, 3))):
        job = replace(whole, output=tmp_path / f"out-{name}.png")
        with pytest.raises(KeyboardInterrupt):
            render(job, stop, checkpoint_seconds=3600)
        saved = checkpoints.read_checkpoint(checkpoints.state_folder(job.output))
        assert saved.rung == 1 and (saved.optimizer is None) == (name == "start")
        render(job)
        np.testing.assert_allclose(images.read_image(job.output), noisy, atol=2 / 255)
