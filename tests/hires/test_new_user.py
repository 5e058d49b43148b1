"""What a new user hits: a full disk, link loops, odd files, a second demo, notes on what is read."""

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hires import images
from hires.cli import app
from tests.conftest import file_tree, noise_image, save_png, smooth_image

runner = CliRunner()
FAST = ["--backbone", "tiny", "--size", "32", "--iterations", "2", "-q"]


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    return save_png(tmp_path / "c.png", smooth_image(48, 64)), save_png(tmp_path / "s.png", noise_image(40, 40))


def _render(*args):
    return runner.invoke(app, ["render", *[str(a) for a in args]])


def _one_error_line(result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["content", "style", "output"])
def test_a_link_loop_is_one_error_line(tmp_path, pair, where):
    loop = tmp_path / "loop.png"
    os.symlink(tmp_path / "back.png", loop)
    os.symlink(loop, tmp_path / "back.png")
    content, style = pair
    args = {"content": [loop, style, "-o", tmp_path / "o.png"], "style": [content, loop, "-o", tmp_path / "o.png"],
            "output": [content, style, "-o", loop]}[where]
    result = _render(*args, *FAST)
    assert result.exit_code == 2, result.output
    assert "leads back to itself" in _one_error_line(result)


def test_a_link_loop_in_a_job_file_is_one_error_line(tmp_path, pair):
    loop = tmp_path / "loop.png"
    os.symlink(tmp_path / "back.png", loop)
    os.symlink(loop, tmp_path / "back.png")
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('backbone = "tiny"\n[[job]]\ncontent = "loop.png"\nstyle = "s.png"\noutput = "o.png"\n')
    result = runner.invoke(app, ["batch", str(jobs), "-q"])
    assert result.exit_code == 2, result.output
    assert "leads back to itself" in _one_error_line(result)


def test_a_device_is_not_called_empty(tmp_path, pair):
    result = _render("/dev/urandom", pair[1], "-o", tmp_path / "o.png", *FAST)
    assert result.exit_code == 2
    assert "not a regular file" in _one_error_line(result)


@pytest.mark.parametrize("name", ["folder", "folder/"])
def test_an_output_that_is_a_folder_is_called_a_folder(tmp_path, pair, name):
    (tmp_path / "folder").mkdir()
    result = _render(*pair, "-o", f"{tmp_path}/{name}", *FAST)
    assert result.exit_code == 2
    assert "it is a folder" in _one_error_line(result)


def test_transparency_and_frames_are_told(tmp_path, pair):
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., :3], rgba[:, 32:, 3] = 120, 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "half.png")
    frames = [Image.fromarray((smooth_image(48, 64, seed=k)[0] * 255).astype(np.uint8)).convert("P") for k in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    result = _render(tmp_path / "half.png", tmp_path / "anim.gif", "-o", tmp_path / "o.png", *FAST[:-1], "--plan")
    assert result.exit_code == 0, result.output
    assert "note: half.png has transparent parts: they are read as white" in result.stdout
    assert "note: anim.gif holds 3 frames" in result.stdout


def test_the_version(tmp_path):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("hires ")


@pytest.mark.slow
def test_the_demo_run_twice_replaces_its_own_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = runner.invoke(app, ["demo", "--backbone", "tiny", "-q"])
        assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "hires-demo.png" in lines[-3] and "hires-demo.contact.png" in lines[-2] and "hires-demo.rungs" in lines[-1]
    assert (tmp_path / "hires-demo.png").is_file() and not (tmp_path / "hires-demo.state").exists()


def _full_disk_on(monkeypatch, name_part: str) -> list[str]:
    """Every write of a file whose name holds ``name_part`` fails as on a full disk."""
    real, failed = images.write_atomically, []

    def write(target, write, **options):
        if name_part in target.name:
            failed.append(target.name)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(target, write, **options)

    monkeypatch.setattr(images, "write_atomically", write)
    return failed


def test_a_full_disk_at_the_contact_sheet_keeps_the_picture_and_the_same_command_finishes(tmp_path, pair,
                                                                                          monkeypatch):
    output = tmp_path / "out" / "o.png"
    args = [*pair, "-o", output, *FAST]
    failed = _full_disk_on(monkeypatch, "contact")
    result = _render(*args)
    assert failed and result.exit_code == 2
    assert "no space left" in _one_error_line(result)
    assert output.is_file()  # the side file did not cost the picture
    monkeypatch.undo()
    again = _render(*args)  # the same command, no --overwrite: the picture there is its own
    assert again.exit_code == 0, again.output
    assert (tmp_path / "out" / "o.contact.png").is_file() and not (tmp_path / "out" / "o.state").exists()


def test_a_full_disk_at_a_rung_picture_leaves_nothing_and_the_same_command_renders(tmp_path, pair, monkeypatch):
    output = tmp_path / "out" / "o.png"
    args = [*pair, "-o", output, *FAST]
    before = file_tree(tmp_path)
    _full_disk_on(monkeypatch, "0032")
    result = _render(*args)
    assert result.exit_code == 2 and "no space left" in _one_error_line(result)
    assert file_tree(tmp_path) == before  # no picture, no empty out/, out/o.rungs/ or out/o.state/
    monkeypatch.undo()
    again = _render(*args)
    assert again.exit_code == 0, again.output
    assert output.is_file()


def test_a_full_disk_at_the_first_checkpoint_says_what_is_true(tmp_path, pair, monkeypatch):
    from hires import checkpoint

    real = checkpoint.write_atomically

    def full(target, write, **options):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_atomically", full)
    output = tmp_path / "o.png"
    result = _render(*pair, "-o", output, *FAST)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "no checkpoint had been written yet, so it starts afresh" in line
    assert not (tmp_path / "o.state").exists()
    monkeypatch.setattr(checkpoint, "write_atomically", real)
    assert _render(*pair, "-o", output, *FAST).exit_code == 0
