"""Tests for the ``hires`` command line: render and demo, their errors, output and help.

Renders use ``--backbone tiny`` on pictures of at most 64 px made here with Pillow, and a few
iterations. CliRunner's streams are not terminals, so the plain progress lines are what a
render prints. One test runs the real console script in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import hires.render  # noqa: F401  (TensorFlow is imported here, not inside CliRunner's streams)
from hires import images
from hires.cli import app
from tests.conftest import file_tree, noise_image, save_png, smooth_image

runner = CliRunner()
FAST = ["--backbone", "tiny", "--size", "64", "--iterations", "4"]






def _make_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """A 64 x 48 content, and two 40 x 40 styles."""
    content = save_png(folder / "content.png", smooth_image(48, 64, seed=0))
    style = save_png(folder / "style.png", noise_image(40, 40, seed=1))
    style2 = save_png(folder / "style2.png", smooth_image(40, 40, seed=5))
    return content, style, style2


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path, Path]:
    return _make_inputs(tmp_path)


def _render(*args) -> object:
    return runner.invoke(app, ["render", *[str(a) for a in args]])


def _one_error_line(result) -> str:
    """The only line on stderr, which must be an error line; also checks there is no traceback."""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """One render with the plain progress display: 64 x 48 content, --size 64, 4 iterations."""
    folder = tmp_path_factory.mktemp("plain")
    content, style, _ = _make_inputs(folder)
    output = folder / "out.png"
    result = _render(content, style, "-o", output, *FAST)
    return result, output


# ---------------------------------------------------------------------------------------------
# A render end to end
# ---------------------------------------------------------------------------------------------

def test_render_writes_the_output_its_rung_and_a_contact_sheet(plain_run):
    result, output = plain_run
    assert result.exit_code == 0, result.output
    with Image.open(output) as im:
        assert im.size == (64, 48)
    assert sorted(p.name for p in (output.parent / "out.rungs").iterdir()) == ["0064.png"]
    assert (output.parent / "out.contact.png").is_file()


def test_render_prints_plain_progress_lines_and_what_it_wrote(plain_run):
    result, output = plain_run
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert "backbone: tiny (fixed random weights (tests only))" in err
    assert "ladder: 1 rung (64x48)" in err
    assert "rung 1/1: 64x48, 4 iterations (lbfgs)" in err
    chunk_lines = [line for line in err if line.startswith("rung 1/1 iter ")]
    assert chunk_lines, result.stderr
    assert chunk_lines[-1].startswith("rung 1/1 iter 4/4  loss ")
    assert all("eval/s" in line and " left " in line for line in chunk_lines)
    assert any(line.startswith("rung 1/1 done in ") and "out.rungs" in line for line in err)
    out = result.stdout.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"wrote {output} (64x48, tiny, ")
    assert "Traceback" not in result.output


def test_an_existing_output_is_refused_without_overwrite_and_replaced_with_it(tmp_path, inputs):
    content, style, _ = inputs
    output = tmp_path / "out.png"
    output.write_bytes(b"my precious picture")
    before = file_tree(tmp_path)

    refused = _render(content, style, "-o", output, *FAST)
    assert refused.exit_code == 2, refused.output
    line = _one_error_line(refused)
    assert "--overwrite" in line and str(output) in line
    assert file_tree(tmp_path) == before  # the file is unchanged byte for byte, nothing else written

    replaced = _render(content, style, "-o", output, *FAST, "--overwrite", "-q")
    assert replaced.exit_code == 0, replaced.output
    with Image.open(output) as im:
        assert im.size == (64, 48) and im.format == "PNG"
    assert replaced.stderr == ""  # -q: no progress at all
    assert replaced.stdout.startswith(f"wrote {output} ")
    assert (tmp_path / "out.rungs" / "0064.png").is_file()
    assert (tmp_path / "out.contact.png").is_file()


def test_two_rung_config_writes_a_file_per_rung(tmp_path, inputs):
    content, style, _ = inputs
    config = tmp_path / "two.toml"
    config.write_text("[[rung]]\nlong_edge_px = 32\niterations = 3\n\n"
                      "[[rung]]\nlong_edge_px = 64\niterations = 3\n")
    output = tmp_path / "out.png"
    result = _render(content, style, "-o", output, "-c", config, "--backbone", "tiny")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out.rungs").iterdir()) == ["0032.png", "0064.png"]
    with Image.open(output) as im:
        assert im.size == (64, 48)
    err = result.stderr.splitlines()
    assert "ladder: 2 rungs (32x32, 64x48)" in err
    starts = [line for line in err if line.startswith(("rung 1/2: ", "rung 2/2: "))]
    assert starts == ["rung 1/2: 32x32, 3 iterations (lbfgs)", "rung 2/2: 64x48, 3 iterations (lbfgs)"]


# ---------------------------------------------------------------------------------------------
# Options that change the render
# ---------------------------------------------------------------------------------------------

def test_several_styles_with_a_blend_render(tmp_path, inputs):
    content, style, style2 = inputs
    output = tmp_path / "blend.png"
    result = _render(content, style, style2, "-o", output, "--style-blend", "0.5,0.5",
                     "--backbone", "tiny", "--size", "32", "--iterations", "2", "-q")
    assert result.exit_code == 0, result.output
    assert images.read_image(output).shape == (32, 32, 3)


def test_adam_renders(tmp_path, inputs):
    content, style, _ = inputs
    output = tmp_path / "adam.png"
    result = _render(content, style, "-o", output, "--optimizer", "adam",
                     "--backbone", "tiny", "--size", "32", "--iterations", "3")
    assert result.exit_code == 0, result.output
    assert "rung 1/1: 32x32, 3 iterations (adam)" in result.stderr.splitlines()
    assert images.read_image(output).shape == (32, 32, 3)


def test_noise_init_is_deterministic_for_a_seed_and_differs_between_seeds(tmp_path, inputs):
    content, style, _ = inputs
    pixels = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        output = tmp_path / f"{name}.png"
        result = _render(content, style, "-o", output, "--init", "noise", "--seed", seed,
                         "--backbone", "tiny", "--size", "32", "--iterations", "2", "-q")
        assert result.exit_code == 0, result.output
        pixels[name] = images.read_image(output)
    np.testing.assert_array_equal(pixels["a"], pixels["b"])
    assert np.abs(pixels["a"] - pixels["c"]).mean() > 0.01


def test_init_from_an_image_file_renders(tmp_path, inputs):
    content, style, _ = inputs
    start = save_png(tmp_path / "start.png", noise_image(20, 20, seed=9))
    output = tmp_path / "from-file.png"
    result = _render(content, style, "-o", output, "--init", start,
                     "--backbone", "tiny", "--size", "32", "--iterations", "2", "-q")
    assert result.exit_code == 0, result.output
    assert images.read_image(output).shape == (32, 32, 3)


def test_a_quoted_tilde_in_the_output_is_the_home_folder(tmp_path, inputs, monkeypatch):
    """--output='~/x.png' reaches hires unexpanded; it must not write a folder named ~ here."""
    content, style, _ = inputs
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir()
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    result = _render(content, style, "-o", "~/poster.png", "--backbone", "tiny", "--size", "32",
                     "--iterations", "2", "-q")
    assert result.exit_code == 0, result.output
    assert (home / "poster.png").is_file() and (home / "poster.contact.png").is_file()
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("output, options, complaint", [
    ("out.jpg", ["--bit-depth", "16"], "only 8 bits"),
    ("out.png", ["--style-blend", "1,2"], "2 weights for 1 styles"),
    ("out.png", ["--checkpoint-minutes", "0"], "--checkpoint-minutes must be more than 0"),
    ("out.png", ["--memory-gb", "inf"], "--memory-gb must be"),
    ("out.png", ["--print", "2x3in", "--dpi", "5"], "--print 2x3in at 5 DPI is only"),
])
def test_plan_refuses_what_render_would_refuse(tmp_path, inputs, output, options, complaint):
    content, style, _ = inputs
    result = _render(content, style, "-o", tmp_path / output, "--backbone", "tiny", "--plan", *options)
    assert result.exit_code == 2 and complaint in result.output, result.output
    assert "rung" not in result.stdout


def test_plan_prints_the_rungs_and_writes_nothing(tmp_path, inputs):
    content, style, _ = inputs
    config = tmp_path / "two.toml"
    config.write_text("[[rung]]\nlong_edge_px = 32\niterations = 3\n\n"
                      "[[rung]]\nlong_edge_px = 64\niterations = 5\n")
    before = file_tree(tmp_path)
    result = _render(content, style, "-o", tmp_path / "out.png", "-c", config, "--backbone", "tiny", "--plan")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "backbone: tiny (fixed random weights (tests only))"
    assert lines[1].startswith("devices: /cpu:0;")
    assert lines[2].split() == ["rung", "size", "iterations", "optimizer", "pairs", "evaluation", "memory", "time"]
    rows = [line.split() for line in lines[3:5]]
    # Pairs: as many as the iterations can use (3 iterations use 2), not the 10 asked for.
    assert [row[:7] for row in rows] == [["1", "32x32", "3", "lbfgs", "2", "whole", "image"],
                                         ["2", "64x48", "5", "lbfgs", "4", "whole", "image"]]
    assert all(row[8] == "GiB" for row in rows)
    assert lines[5].startswith("compiled: XLA on no rung")  # 32 px rungs: XLA would not pay
    # 32x32 px x 3 iterations + 64x48 px x 5 iterations, in millions.
    assert lines[6] == "work: 0.0184 megapixel-iterations (each rung's pixels times its iterations)"
    assert lines[7].startswith("time: about ") and "hires bench" in lines[7]  # no rate measured here
    assert "multiples of 16 px" in lines[8]
    assert len(lines) == 9
    assert file_tree(tmp_path) == before


@pytest.mark.parametrize("options, note", [
    ([], "rung 2: content weight 3 (the ladder's: 1)"),  # the built-in ladder's rung below a 1024 px top
    (["--content-weight", "2"], "rung 2: content weight 6 (the ladder's: 2)"),
])
def test_plan_names_a_rungs_own_loss_weight(tmp_path, inputs, options, note):
    content, style, _ = inputs
    result = _render(content, style, "-o", tmp_path / "out.png", "--size", "1024", "--backbone", "tiny", "--plan",
                     *options)
    assert result.exit_code == 0, result.output
    notes = [line.strip() for line in result.stdout.splitlines() if " weight " in line]
    assert notes == [note], result.stdout


@pytest.mark.parametrize("options, says", [([], True), (["--stop-gain", "0"], False)])
def test_plan_says_when_rungs_may_stop_early(tmp_path, inputs, options, says):
    from hires.config import DEFAULT_STOP_GAIN

    content, style, _ = inputs
    config = tmp_path / "long.toml"
    config.write_text("[[rung]]\nlong_edge_px = 32\niterations = 30\n")
    result = _render(content, style, "-o", tmp_path / "out.png", "-c", config, "--backbone", "tiny", "--plan", *options)
    assert result.exit_code == 0, result.output
    line = f"stops early: an L-BFGS rung ends when 10 iterations lower the loss by less than {DEFAULT_STOP_GAIN:.2%}"
    assert (line in result.stdout) == says, result.stdout


# ---------------------------------------------------------------------------------------------
# Bad input: exit status 2, one error line naming the problem, nothing written
# ---------------------------------------------------------------------------------------------

def _truncated_jpeg(path: Path) -> None:
    save_png(path.with_suffix(".full.jpg"), noise_image(64, 64, seed=2))
    data = path.with_suffix(".full.jpg").read_bytes()
    path.with_suffix(".full.jpg").unlink()
    path.write_bytes(data[: len(data) // 2])


def _bad_content(kind: str):
    """Builds a bad content file in a folder; returns its path."""
    def make(folder: Path) -> Path:
        path = folder / {"truncated": "photo.jpg"}.get(kind, "photo.png")
        if kind == "empty":
            path.write_bytes(b"")
        elif kind == "text":
            path.write_text("this is not a picture\n")
        elif kind == "truncated":
            _truncated_jpeg(path)
        elif kind == "one-pixel":
            Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
        elif kind == "too-long":
            Image.new("1", (20000, 10), 1).save(path)  # bilevel: a few hundred bytes
        return path
    return make


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


# (id, how to build the arguments from (folder, content, style, output), words the error line holds)
BAD_FILE_CASES = [
    ("missing-content", lambda f, c, s, o: [f / "nope.png", s, "-o", o], ["nope.png", "no such file"]),
    ("missing-style", lambda f, c, s, o: [c, f / "nostyle.jpg", "-o", o], ["nostyle.jpg", "no such file"]),
    ("missing-second-style", lambda f, c, s, o: [c, s, f / "nostyle2.jpg", "-o", o], ["nostyle2.jpg"]),
    ("empty-file", lambda f, c, s, o: [_bad_content("empty")(f), s, "-o", o], ["photo.png", "empty"]),
    ("text-named-png", lambda f, c, s, o: [_bad_content("text")(f), s, "-o", o], ["photo.png", "not an image"]),
    ("truncated-jpeg", lambda f, c, s, o: [_bad_content("truncated")(f), s, "-o", o], ["photo.jpg", "truncated"]),
    ("one-pixel", lambda f, c, s, o: [_bad_content("one-pixel")(f), s, "-o", o], ["photo.png", "1x1", "too small"]),
    ("20000x10", lambda f, c, s, o: [_bad_content("too-long")(f), s, "-o", o], ["photo.png", "20000x10", "aspect"]),
    ("style-is-a-folder", lambda f, c, s, o: [c, f, "-o", o], ["folder"]),
    ("unknown-output-extension", lambda f, c, s, o: [c, s, "-o", f / "out.xyz"], ["out.xyz", ".xyz", ".png"]),
    ("output-folder-is-a-file", lambda f, c, s, o: [c, s, "-o", f / "afile" / "out.png"],
     ["afile", "is a file, not a folder"]),
    ("output-is-a-folder", lambda f, c, s, o: [c, s, "-o", _folder(f / "dir.png")], ["dir.png", "is a folder"]),
    ("missing-init", lambda f, c, s, o: [c, s, "-o", o, "--init", f / "start.png"], ["start.png", "no such file"]),
    ("missing-vgg19-weights", lambda f, c, s, o: [c, s, "-o", o, "--backbone", "vgg19", "--weights", f / "w.h5"],
     ["w.h5", "not found", "--weights"]),
    ("output-is-the-photograph", lambda f, c, s, o: [c, s, "-o", c, "--overwrite"],
     ["content.png", "the photograph this render reads", "replace"]),
    ("output-is-the-painting", lambda f, c, s, o: [c, s, "-o", s, "--overwrite"], ["style.png", "painting"]),
    ("weights-unused-by-backbone", lambda f, c, s, o: [c, s, "-o", o, "--weights", f / "afile"],
     ["afile", "backbone tiny, which does not use it"]),
]

BAD_OPTION_CASES = [
    ("negative-size", ["--size", "-64"], ["size", "-64"]),
    ("zero-iterations", ["--iterations", "0"], ["iterations must be 1 or more", "not 0"]),
    ("negative-style-weight", ["--style-weight", "-1"], ["style_weight", "-1"]),
    ("blend-count", ["--style-blend", "0.2,0.3,0.5"], ["--style-blend", "3 weights for 1 styles"]),
    ("blend-not-numbers", ["--style-blend", "a,b"], ["style_blend", "numbers"]),
    ("negative-seed", ["--seed", "-1"], ["seed must be 0 or more"]),
    ("nan-blend", ["--style-blend", "nan"], ["style_blend weights must be finite"]),
    ("config-missing", ["-c", "nowhere.toml"], ["nowhere.toml", "not found"]),
]

def _file_case_params():
    for case_id, build, words in BAD_FILE_CASES:
        yield pytest.param(build, words, id=case_id)


@pytest.mark.parametrize("build, words", list(_file_case_params()))
def test_a_bad_file_is_one_error_line_status_2_and_nothing_written(tmp_path, build, words):
    content = save_png(tmp_path / "content.png", smooth_image(48, 64, seed=0))
    style = save_png(tmp_path / "style.png", noise_image(40, 40, seed=1))
    (tmp_path / "afile").write_text("I am a file\n")
    args = build(tmp_path, content, style, tmp_path / "out.png")
    before = file_tree(tmp_path)
    result = _render("--backbone", "tiny", "--size", "32", "--iterations", "2", *args)  # args may override
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    for word in words:
        assert word in line, (word, line)
    assert result.stdout == ""
    assert file_tree(tmp_path) == before  # no output, no .rungs folder, no contact sheet


@pytest.mark.parametrize("options, words", [pytest.param(o, w, id=i) for i, o, w in BAD_OPTION_CASES])
def test_a_bad_option_is_one_error_line_status_2_and_nothing_written(tmp_path, inputs, options, words):
    content, style, _ = inputs
    before = file_tree(tmp_path)
    result = _render(content, style, "-o", tmp_path / "out.png", "--backbone", "tiny",
                     "--size", "32", "--iterations", "2", *options)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    for word in words:
        assert word in line, (word, line)
    assert file_tree(tmp_path) == before


def test_a_missing_init_file_with_quiet_is_one_error_line_and_nothing_written(tmp_path, inputs):
    content, style, _ = inputs
    before = file_tree(tmp_path)
    result = _render(content, style, "-o", tmp_path / "out.png", "--init", tmp_path / "start.png",
                     "--backbone", "tiny", "--size", "32", "--iterations", "2", "-q")
    assert result.exit_code == 2, result.output
    assert "start.png" in _one_error_line(result)
    assert file_tree(tmp_path) == before


@pytest.mark.parametrize("options, words", [
    pytest.param(["--backbone", "resnet"], ["--backbone", "resnet"], id="unknown-backbone"),
    pytest.param(["--optimizer", "sgd"], ["--optimizer", "sgd"], id="unknown-optimizer"),
    pytest.param(["--adam-preset", "fast"], ["--adam-preset", "fast", "seed-report"], id="unknown-adam-preset"),
    pytest.param(["--size", "big"], ["--size", "integer"], id="size-not-a-number"),
])
def test_a_bad_option_value_is_a_usage_error_with_status_2(tmp_path, inputs, options, words):
    content, style, _ = inputs
    before = file_tree(tmp_path)
    result = _render(content, style, "-o", tmp_path / "out.png", *options)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.stderr
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.output
    assert file_tree(tmp_path) == before


def test_render_without_an_output_is_a_usage_error(inputs):
    content, style, _ = inputs
    result = _render(content, style)
    assert result.exit_code == 2
    assert "--output" in result.stderr


@pytest.mark.slow
def test_the_console_script_gives_one_error_line_and_status_2(tmp_path):
    script = Path(sys.executable).parent / "hires"
    if not script.is_file():
        pytest.skip(f"no console script at {script}")
    style = save_png(tmp_path / "style.png", noise_image(40, 40, seed=1))
    before = file_tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run(
        [str(script), "render", "missing.png", str(style), "-o", "out.png", "--backbone", "tiny"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr  # no TensorFlow start-up chatter either
    assert lines[0].startswith("error: ") and "missing.png" in lines[0]
    assert "Traceback" not in completed.stderr + completed.stdout
    assert completed.stdout == ""
    assert file_tree(tmp_path) == before


# ---------------------------------------------------------------------------------------------
# demo and help
# ---------------------------------------------------------------------------------------------

def test_demo_refuses_an_existing_output_without_overwrite(tmp_path):
    output = tmp_path / "demo.png"
    output.write_bytes(b"an earlier demo")
    before = file_tree(tmp_path)
    result = runner.invoke(app, ["demo", "-o", str(output), "--backbone", "tiny", "-q"])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert "--overwrite" in line and str(output) in line
    assert result.stdout == ""
    assert file_tree(tmp_path) == before


def test_demo_refuses_an_unknown_output_extension(tmp_path):
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo.gif"), "--backbone", "tiny"])
    assert result.exit_code == 2, result.output
    assert ".gif" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, words", [
    pytest.param(["--help"], ["render", "demo"], id="hires"),
    pytest.param(["render", "--help"],
                 ["--output", "--config", "--size", "--iterations", "--backbone", "--weights",
                  "--style-weight", "--style-blend", "--init", "--optimizer", "--seed", "--overwrite",
                  "--plan", "--quiet"], id="render"),
    pytest.param(["demo", "--help"], ["--output", "--backbone", "--overwrite", "--quiet"], id="demo"),
])
def test_help_lists_the_commands_and_options(args, words):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.stdout, word


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert result.exit_code == 2  # no_args_is_help: the usage is shown as for a usage error
    assert "render" in result.output and "demo" in result.output


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path):
    """A small file that declares 400 megapixels: refused from its header, nothing written."""
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)
    style = save_png(tmp_path / "style.png", smooth_image(40, 40, 1))
    before = file_tree(tmp_path)
    result = runner.invoke(app, ["render", str(bomb), str(style), "-o", str(tmp_path / "out.png"),
                                 "--backbone", "tiny", "--size", "32", "--iterations", "2"])
    assert result.exit_code == 2
    assert "bomb.png" in result.stderr and "--max-input-megapixels" in result.stderr
    assert file_tree(tmp_path) == before


def test_render_in_mixed_precision_writes_a_close_picture(tmp_path, inputs):
    content, style, _ = inputs
    pictures = {}
    for precision in ("float32", "bfloat16"):
        output = tmp_path / f"{precision}.png"
        result = _render(content, style, "-o", output, *FAST, "--precision", precision, "--quiet")
        assert result.exit_code == 0, result.output
        pictures[precision] = images.read_image(output)
    difference = np.abs(pictures["float32"] - pictures["bfloat16"])
    assert 0 < difference.mean() < 0.02, difference.mean()


def test_an_unknown_precision_is_refused(tmp_path, inputs):
    content, style, _ = inputs
    result = _render(content, style, "-o", tmp_path / "out.png", *FAST, "--precision", "float16")
    assert result.exit_code == 2
    assert "float16" in result.output and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("options, note", [
    ([], "small.png (16x16 px) is shown 2.0x its size at rung 1, which asks 4.0x"),
    (["--style-enlarge", "1"], "small.png (16x16 px) is shown 4.0x its size at rung 1, which asks 4.0x"),
    (["--style-scale", "0.5"], None),
])
def test_plan_says_when_a_rung_asks_a_painting_four_times_its_size_or_more(tmp_path, inputs, options, note):
    content, _, _ = inputs
    small = save_png(tmp_path / "small.png", noise_image(16, 16, seed=3))  # asked 4x at a 64 px rung
    result = _render(content, small, "-o", tmp_path / "out.png", "--backbone", "tiny", "--size", "64", *options,
                     "--plan")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    if note is None:
        assert "small.png (16x16 px) is shown" not in text, text
    else:
        assert note in text and "a larger scan of it" in text, text


@pytest.mark.parametrize("option, value, name", [("--style-enlarge", "1.5", "style_enlarge"),
                                                 ("--coarse-step", "0", "coarse_step")])
def test_a_bad_style_enlarge_or_coarse_step_is_refused(tmp_path, inputs, option, value, name):
    content, style, _ = inputs
    result = _render(content, style, "-o", tmp_path / "out.png", *FAST, option, value)
    assert result.exit_code == 2
    assert name in result.output and value in result.output and not (tmp_path / "out.png").exists()


def test_render_help_states_the_settings_own_defaults():
    """Each `[default: X]` in render's help that names a setting is that setting's default (a
    changed default, or a help text copied from another option, would otherwise mislead)."""
    import dataclasses
    import re

    import typer

    from hires.cli import app
    from hires.config import RenderSettings, default_settings

    defaults, names = default_settings(), {f.name for f in dataclasses.fields(RenderSettings)}
    checked = []
    for param in typer.main.get_command(app).commands["render"].params:
        stated = re.search(r"\[default: ([^\],]+)", param.help or "")
        value = getattr(defaults, param.name, None)
        if param.name in names and stated and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            assert stated.group(1) in (str(value), f"{value:g}" if isinstance(value, float) else str(value)), param.name
            checked.append(param.name)
    assert {"tolerance", "stop_gain", "seed", "jpeg_quality"} <= set(checked)
