"""Tests for hires.config and the command line's precedence: the shipped configs, broken configs,
and defaults < config < command line.

Every broken config is written to tmp_path; the command-line tests use the tiny backbone and
64 x 48 images made with Pillow, so nothing large is loaded.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, replace
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from hires.cli import app, build_settings, demo_settings
from hires.config import (DEFAULT_SIZE_PX, final_ladder, PAPER_STYLE_LAYERS, RenderSettings, default_settings,
                          load_config, settings_fields)
from hires.errors import HiresError
from hires.ladder import Ladder, Rung, default_rungs

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIGS_DIR.glob("*.toml"))

RUNG = "[[rung]]\nlong_edge_px = 256\niterations = 10\n"
TWO_RUNGS = RUNG + "\n[[rung]]\nlong_edge_px = 512\niterations = 5\n"


def _ladder(settings: RenderSettings):
    """The ladder a render of these settings climbs (hires.config.final_ladder)."""
    return final_ladder(settings)[0]


def _sizes(settings: RenderSettings) -> list[int]:
    return [rung.long_edge_px for rung in _ladder(settings).rungs]


def _resolved(settings: RenderSettings) -> list[Rung]:
    ladder = _ladder(settings)
    return [ladder.resolve(i) for i in range(len(ladder.rungs))]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The shipped configs
# ---------------------------------------------------------------------------------------------

def test_configs_folder_has_the_shipped_configs():
    names = {path.name for path in CONFIGS}
    assert {"quick.toml", "print-2k.toml", "poster-4k.toml", "poster-8k.toml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_with_strictly_increasing_rungs(path):
    settings = load_config(path)
    sizes = _sizes(settings)
    assert sizes, f"{path.name} has no rung"
    assert all(a < b for a, b in zip(sizes, sizes[1:])), f"{path.name}: rungs {sizes} do not increase"
    assert all(rung.iterations >= 1 for rung in settings.ladder.rungs)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_writes_out_its_rungs(path):
    """A config states its ladder; it does not fall back on the built-in default rungs."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data.get("rung"), list) and data["rung"], f"{path.name} has no [[rung]] table"


def test_configs_readme_explains_every_field():
    """configs/README.md explains the config fields once: it names every field the loader accepts."""
    text = (CONFIGS_DIR / "README.md").read_text(encoding="utf-8")
    names = ((set(settings_fields()) - {"ladder"})
             | ({f.name for f in fields(Ladder)} - {"rungs"})
             | {f.name for f in fields(Rung)})
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", text))
    assert not missing, f"configs/README.md does not explain {missing}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_points_to_the_configs_readme(path):
    """Each config leaves the fields' explanation to configs/README.md, and says so in a comment."""
    comments = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if line.lstrip().startswith("#"))
    assert "configs/README.md" in comments, f"{path.name} does not point to configs/README.md in a comment"


def _top_level(settings: RenderSettings) -> dict:
    """Every setting a config's top level can hold (the ladder's too, but not its rungs), by name."""
    values = {name: getattr(settings, name) for name in settings_fields() if name != "ladder"}
    return values | {f.name: getattr(settings.ladder, f.name) for f in fields(Ladder) if f.name != "rungs"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_top_level_values_are_the_defaults(path):
    """The shipped configs make their choices in their rungs; their top level is the defaults, spelled out."""
    assert _top_level(load_config(path)) == _top_level(default_settings())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_spells_out_every_default(path):
    """A setting added later must be added to the shipped configs too: a user changes one there."""
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = _top_level(default_settings())
    assert [name for name, value in defaults.items() if value is not None and name not in written] == []


def test_quick_config_is_the_demo_ladder():
    """configs/quick.toml and the ladder built into `hires demo` must not drift apart."""
    quick = load_config(CONFIGS_DIR / "quick.toml")
    assert quick.ladder == demo_settings().ladder
    assert _sizes(quick) == [128, 192, 256]
    assert [r.iterations for r in quick.ladder.rungs] == [100, 40, 30]


def test_quick_config_is_otherwise_the_defaults():
    assert load_config(CONFIGS_DIR / "quick.toml") == demo_settings()


def test_print_2k_ladder():
    settings = load_config(CONFIGS_DIR / "print-2k.toml")
    assert _sizes(settings) == [256, 512, 1024, 2048]
    iterations = [r.iterations for r in settings.ladder.rungs]
    assert all(a >= b for a, b in zip(iterations, iterations[1:]))


def test_print_2k_earlier_iterations_are_known_for_its_sizes():
    """A render begun under print-2k's earlier iterations resumes (hires.plan); that needs its
    sizes in the history, and today's iterations must differ from every earlier version's."""
    from hires.ladder import EARLIER_CONFIG_ITERATIONS

    settings = load_config(CONFIGS_DIR / "print-2k.toml")
    earlier = EARLIER_CONFIG_ITERATIONS[tuple(_sizes(settings))]
    assert tuple(r.iterations for r in settings.ladder.rungs) not in earlier
    assert all(len(iterations) == len(settings.ladder.rungs) for iterations in earlier)


@pytest.mark.parametrize("name, sizes", [
    ("poster-4k.toml", [256, 512, 1024, 2048, 4096]),
    ("poster-8k.toml", [256, 512, 1024, 2048, 4096, 8192]),
])
def test_poster_ladders_double_to_the_top_with_less_history_and_fewer_iterations_up_top(name, sizes):
    settings = load_config(CONFIGS_DIR / name)
    assert _sizes(settings) == sizes
    resolved = _resolved(settings)
    pairs = [r.correction_pairs for r in resolved]
    iterations = [r.iterations for r in resolved]
    assert all(a >= b for a, b in zip(pairs, pairs[1:])), pairs
    assert all(a > b for a, b in zip(iterations, iterations[1:])), iterations
    assert resolved[-1].correction_pairs < default_settings().ladder.correction_pairs
    four_k = next(r for r in resolved if r.long_edge_px == 4096)
    assert four_k.correction_pairs == 5


def test_poster_8k_size_10800_adjusts_the_last_rung():
    settings = build_settings(CONFIGS_DIR / "poster-8k.toml", 10800, None)
    assert _sizes(settings) == [256, 512, 1024, 2048, 4096, 10800]
    original = load_config(CONFIGS_DIR / "poster-8k.toml").ladder.rungs[-1]
    assert _ladder(settings).rungs[-1].iterations == original.iterations
    assert _ladder(settings).rungs[-1].correction_pairs == original.correction_pairs


# ---------------------------------------------------------------------------------------------
# Good configs written here
# ---------------------------------------------------------------------------------------------

def test_empty_config_is_the_defaults(tmp_path):
    loaded = load_config(_write(tmp_path, "empty.toml", ""))
    assert loaded.ladder.rungs == ()  # no ladder of its own: --size builds the default one
    assert _ladder(loaded) == default_settings().ladder
    assert _sizes(default_settings()) == [256, DEFAULT_SIZE_PX]


def test_config_sets_every_kind_of_field(tmp_path):
    path = _write(tmp_path, "full.toml", """
backbone = "vgg19"
weights = "/somewhere/vgg19.h5"
pooling = "max"
precision = "bfloat16"
content_layer = "block3_conv1"
style_layers = { block1_conv1 = 2, block2_conv1 = 0.5 }
style_blend = [0.7, 0.3]
init = "noise"
seed = 7
tolerance = 0.001
start_noise = 0.05
start_detail = 0.75
style_enlarge = 0.25
coarse_step = 0.3
adam_preset = "standard"
chunk_iterations = 5
content_weight = 2
style_weight = 5.5
tv_weight = 0.25
style_scale = 1.5
correction_pairs = 6
optimizer = "adam"
upsample = "lanczos3"

[[rung]]
long_edge_px = 128
iterations = 30

[[rung]]
long_edge_px = 300
iterations = 20
content_weight = 0
style_weight = 20
tv_weight = 1
style_scale = 0.5
correction_pairs = 3
optimizer = "lbfgs"
""")
    settings = load_config(path)
    assert (settings.backbone, settings.weights, settings.pooling, settings.content_layer) == (
        "vgg19", "/somewhere/vgg19.h5", "max", "block3_conv1")
    assert settings.precision == "bfloat16"
    assert settings.start_noise == 0.05
    assert settings.start_detail == 0.75
    assert settings.style_enlarge == 0.25
    assert settings.coarse_step == 0.3
    assert settings.style_layers == (("block1_conv1", 2.0), ("block2_conv1", 0.5))
    assert settings.style_blend == (0.7, 0.3)
    assert (settings.init, settings.seed, settings.tolerance, settings.adam_preset, settings.chunk_iterations) == (
        "noise", 7, 0.001, "standard", 5)
    ladder = settings.ladder
    assert (ladder.content_weight, ladder.style_weight, ladder.tv_weight, ladder.style_scale,
            ladder.correction_pairs, ladder.optimizer, ladder.upsample) == (2.0, 5.5, 0.25, 1.5, 6, "adam", "lanczos3")
    assert ladder.rungs == (Rung(128, 30), Rung(300, 20, 0.0, 20.0, 1.0, 0.5, 3, "lbfgs"))
    assert isinstance(ladder.content_weight, float) and isinstance(ladder.rungs[1].style_weight, float)
    first, second = _resolved(settings)
    assert (first.style_weight, first.optimizer) == (5.5, "adam")
    assert (second.style_weight, second.optimizer) == (20.0, "lbfgs")


def test_style_blend_may_be_a_string(tmp_path):
    assert load_config(_write(tmp_path, "blend.toml", 'style_blend = "0.7,0.3"\n')).style_blend == (0.7, 0.3)


# ---------------------------------------------------------------------------------------------
# Broken configs: HiresError naming the file and the field
# ---------------------------------------------------------------------------------------------

BROKEN = [
    # id, text, words the message must contain (besides the file name)
    ("syntax", 'backbone = "tiny"\nstyle_weight = = 3\n', ["not valid TOML", "line 2"]),
    ("syntax-unclosed-table", "[[rung]\nlong_edge_px = 256\n", ["not valid TOML", "line 1"]),
    ("unknown-top-level-field", "style_wieght = 3\n", ["unknown field", "'style_wieght'", "style_weight"]),
    ("rung-field-at-top-level", "long_edge_px = 100\n", ["unknown field", "'long_edge_px'"]),
    ("run-option", "devices = 'cpu'\n" + RUNG, ["unknown field", "'devices'", "--devices", "on the command line"]),
    ("dashed-field", "style-weight = 3\n" + RUNG, ["unknown field", "underscores: style_weight"]),
    ("print-for-print-size", "print = '20x30cm'\n" + RUNG, ["unknown field", "print_size"]),
    ("unknown-rung-field", RUNG + "upsample = 'nearest'\n", ["rung 1", "unknown field", "'upsample'"]),
    ("misspelt-rung-field", RUNG + "\n[[rung]]\nlong_edge_px = 512\niteration = 5\n", ["rung 2", "'iteration'"]),
    ("string-for-float", 'style_weight = "10"\n' + RUNG, ["style_weight", "a number", "'10'"]),
    ("string-for-int", '[[rung]]\nlong_edge_px = 256\niterations = "100"\n', ["rung 1", "iterations", "whole number"]),
    ("float-for-int", "[[rung]]\nlong_edge_px = 256.0\niterations = 10\n", ["long_edge_px", "whole number", "256.0"]),
    ("bool-for-int", "[[rung]]\nlong_edge_px = 256\niterations = true\n", ["iterations", "whole number", "True"]),
    ("bool-for-int-top-level", "seed = true\n", ["seed", "whole number", "True"]),
    ("bool-for-float", "content_weight = false\n", ["content_weight", "a number", "False"]),
    ("number-for-string", "backbone = 19\n", ["backbone", "a string", "19"]),
    ("list-for-number", "style_weight = [10]\n", ["style_weight", "a number"]),
    ("missing-iterations", "[[rung]]\nlong_edge_px = 256\n", ["rung 1", "iterations is missing"]),
    ("missing-long-edge", "[[rung]]\niterations = 10\n", ["rung 1", "long_edge_px is missing"]),
    ("rung-not-a-list", "[rung]\nlong_edge_px = 256\niterations = 10\n", ["rung", "[[rung]]"]),
    ("no-rungs", "rung = []\n", ["no rung"]),
    ("not-increasing", TWO_RUNGS.replace("512", "256"), ["rung 2", "long_edge_px", "small to large"]),
    ("decreasing", TWO_RUNGS.replace("512", "128"), ["rung 2", "long_edge_px", "128"]),
    ("too-small", "[[rung]]\nlong_edge_px = 8\niterations = 10\n", ["rung 1", "long_edge_px", "8"]),
    ("zero-iterations", TWO_RUNGS.replace("iterations = 5", "iterations = 0"), ["rung 2", "iterations", "0"]),
    ("negative-weight", "style_weight = -1\n" + RUNG, ["style_weight", "0 or more", "-1"]),
    ("negative-rung-weight", RUNG + "tv_weight = -0.5\n", ["rung 1", "tv_weight", "-0.5"]),
    ("bad-optimizer", 'optimizer = "sgd"\n' + RUNG, ["optimizer", "'sgd'", "lbfgs"]),
    ("bad-rung-optimizer", RUNG + 'optimizer = "newton"\n', ["rung 1", "optimizer", "'newton'"]),
    ("bad-style-scale", RUNG + "style_scale = 0\n", ["rung 1", "style_scale", "0.01"]),
    ("bad-correction-pairs", RUNG + "correction_pairs = 0\n", ["rung 1", "correction_pairs"]),
    ("bad-upsample", 'upsample = "cubic"\n', ["upsample", "'cubic'", "bicubic"]),
    ("unknown-backbone", 'backbone = "resnet50"\n', ["backbone", "'resnet50'", "vgg16-hed"]),
    ("bad-pooling", 'pooling = "min"\n', ["pooling", "'min'"]),
    ("bad-precision", 'precision = "float16"\n', ["precision", "'float16'", "bfloat16"]),
    ("bad-tolerance", "tolerance = 1\n", ["tolerance"]),
    ("bad-start-noise", "start_noise = 1.5\n", ["start_noise", "1.5", "between 0 and 1"]),
    ("bad-start-detail", "start_detail = -1\n", ["start_detail", "-1", "between 0 (none"]),
    ("bad-style-enlarge", "style_enlarge = 2\n", ["style_enlarge", "2", "between 0 (never enlarge"]),
    ("bad-coarse-step", "coarse_step = 0\n", ["coarse_step", "0", "between 0.01", "1 (plain pixels)"]),
    ("bad-chunk-iterations", "chunk_iterations = 0\n", ["chunk_iterations"]),
    ("negative-seed", "seed = -1\n", ["seed"]),
    ("bad-adam-preset", 'adam_preset = "fast"\n', ["adam_preset", "'fast'", "seed-report"]),
    ("style-layers-not-a-table", 'style_layers = ["block1_conv1"]\n', ["style_layers"]),
    ("style-layer-weight-not-a-number", 'style_layers = { block1_conv1 = "1" }\n', ["style_layers.block1_conv1"]),
    ("negative-style-layer-weight", "style_layers = { block1_conv1 = -1.0 }\n", ["style layer weights"]),
    ("negative-style-blend", "style_blend = [1.0, -0.5]\n", ["style_blend"]),
    ("style-blend-not-numbers", 'style_blend = ["a", "b"]\n', ["style_blend"]),
]


@pytest.mark.parametrize("name, text, words", BROKEN, ids=[case[0] for case in BROKEN])
def test_broken_config_names_file_and_field(tmp_path, name, text, words):
    path = _write(tmp_path, f"{name}.toml", text)
    with pytest.raises(HiresError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "\n" not in message


def test_nan_weight_is_refused(tmp_path):
    path = _write(tmp_path, "nan.toml", "style_weight = nan\n")
    with pytest.raises(HiresError, match="style_weight"):
        load_config(path)


def test_all_zero_style_layer_weights_are_refused(tmp_path):
    path = _write(tmp_path, "zero-layers.toml", "style_layers = { block1_conv1 = 0.0, block2_conv1 = 0 }\n")
    with pytest.raises(HiresError, match="style") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_a_style_layer_listed_twice_is_refused():
    """Twice listed, its Gram matrix would count twice in the target and once in the loss."""
    from hires.config import check_settings, parse_style_layers

    layers = parse_style_layers("block1_conv1,block1_conv1:0.5,block2_conv1")
    with pytest.raises(HiresError, match="the command line: style layer block1_conv1 is listed more than once"):
        check_settings(replace(default_settings(), style_layers=layers), "the command line")


def test_missing_config_names_the_file(tmp_path):
    path = tmp_path / "no-such-config.toml"
    with pytest.raises(HiresError, match="not found") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_that_is_a_folder_names_it(tmp_path):
    path = tmp_path / "folder.toml"
    path.mkdir()
    with pytest.raises(HiresError, match="is a folder") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_that_is_not_utf8_names_it(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('init = "caf\u00e9.png"\n'.encode("latin-1"))
    with pytest.raises(HiresError, match="cannot read config") as info:
        load_config(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Precedence: defaults < config < command line (hires.config.merge_layers, through hires.cli.build_settings)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def weighted_config(tmp_path) -> Path:
    """style_weight 5 for the ladder, 20 on its second rung."""
    return _write(tmp_path, "weighted.toml", """
style_weight = 5
correction_pairs = 8
backbone = "tiny"

[[rung]]
long_edge_px = 256
iterations = 100

[[rung]]
long_edge_px = 512
iterations = 50
style_weight = 20
correction_pairs = 4

[[rung]]
long_edge_px = 1024
iterations = 20
""")


def test_config_beats_defaults_and_rung_beats_config(weighted_config):
    settings = build_settings(weighted_config, None, None)
    assert [r.style_weight for r in _resolved(settings)] == [5.0, 20.0, 5.0]
    assert [r.correction_pairs for r in _resolved(settings)] == [8, 4, 8]
    assert [r.content_weight for r in _resolved(settings)] == [1.0, 1.0, 1.0]  # the default
    assert settings.backbone == "tiny"
    assert settings == load_config(weighted_config)


def test_command_line_weight_beats_config_and_rung_overrides(weighted_config):
    settings = build_settings(weighted_config, None, None, style_weight=30.0)
    assert [r.style_weight for r in _resolved(settings)] == [30.0, 30.0, 30.0]
    assert [r.correction_pairs for r in _resolved(settings)] == [8, 4, 8]  # untouched


def test_command_line_correction_pairs_beat_rung_overrides(weighted_config):
    settings = build_settings(weighted_config, None, None, correction_pairs=12)
    assert [r.correction_pairs for r in _resolved(settings)] == [12, 12, 12]
    assert [r.style_weight for r in _resolved(settings)] == [5.0, 20.0, 5.0]


def test_command_line_none_means_not_given(weighted_config):
    settings = build_settings(weighted_config, None, None, style_weight=None, backbone=None, seed=None)
    assert settings == load_config(weighted_config)


def test_command_line_settings_beat_config(weighted_config):
    settings = build_settings(weighted_config, None, None, backbone="vgg16-hed",
                              optimizer="adam", upsample="nearest", seed=3,
                              style_blend="1,3")
    assert settings.backbone == "vgg16-hed"
    assert settings.seed == 3
    assert settings.style_blend == (1.0, 3.0)
    assert settings.ladder.upsample == "nearest"
    assert [r.optimizer for r in _resolved(settings)] == ["adam"] * 3


def test_size_adjusts_the_configs_ladder_each_rung_keeping_its_settings(weighted_config):
    settings = build_settings(weighted_config, 2048, None)
    assert _sizes(settings) == [256, 512, 2048]
    assert [r.iterations for r in _ladder(settings).rungs] == [100, 50, 20]
    settings = build_settings(weighted_config, 600, None)
    assert _sizes(settings) == [256, 512, 600]
    assert _resolved(settings)[-1].style_weight == 5.0  # the 1024 px rung's, moved down to 600
    settings = build_settings(weighted_config, 512, None)
    assert _sizes(settings) == [256, 512]
    assert _resolved(settings)[-1].style_weight == 20.0  # the config's own 512 px rung


def test_iterations_adjust_the_configs_last_rung(weighted_config):
    settings = build_settings(weighted_config, None, 7)
    assert [r.iterations for r in _ladder(settings).rungs] == [100, 50, 7]
    assert _sizes(settings) == [256, 512, 1024]


def test_without_config_the_defaults_apply():
    settings = build_settings(None, None, None)
    assert replace(settings, ladder=_ladder(settings)) == default_settings()
    assert _sizes(settings) == [256, 512]
    assert settings.style_layers == PAPER_STYLE_LAYERS


@pytest.mark.parametrize("size, sizes", [
    (1024, [256, 512, 1024]), (256, [256]), (300, [256, 300]), (100, [100]), (4096, [256, 512, 1024, 2048, 4096])])
def test_without_config_size_builds_the_default_ladder(size, sizes):
    assert _sizes(build_settings(None, size, None)) == sizes
    assert _ladder(build_settings(None, size, None)).rungs == default_rungs(size)


def test_without_config_iterations_adjust_the_last_rung():
    settings = build_settings(None, 1024, 33, style_weight=2.0)
    assert [r.iterations for r in _ladder(settings).rungs] == [200, 60, 33]
    assert {r.style_weight for r in _resolved(settings)} == {2.0}


def test_without_config_content_weight_scales_the_rung_below_a_small_top_too():
    # The built-in 512 px rung below a 1024 px top weighs content 3x the ladder's: a user's
    # --content-weight moves it with the others rather than leaving it at 3.
    assert [r.content_weight for r in _resolved(build_settings(None, 1024, None))] == [1.0, 3.0, 1.0]
    assert [r.content_weight for r in _resolved(build_settings(None, 1024, None, content_weight=0.5))] == [0.5, 1.5, 0.5]


def test_config_without_rungs_and_size_builds_the_default_ladder(tmp_path):
    path = _write(tmp_path, "weights-only.toml", "style_weight = 5.0\n")
    assert _sizes(build_settings(path, 1024, None)) == [256, 512, 1024]


@pytest.mark.parametrize("overrides, words", [
    ({"style_weight": -1.0}, ["style_weight"]),
    ({"correction_pairs": 0}, ["correction_pairs"]),
    ({"style_scale": 100.0}, ["style_scale"]),
    ({"tolerance": 2.0}, ["tolerance"]),
    ({"start_noise": -0.1}, ["start_noise", "-0.1"]),
    ({"start_detail": float("nan")}, ["start_detail", "nan"]),
    ({"style_enlarge": float("nan")}, ["style_enlarge", "nan"]),
    ({"coarse_step": 1.5}, ["coarse_step", "1.5"]),
    ({"style_blend": "0.5,x"}, ["--style-blend"]),
])
def test_bad_command_line_values_raise(weighted_config, overrides, words):
    with pytest.raises(HiresError) as info:
        build_settings(weighted_config, None, None, **overrides)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("size, iterations, words", [(8, None, ["size"]), (None, 0, ["iterations"])])
def test_bad_size_or_iterations_raise_naming_the_command_line(size, iterations, words):
    with pytest.raises(HiresError) as info:
        build_settings(None, size, iterations)
    assert "the command line" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_build_settings_with_a_broken_config_raises_naming_it(tmp_path):
    path = _write(tmp_path, "broken.toml", "style_weight = 'ten'\n")
    with pytest.raises(HiresError) as info:
        build_settings(path, None, None, style_weight=3.0)  # the config is checked even if overridden
    assert str(path) in str(info.value) and "style_weight" in str(info.value)


# ---------------------------------------------------------------------------------------------
# The command line: `hires render --plan`
# ---------------------------------------------------------------------------------------------

runner = CliRunner()
PLAN_ROW = re.compile(r"^\s*(\d+)\s+(\d+)x(\d+)\s+(\d+)\s+(lbfgs|adam)\s+(\d+|-)\s+"
                      r"(whole image|\d+ tiles of \d+)\s+([\d.]+) GiB\s+(\S+)$")


@pytest.fixture
def images(tmp_path) -> tuple[Path, Path, Path]:
    """A 64 x 48 content PNG, a 48 x 64 style PNG, and an output path."""
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(content)
    Image.new("RGB", (48, 64), (30, 60, 190)).save(style)
    return content, style, tmp_path / "out.png"


def _plan(images, *options: str):
    """--plan with a fixed memory, so that the plan is the same on every machine (and while it is busy)."""
    content, style, output = images
    memory = [] if "--memory-gb" in options else ["--memory-gb", "64"]
    return runner.invoke(app, ["render", "--plan", *memory, *options, str(content), str(style), "-o", str(output)])


def _rows(stdout: str) -> list[tuple[int, int, int, int, str]]:
    rows = []
    for line in stdout.splitlines():
        match = PLAN_ROW.match(line)
        if match:
            index, width, height, iterations, optimizer = match.groups()[:5]
            rows.append((int(index), int(width), int(height), int(iterations), optimizer))
    return rows


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_plan_of_each_config(images, path):
    result = _plan(images, "-c", str(path), "--backbone", "tiny")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    settings = load_config(path)
    assert [row[0] for row in rows] == list(range(1, len(settings.ladder.rungs) + 1))
    assert [row[1] for row in rows] == _sizes(settings)  # 64 x 48 is landscape: width is the long edge
    for (_, width, height, iterations, optimizer), rung in zip(rows, _resolved(settings)):
        assert height == round(width * 3 / 4 / 16) * 16
        assert (iterations, optimizer) == (rung.iterations, rung.optimizer)
    assert "backbone: tiny" in result.stdout
    assert not (images[2]).exists()  # --plan renders nothing


def test_plan_applies_size_and_iterations_to_the_configs_last_rung(images):
    result = _plan(images, "-c", str(CONFIGS_DIR / "poster-8k.toml"), "--backbone", "tiny",
                   "--size", "10800", "--iterations", "7", "--optimizer", "adam")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [row[1] for row in rows] == [256, 512, 1024, 2048, 4096, 10800]
    assert rows[-1][1:4] == (10800, 8096, 7)
    assert {row[4] for row in rows} == {"adam"}


def test_plan_without_config_uses_the_default_ladder(images):
    result = _plan(images, "--backbone", "tiny", "--size", "1024")
    assert result.exit_code == 0, result.output
    assert [row[1] for row in _rows(result.stdout)] == [256, 512, 1024]


CLI_BROKEN = [case for case in BROKEN if case[0] in {
    "syntax", "unknown-top-level-field", "unknown-rung-field", "string-for-int", "bool-for-int",
    "missing-iterations", "not-increasing", "zero-iterations", "negative-weight", "unknown-backbone"}]


@pytest.mark.parametrize("name, text, words", CLI_BROKEN, ids=[case[0] for case in CLI_BROKEN])
def test_plan_with_a_broken_config_is_one_error_line_and_status_2(tmp_path, images, name, text, words):
    path = _write(tmp_path, f"{name}.toml", text)
    result = _plan(images, "-c", str(path), "--backbone", "tiny")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0]
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_plan_with_a_missing_config_is_one_error_line_and_status_2(tmp_path, images):
    path = tmp_path / "missing.toml"
    result = _plan(images, "-c", str(path), "--backbone", "tiny")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and str(path) in result.stderr and "not found" in result.stderr
