"""Tests for ``hires batch`` and hires.batch: job files, skipping, failures, shards, locks.

Renders use the tiny backbone on pictures of at most 64 px with 3 iterations. Shards are
checked on jobs whose outputs already exist (so every job of the shard is "skipped" and the
summary says which jobs the shard took) and need no render. One test starts two real
``hires batch`` processes on one job file and checks that every job was rendered exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import hires.render  # noqa: F401  (TensorFlow is imported here, not inside CliRunner's streams)
import hires.stopping
from hires.config import final_ladder
from hires import batch
from hires.batch import Shard, load_jobs, parse_shard, select_shard, shard_from_env, summary_path
from hires.cli import app
from hires.errors import HiresError
from hires.checkpoint import ForeignState
from hires.locks import LockInfo, hold_lock
from tests.conftest import file_tree, noise_image, save_png, smooth_image

runner = CliRunner()
FAST = 'backbone = "tiny"\nsize = 64\niterations = 3\n'
SLURM_VARS = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
              "SLURM_ARRAY_TASK_STEP")


@pytest.fixture(autouse=True)
def no_slurm(monkeypatch):
    """These tests may themselves run inside a Slurm array; its variables would pick a shard."""
    for name in SLURM_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path) -> Path:
    """A folder with a 64 x 48 photograph and two 40 x 40 paintings, and a cwd elsewhere."""
    folder = tmp_path / "project"
    folder.mkdir()
    save_png(folder / "photo.png", smooth_image(48, 64, seed=0))
    save_png(folder / "painting.png", noise_image(40, 40, seed=1))
    save_png(folder / "painting2.png", smooth_image(40, 40, seed=5))
    return folder


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _job(output: str, content: str = "photo.png", style: str = '"painting.png"', extra: str = "") -> str:
    """A [[job]] table; ``style`` is written as given (a quoted path, or a list)."""
    return f'[[job]]\ncontent = "{content}"\nstyle = {style}\noutput = "{output}"\n{extra}\n'


def _batch(*args) -> object:
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def _summary(path: Path) -> dict:
    return json.loads(path.read_text())


def _statuses(summary: dict) -> dict[int, str]:
    return {job["job"]: job["status"] for job in summary["jobs"]}


def _one_error_line(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Running jobs
# ---------------------------------------------------------------------------------------------

def test_the_smallest_job_file_renders_with_paths_relative_to_it(project, elsewhere):
    jobs = project / "jobs.toml"
    jobs.write_text('[[job]]\ncontent = "photo.png"\nstyle = "painting.png"\n'
                    'output = "out/photo-painting.png"\nsize = 64\niterations = 3\nbackbone = "tiny"\n')
    result = _batch(Path("..") / "project" / "jobs.toml", "--quiet")
    assert result.exit_code == 0, result.output
    output = project / "out" / "photo-painting.png"
    with Image.open(output) as im:
        assert im.size == (64, 48)
    summary = _summary(project / "jobs.summary.json")
    assert summary["jobs"] == [{"job": 1, "output": "out/photo-painting.png", "status": "done",
                                "seconds": summary["jobs"][0]["seconds"], "message": "64x48, tiny"}]
    assert summary["counts"]["done"] == 1 and summary["finished"] is not None
    assert "photo-painting.png" in result.stdout and "done" in result.stdout  # the table
    assert sorted(p.name for p in (project / "out").iterdir()) == [
        "photo-painting.contact.png", "photo-painting.png", "photo-painting.rungs"]  # no lock left
    assert not list(elsewhere.iterdir())  # nothing written in the working folder


def test_a_damaged_photograph_is_found_before_the_first_render(project, elsewhere):
    """Damaged past its header: the job file's check passes it, the planning of every job does not."""
    whole = (project / "photo.png").read_bytes()
    (project / "damaged.png").write_bytes(whole[: len(whole) // 2])
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("out/fine.png") + _job("out/missing.png", content="damaged.png"))
    result = _batch(jobs)
    assert result.exit_code == 2, result.output
    assert "job 2: cannot read" in _one_error_line(result) and "damaged.png" in _one_error_line(result)
    assert not (project / "out").exists()


def test_rung_pictures_left_without_a_state_folder_do_not_stop_the_batch(project, elsewhere):
    """A process killed between a rung's picture and its checkpoint leaves pictures and no state
    folder; every resubmission of the batch must still render the job, not exit 2."""
    (project / "out" / "a.rungs").mkdir(parents=True)
    save_png(project / "out" / "a.rungs" / "0032.png", smooth_image(24, 32, seed=3))
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("out/a.png") + _job("out/b.png", content="photo.png", extra="seed = 2"))
    result = _batch(jobs)
    assert result.exit_code == 0, result.output
    assert (project / "out" / "a.png").is_file() and (project / "out" / "b.png").is_file()
    assert sorted(p.name for p in (project / "out" / "a.rungs").iterdir()) == ["0064.png"]


def test_a_job_reading_its_own_output_is_told_so(project, elsewhere):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("o/x.png", style='"o/x.contact.png"'))
    result = _batch(jobs)
    assert result.exit_code == 2
    assert "job 1's style is its own output" in _one_error_line(result)


def test_a_failing_job_is_reported_and_the_rest_go_on_then_a_rerun_skips_the_done(project, elsewhere,
                                                                                monkeypatch):
    """A photograph damaged after the batch's checks (replaced on a shared disk) fails its job alone."""
    jobs = project / "jobs.toml"
    whole = (project / "photo.png").read_bytes()
    (project / "damaged.png").write_bytes(whole)
    checked = batch.check_plans

    def check_then_damage(*args, **kwargs):
        checked(*args, **kwargs)
        (project / "damaged.png").write_bytes(whole[: len(whole) // 2])

    monkeypatch.setattr(batch, "check_plans", check_then_damage)
    jobs.write_text(FAST + _job("out/missing.png", content="damaged.png") + _job("out/fine.png"))
    first = _batch(jobs)
    assert first.exit_code == 1, first.output
    summary = _summary(project / "jobs.summary.json")
    assert _statuses(summary) == {1: "failed", 2: "done"}
    assert "damaged.png" in summary["jobs"][0]["message"]
    assert summary["counts"] == {"done": 1, "skipped": 0, "failed": 1, "locked-elsewhere": 0}
    assert (project / "out" / "fine.png").is_file() and not (project / "out" / "missing.png").exists()
    rendered = (project / "out" / "fine.png").read_bytes()

    (project / "damaged.png").write_bytes(whole)  # sound again for the check, damaged after it
    second = _batch(jobs)
    assert second.exit_code == 1
    summary = _summary(project / "jobs.summary.json")
    assert _statuses(summary) == {1: "failed", 2: "skipped"}
    assert "--overwrite" in summary["jobs"][1]["message"]
    assert (project / "out" / "fine.png").read_bytes() == rendered


def test_an_interrupted_job_with_a_state_folder_is_not_skipped(tmp_path):
    output = tmp_path / "a.png"
    output.write_bytes(b"an earlier picture")
    assert batch._skip_reason(output, False, 0.0) is not None
    (tmp_path / "a.state").mkdir()
    assert batch._skip_reason(output, False, 0.0) is None
    assert batch.state_folder(output) == tmp_path / "a.state"
    assert batch.lock_path(output) == tmp_path / "a.png.lock"


def test_overwrite_skips_what_another_process_wrote_during_this_run(tmp_path):
    output = tmp_path / "a.png"
    output.write_bytes(b"x")
    written = output.stat().st_mtime
    assert batch._skip_reason(output, True, written - 10) is not None  # written since this run began
    assert batch._skip_reason(output, True, written + 10) is None  # older: render it again


def test_restart_and_overwrite_reach_render(project, elsewhere, monkeypatch):
    calls = []

    def fake_render(job, reporter=None, **options):
        calls.append((job.output.name, job.overwrite, options))
        raise HiresError("not really rendering")

    monkeypatch.setattr(hires.render, "render", fake_render)
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png"))
    (project / "a.png").write_bytes(b"x")
    assert _statuses(_summary_of(_batch(jobs), project)) == {1: "skipped"}
    _batch(jobs, "--restart")
    assert calls == []  # a finished job is not restarted
    _batch(jobs, "--restart", "--overwrite")
    (project / "a.state").mkdir()
    _batch(jobs)
    assert calls == [("a.png", True, {"restart": True, "checkpoint_seconds": 300.0}),
                     ("a.png", True, {"restart": False, "checkpoint_seconds": 300.0})]


@pytest.mark.parametrize("interruption, status", [(KeyboardInterrupt(), 130),
                                                  (hires.stopping.RenderInterrupted(143), 143)])
def test_an_interrupt_stops_the_batch_and_still_writes_the_summary(project, elsewhere, monkeypatch,
                                                                    interruption, status):
    def interrupted_render(job, reporter=None, **options):
        raise interruption

    monkeypatch.setattr(hires.render, "render", interrupted_render)
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png") + _job("b.png"))
    result = _batch(jobs)
    assert result.exit_code == status
    assert "run the same command to resume" in result.stderr
    summary = _summary(project / "jobs.summary.json")
    assert _statuses(summary) == {1: "interrupted", 2: "not-run"} and summary["interrupted"]
    assert not (project / "a.png.lock").exists()


def _summary_of(result, project: Path, status: int = 0) -> dict:
    assert result.exit_code == status, result.output
    return _summary(project / "jobs.summary.json")


def test_a_job_locked_by_a_live_process_is_left_to_it(project, elsewhere):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png"))
    with hold_lock(project / "a.png.lock"):
        result = _batch(jobs)
    assert result.exit_code == 0, result.output
    summary = _summary(project / "jobs.summary.json")
    assert _statuses(summary) == {1: "locked-elsewhere"}
    assert f"pid {os.getpid()}" in summary["jobs"][0]["message"]
    assert not (project / "a.png").exists()


def _lock_of_another_host(path: Path, heartbeat_age: float) -> None:
    now = time.time()
    path.write_text(LockInfo("another-machine.invalid", 1, now - heartbeat_age, now - heartbeat_age,
                             "theirs").to_json())
    os.utime(path, (now - heartbeat_age, now - heartbeat_age))


class _TakeOverAtFirstChunk:
    """A reporter that lets another process take the lock over while the render runs (as after a pause)."""

    def __init__(self, lock: Path) -> None:
        self.lock = lock

    def chunk(self, plan, progress) -> None:
        if "theirs" not in self.lock.read_text():
            _lock_of_another_host(self.lock, 0.0)

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_a_job_whose_lock_is_taken_over_stops_and_writes_nothing_more(project):
    """A process paused past the stale time must not write over the work of the one that took its job."""
    jobs_file = project / "jobs.toml"
    jobs_file.write_text(FAST.replace("iterations = 3", "iterations = 6\nchunk_iterations = 2") + _job("a.png"))
    lock = project / "a.png.lock"
    summary = batch.run_batch(load_jobs(jobs_file), job_file=jobs_file,
                              reporter_for=lambda: _TakeOverAtFirstChunk(lock))
    outcome = summary.outcomes[0]
    assert outcome.status == "locked-elsewhere" and "taken over by another process" in outcome.message
    assert not (project / "a.png").exists() and not (project / "a.contact.png").exists()
    assert not (project / "a.state").exists()  # no checkpoint written after the takeover
    assert not (project / "a.rungs").exists() or not list((project / "a.rungs").iterdir())
    assert "theirs" in lock.read_text()  # the new holder's lock is left alone


@pytest.mark.slow
def test_a_job_locked_by_a_silent_holder_is_taken_once_its_lock_is_stale(project):
    """A holder that has missed heartbeats (a node that died) is waited out, not skipped for good."""
    jobs_file = project / "jobs.toml"
    jobs_file.write_text(FAST + _job("a.png") + _job("b.png"))
    _lock_of_another_host(project / "a.png.lock", heartbeat_age=1.0)  # silent for 1 s: missed 5 beats
    _lock_of_another_host(project / "b.png.lock", heartbeat_age=0.0)  # beating: alive, rendering b
    lines = []
    summary = batch.run_batch(load_jobs(jobs_file), job_file=jobs_file, log=lines.append,
                              heartbeat_seconds=0.2, stale_seconds=2.0)
    assert [o.status for o in summary.outcomes] == ["done", "locked-elsewhere"]
    assert (project / "a.png").is_file() and not (project / "b.png").exists()
    assert any("missed its heartbeats" in line for line in lines)
    assert "run this batch again then" in summary.outcomes[1].message


def test_a_job_with_a_changed_state_folder_gets_batch_advice(project, monkeypatch):
    def changed(job, reporter=None, **options):
        raise ForeignState(project / "a.state", "a.state holds a render of other inputs; choose another -o")

    monkeypatch.setattr(hires.render, "render", changed)
    jobs_file = project / "jobs.toml"
    jobs_file.write_text(FAST + _job("a.png"))
    (outcome,) = batch.run_batch(load_jobs(jobs_file), job_file=jobs_file).outcomes
    assert outcome.status == "failed"
    assert f"delete {project / 'a.state'}" in outcome.message and "--restart" in outcome.message
    assert " -o" not in outcome.message


# ---------------------------------------------------------------------------------------------
# The job file
# ---------------------------------------------------------------------------------------------

def test_defaults_config_and_job_options_merge_in_order(project):
    save_png(project / "start.png", smooth_image(48, 64, seed=3))
    (project / "configs").mkdir()
    (project / "configs" / "two.toml").write_text(
        'backbone = "vgg16-hed"\nstyle_weight = 5.0\nprint_size = "4x6in"\n'
        "[[rung]]\nlong_edge_px = 32\niterations = 7\nstyle_weight = 99.0\n"
        "[[rung]]\nlong_edge_px = 64\niterations = 5\n")
    (project / "jobs.toml").write_text(
        'config = "configs/two.toml"\nbackbone = "tiny"\ntv_weight = 0.5\ninit = "start.png"\n'
        + _job("a.png", style='["painting.png", "painting2.png"]', extra="size = 48\nstyle_weight = 20.0")
        + _job("b.png", extra='tv_weight = 1.0\ninit = "noise"'))
    first, second = load_jobs(project / "jobs.toml")
    assert first.content == project / "photo.png"
    assert first.styles == (project / "painting.png", project / "painting2.png")
    assert first.output == project / "a.png" and first.output_text == "a.png"
    s = first.settings
    assert (s.backbone, s.ladder.tv_weight, s.ladder.style_weight) == ("tiny", 0.5, 20.0)
    assert s.init == str(project / "start.png")
    assert s.print_size is None  # the job's size beats the config's print size
    ladder = final_ladder(s)[0]  # the ladder its render climbs
    assert [(r.long_edge_px, r.iterations, r.style_weight) for r in ladder.rungs] == [(32, 7, None), (48, 5, None)]
    s = second.settings
    assert (s.ladder.tv_weight, s.ladder.style_weight, s.init, s.print_size) == (1.0, 5.0, "noise", "4x6in")
    assert s.ladder.rungs[0].style_weight == 99.0  # the config's own rung override stands


def test_top_level_style_and_content_are_defaults(project):
    (project / "jobs.toml").write_text('style = "painting.png"\n' + FAST
                                       + '[[job]]\ncontent = "photo.png"\noutput = "a.png"\n')
    (job,) = load_jobs(project / "jobs.toml")
    assert job.styles == (project / "painting.png",)
    assert [(r.long_edge_px, r.iterations) for r in final_ladder(job.settings)[0].rungs] == [(64, 3)]


@pytest.mark.parametrize("jobs_text, expected", [
    (FAST + _job("a.png") + _job("b.png", extra='colour = "red"'), "jobs.toml: job 2: unknown field 'colour'"),
    (FAST + _job("a.png") + _job("b.png", extra="styles = []"), "jobs.toml: job 2: unknown field 'styles'"),
    (FAST + _job("a.png") + _job("b.png", extra="tile_px = 512"), "job 2: unknown field 'tile_px'; --tile-px is about"),
    (FAST + _job("a.png") + '[[job]]\ncontent = "photo.png"\nstyle = "painting.png"\n',
     "jobs.toml: job 2: output is missing"),
    (FAST + '[[job]]\nstyle = "painting.png"\noutput = "a.png"\n', "jobs.toml: job 1: content is missing"),
    (FAST + _job("a.png") + _job("b.png", extra="size = 5"), "jobs.toml: job 2: size must be"),
    (FAST + _job("a.png") + _job("b.png", extra='size = "big"'), "jobs.toml: job 2: size must be a whole number"),
    (FAST + _job("a.png", style="3"), "jobs.toml: job 1: style must be a path in quotes, not 3"),
    (FAST + _job("a.png", style="[]"), "jobs.toml: job 1: style is an empty list"),
    (FAST + _job("a.png") + _job("b.png", extra='config = "nowhere.toml"'), "jobs.toml: job 2: config"),
    (FAST + _job("a.gif"), "jobs.toml: job 1: output 'a.gif' must end in one of"),
    (FAST + _job("a.png", extra="style_blend = [1.0, 2.0]"), "jobs.toml: job 1: style_blend has 2 weights for 1 styles"),
    (FAST + _job("out/a.png") + _job("b.png") + _job("out/../out/a.png"), "jobs.toml: jobs 1 and 3 both write"),
    (FAST + _job("a.png") + _job("a.jpg"), "jobs.toml: jobs 1 and 2 write 'a.png' and 'a.jpg', which would share"),
    # Found before the first render, not when the job's turn comes hours later:
    (FAST + _job("a.png") + _job("b.png", content="no-such.png"), "jobs.toml: job 2: content: cannot read"),
    (FAST + _job("a.png", style='["painting.png", "gone.png"]'), "jobs.toml: job 1: style: cannot read"),
    (FAST + _job("a.png", content="."), "jobs.toml: job 1: content: cannot read"),
    (FAST + _job("a.png", extra='init = "start.png"'), "jobs.toml: job 1: init: cannot read"),
    (FAST + _job("a.png", extra='backbone = "vgg19"\nweights = "w.h5"'), "jobs.toml: job 1: weights"),
    (FAST + _job("a.jpg", extra="bit_depth = 16"), "jobs.toml: job 1: output: "),
    (FAST + _job("photo.png/a.png"), "jobs.toml: job 1: output: "),
    # An output that is an input would replace the picture (with --overwrite, or once resumed):
    (FAST + _job("photo.png"), "job 1 would write"),
    (FAST + _job("a.png") + _job("painting.png"), "job 2 would write"),
    # A job meant to read another's output (not there yet) hears why, not that its input is missing:
    (FAST + _job("out/a.png") + _job("b.png", content="out/a.png"), "job 2's content is job 1's output"),
    # Found by planning each job as its render will, before the first render:
    (FAST + _job("a.png") + _job("b.png", extra='content_layer = "block9_conv9"'), "jobs.toml: job 2: "),
    (FAST + _job("a.png") + _job("b.tif", extra='print_size = "300x300cm"\ndpi = 600'), "jobs.toml: job 2: "),
    ('colour = 1\n' + _job("a.png"), "jobs.toml: top level: unknown field 'colour'"),
    ('size = 3\n' + _job("a.png"), "jobs.toml: top level: size must be"),
    ('output = "x.png"\n' + _job("a.png"), "jobs.toml: top level: output belongs in each [[job]]"),
    (FAST, "jobs.toml: no [[job]] table"),
    ("job = 3\n", "jobs.toml: job must be a list of tables"),
    ("[[job]\n", "is not valid TOML"),
])
def test_a_bad_job_file_exits_2_naming_the_file_and_job_and_renders_nothing(project, elsewhere, jobs_text, expected):
    jobs = project / "jobs.toml"
    jobs.write_text(jobs_text)
    before = file_tree(project)
    result = _batch(jobs)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert expected in line and str(jobs) in line
    assert file_tree(project) == before
    assert not list(elsewhere.iterdir())


def test_a_summary_that_cannot_be_written_stops_the_batch_before_any_render(project, elsewhere):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png"))
    result = _batch(jobs, "--summary", project / "no-such-folder" / "s.json")
    assert result.exit_code == 2
    assert "cannot write the batch summary" in _one_error_line(result)
    assert not (project / "a.png").exists()


def test_a_missing_job_file_exits_2(elsewhere):
    result = _batch("nowhere.toml")
    assert result.exit_code == 2
    assert "nowhere.toml not found" in _one_error_line(result)


# ---------------------------------------------------------------------------------------------
# Shards
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["3/2", "0/2", "1/0", "x", "1/2/3", "-1/2", ""])
def test_a_bad_shard_exits_2(project, elsewhere, text):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png"))
    before = file_tree(project)
    result = _batch(jobs, "--shard", text)
    assert result.exit_code == 2
    assert "--shard must be I/N" in _one_error_line(result)
    assert file_tree(project) == before


def test_shards_partition_the_jobs():
    jobs = list(range(7))
    shards = [select_shard(jobs, parse_shard(f"{i}/3")) for i in (1, 2, 3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    assert select_shard(jobs, None) == jobs
    assert str(parse_shard(" 2 / 3 ")) == "2/3"


@pytest.mark.parametrize("env, shard", [
    ({}, None),
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"}, Shard(0, 2)),
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "4"}, Shard(1, 2)),
    ({"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "10",
      "SLURM_ARRAY_TASK_STEP": "2"}, Shard(2, 3)),
    ({"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "10",
      "SLURM_ARRAY_TASK_MAX": "14", "SLURM_ARRAY_TASK_STEP": "2"}, Shard(2, 3)),
])
def test_slurm_array_variables_give_the_shard(env, shard):
    assert shard_from_env(env) == shard


@pytest.mark.parametrize("env", [
    {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "2"},  # ids from 1 without MIN
    {"SLURM_ARRAY_TASK_ID": "1"},
    {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"},
    {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
     "SLURM_ARRAY_TASK_STEP": "2"},
    # --array=0,2,5: three tasks whose ids are not evenly spaced; task 2 is not shard 3 of 3
    {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
     "SLURM_ARRAY_TASK_MAX": "5", "SLURM_ARRAY_TASK_STEP": "1"},
])
def test_bad_slurm_array_variables_are_an_error(env):
    with pytest.raises(HiresError, match="--shard"):
        shard_from_env(env)


def _finished_project(project: Path, count: int) -> Path:
    """A job file of ``count`` jobs whose outputs exist: a run only tells which jobs it took."""
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + "".join(_job(f"out/{k}.png") for k in range(1, count + 1)))
    (project / "out").mkdir()
    for k in range(1, count + 1):
        (project / "out" / f"{k}.png").write_bytes(b"done before")
    return jobs


def test_shard_options_and_slurm_variables_select_the_same_jobs(project, elsewhere):
    jobs = _finished_project(project, 5)
    taken = {}
    for i in (1, 2):
        result = _batch(jobs, "--shard", f"{i}/2")
        assert result.exit_code == 0, result.output
        summary = _summary(summary_path(jobs, Shard(i - 1, 2)))
        assert summary["shard"] == f"{i}/2"
        assert set(_statuses(summary).values()) == {"skipped"}
        taken[i] = sorted(_statuses(summary))
    assert taken == {1: [1, 3, 5], 2: [2, 4]}
    assert not (project / "jobs.summary.json").exists()
    result = runner.invoke(app, ["batch", str(jobs)],
                           env={"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_MIN": "7", "SLURM_ARRAY_TASK_COUNT": "2"})
    assert result.exit_code == 0, result.output
    assert sorted(_statuses(_summary(project / "jobs.shard-2-of-2.summary.json"))) == [2, 4]
    result = runner.invoke(app, ["batch", str(jobs)],
                           env={"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "2"})
    assert result.exit_code == 2 and "SLURM_ARRAY_TASK_ID=9" in _one_error_line(result)


# ---------------------------------------------------------------------------------------------
# Two processes on one job file
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_processes_on_one_job_file_render_every_job_exactly_once(project, tmp_path):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + "".join(_job(f"out/{k}.png", style=('"painting.png"', '"painting2.png"')[k % 2])
                                   for k in range(1, 5)))
    hires_script = Path(sys.executable).parent / "hires"
    env = {k: v for k, v in os.environ.items() if k not in SLURM_VARS}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    summaries = [tmp_path / f"process{n}.json" for n in (1, 2)]
    processes = [subprocess.Popen([str(hires_script), "batch", str(jobs), "--quiet", "--summary", str(path)],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for path in summaries]
    logs = [process.communicate(timeout=240)[0] for process in processes]
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log
    statuses = [_statuses(_summary(path)) for path in summaries]
    for job in range(1, 5):
        seen = [s[job] for s in statuses]
        assert seen.count("done") == 1, (job, seen, logs)
        assert set(seen) <= {"done", "skipped", "locked-elsewhere"}
        assert (project / "out" / f"{job}.png").is_file()
    assert sorted(p.name for p in (project / "out").iterdir() if not p.is_dir()) == sorted(
        [f"{k}.png" for k in range(1, 5)] + [f"{k}.contact.png" for k in range(1, 5)])  # no lock left


@pytest.mark.parametrize("options, complaint", [
    (["--memory-gb", "inf"], "--memory-gb must be"),
    (["--devices", "bogus"], "bogus"),
    (["--tile-px", "0"], "--tile-px must be"),
])
def test_bad_machine_options_are_refused_once_before_any_job(project, elsewhere, options, complaint):
    jobs = project / "jobs.toml"
    jobs.write_text(FAST + _job("a.png") + _job("b.png"))
    before = file_tree(project)
    result = _batch(jobs, *options)
    assert result.exit_code == 2, result.output
    assert complaint in _one_error_line(result)
    assert file_tree(project) == before  # no summary, no render
