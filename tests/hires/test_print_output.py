"""Print-ready output and artistic controls, end to end on the tiny backbone."""

from dataclasses import replace

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms
from typer.testing import CliRunner

from hires import colour, images
from hires.cli import app
from hires.config import default_settings
from hires.ladder import Ladder, Rung
from hires.inputs import resize, to_tensor
from hires.job import RenderJob
from hires.render import render
from tests.conftest import noise_image, save_png, smooth_image

runner = CliRunner()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    content = save_png(folder / "content.png", 0.2 + 0.6 * smooth_image(48, 64, 0))
    style = save_png(folder / "style.png", noise_image(40, 40, 1))
    other = save_png(folder / "other.png", smooth_image(40, 40, 7))
    return content, style, other


def _tiny(**values):
    return replace(default_settings(), backbone="tiny", ladder=Ladder(rungs=(Rung(48, 4),)), **values)


def test_print_size_sets_exact_pixels_and_dpi(pair, tmp_path):
    content, style, _ = pair
    output = tmp_path / "print.tif"
    result = runner.invoke(app, ["render", str(content), str(style), "-o", str(output), "--backbone", "tiny",
                                 "--iterations", "3", "--print", "1x1in", "--dpi", "50", "-q"])
    assert result.exit_code == 0, result.output
    with Image.open(output) as written:
        assert written.size == (50, 38)  # 64x48 fitted inside a 1x1 in box at 50 dpi
        assert written.info["dpi"] == pytest.approx((50, 50))
        assert "sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(
            __import__("io").BytesIO(written.info["icc_profile"])))


def test_plan_reports_the_print(pair, tmp_path):
    content, style, _ = pair
    result = runner.invoke(app, ["render", "--plan", str(content), str(style), "-o", str(tmp_path / "x.png"),
                                 "--backbone", "tiny", "--print", "24x36in", "--dpi", "300", "--memory-gb", "64"])
    assert result.exit_code == 0, result.output  # the memory is given: the plan is the same on every machine
    assert "9600x7200 px" in result.stdout
    assert not (tmp_path / "x.png").exists()


def test_size_and_print_together_are_refused(pair, tmp_path):
    content, style, _ = pair
    result = runner.invoke(app, ["render", str(content), str(style), "-o", str(tmp_path / "x.png"),
                                 "--size", "64", "--print", "24x36in"])
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_sixteen_bit_tiff_has_sixteen_bit_samples(pair, tmp_path):
    content, style, _ = pair
    output = tmp_path / "deep.tif"
    render(RenderJob(content, (style,), output, _tiny(bit_depth=16)))
    assert tifffile.imread(output).dtype == np.uint16


def test_luminance_keeps_the_photographs_chroma(pair, tmp_path):
    content, style, _ = pair
    output = tmp_path / "lum.png"
    render(RenderJob(content, (style,), output, _tiny(preserve_colors="luminance")))
    result = images.read_image(output)
    photo = resize(to_tensor(images.read_image(content)), *result.shape[:2])[0].numpy()
    chroma_out, chroma_photo = colour.to_yiq(result)[..., 1:], colour.to_yiq(photo)[..., 1:]
    assert np.abs(chroma_out - chroma_photo).max() < 4 / 255  # 8-bit quantisation, nothing more
    assert np.abs(colour.to_yiq(result)[..., 0] - colour.to_yiq(photo)[..., 0]).max() > 0.01  # styled


def test_histogram_mode_renders(pair, tmp_path):
    content, style, _ = pair
    render(RenderJob(content, (style,), tmp_path / "hist.png", _tiny(preserve_colors="histogram")))
    assert (tmp_path / "hist.png").exists()


def test_blend_weights_one_zero_equal_the_single_style_render(pair, tmp_path):
    content, style, other = pair
    render(RenderJob(content, (style,), tmp_path / "single.png", _tiny()))
    render(RenderJob(content, (style, other), tmp_path / "blend.png", _tiny(style_blend=(1.0, 0.0))))
    np.testing.assert_array_equal(images.read_image(tmp_path / "single.png"),
                                  images.read_image(tmp_path / "blend.png"))


def test_max_input_megapixels_guards_large_inputs(pair, tmp_path):
    content, style, _ = pair
    result = runner.invoke(app, ["render", str(content), str(style), "-o", str(tmp_path / "x.png"),
                                 "--backbone", "tiny", "--max-input-megapixels", "0.001"])
    assert result.exit_code == 2
    assert "--max-input-megapixels" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_print_fields_in_a_config(pair, tmp_path):
    content, style, _ = pair
    config = tmp_path / "print.toml"
    config.write_text('backbone = "tiny"\nprint_size = "2x1.5in"\ndpi = 32.0\nbit_depth = 16\n'
                      '[[rung]]\nlong_edge_px = 32\niterations = 2\n[[rung]]\nlong_edge_px = 64\niterations = 2\n')
    output = tmp_path / "print.png"
    result = runner.invoke(app, ["render", str(content), str(style), "-o", str(output), "-c", str(config), "-q"])
    assert result.exit_code == 0, result.output
    with Image.open(output) as written:
        assert written.size == (64, 48)
        assert written.info["dpi"] == pytest.approx((32, 32), abs=0.01)  # PNG stores dots per metre
    assert images.read_image(output).dtype == np.float32


def test_layers_from_the_command_line(pair, tmp_path):
    from hires.config import parse_style_layers

    assert parse_style_layers("block1_conv1:1, block3_conv1:0.5,block5_conv1") == (
        ("block1_conv1", 1.0), ("block3_conv1", 0.5), ("block5_conv1", 1.0))
    content, style, _ = pair
    base = ["render", "--plan", str(content), str(style), "-o", str(tmp_path / "x.png"), "--backbone", "tiny"]
    result = runner.invoke(app, base + ["--style-layers", "block1_conv1:1,block2_conv1:0.5",
                                        "--content-layer", "block3_conv1"])
    assert result.exit_code == 0, result.output
    assert "multiples of 4 px" in result.stdout  # the deepest layer is in block 3: two pools
    bad = runner.invoke(app, base + ["--style-layers", "block1_conv1:x"])
    assert bad.exit_code == 2 and "not a number" in bad.stderr
