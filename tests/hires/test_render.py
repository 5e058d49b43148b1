"""Tests for hires.render: the ladder loop end to end on the tiny backbone, its plan, its files.

Every render here uses the tiny backbone on images of at most 64 px with a few iterations, so a
render costs a couple of seconds, most of it TensorFlow tracing. The two-rung render is shared
by several tests through a module-scoped fixture.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import hires.render as render_module
import hires.rung as rung_module
from hires import images
from hires.config import default_settings, load_config
from hires.errors import HiresError
from hires.ladder import Ladder, Rung
from hires.inputs import enlarge, photo_detail, resize, rung_start, to_tensor
from hires.job import RenderJob
from hires.outputs import contact_sheet_path, rungs_folder
from hires.plan import WEIGHTS_ENV, choose_backbone, plan_ladder
from hires.quality import pixel_grid
from hires.render import render
from tests.conftest import file_tree, noise_image, save_png, smooth_image

TWO_RUNGS_TOML = """\
backbone = "tiny"

[[rung]]
long_edge_px = 32
iterations = 3

[[rung]]
long_edge_px = 64
iterations = 3
"""


class RecordingReporter:
    """A Reporter that keeps every call, in order, as ``(kind, *arguments)``."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def message(self, text):
        self.events.append(("message", text))

    def ladder_started(self, plans, finished=()):
        self.events.append(("ladder_started", tuple(plans), tuple(finished)))

    def rung_started(self, plan):
        self.events.append(("rung_started", plan))

    def chunk(self, plan, progress):
        self.events.append(("chunk", plan, progress))

    def rung_finished(self, result):
        self.events.append(("rung_finished", result))

    def kinds(self) -> list[str]:
        return [event[0] for event in self.events]

    def chunks(self, index: int) -> list:
        return [event[2] for event in self.events if event[0] == "chunk" and event[1].index == index]


def _tiny_settings(*rungs: Rung, **values):
    return replace(default_settings(), backbone="tiny", ladder=Ladder(rungs=rungs), **values)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A 64 x 48 (landscape) content PNG and a 40 x 40 style PNG."""
    folder = tmp_path_factory.mktemp("inputs")
    content = save_png(folder / "content.png", smooth_image(48, 64, seed=0))
    style = save_png(folder / "style.png", noise_image(40, 40, seed=1))
    return content, style


@pytest.fixture(scope="module")
def two_rungs(tmp_path_factory, inputs):
    """One render of a 32 -> 64 px ladder from a TOML config, watched from every side.

    Returns a namespace with the result, the reporter, the output path, and what ``_optimize``
    received for each rung: the start image and the loss of the start image.
    """
    folder = tmp_path_factory.mktemp("two_rungs")
    config = folder / "two.toml"
    config.write_text(TWO_RUNGS_TOML)
    settings = load_config(config)
    content, style = inputs
    output = folder / "out.png"
    starts, start_losses, content_losses = [], [], []
    original = rung_module.optimize

    def watching_optimize(settings, plan, objective, start, callback, state=None, preconditioner=None):
        starts.append(start.numpy())
        start_losses.append(float(objective.terms(start).total))
        height, width = start.shape[1:3]
        content_here = resize(to_tensor(images.read_image(content)), height, width)
        content_losses.append(float(objective.terms(content_here).total))
        return original(settings, plan, objective, start, callback, state, preconditioner)

    reporter = RecordingReporter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render_module, "optimize", watching_optimize)
        result = render(RenderJob(content, (style,), output, settings), reporter)

    class Run:
        pass

    run = Run()
    run.result, run.reporter, run.output, run.folder = result, reporter, output, folder
    run.starts, run.start_losses, run.content_losses = starts, start_losses, content_losses
    run.content = content
    return run


# ---------------------------------------------------------------------------------------------
# A two-rung render end to end
# ---------------------------------------------------------------------------------------------

def test_two_rung_render_writes_the_output_at_the_last_rungs_size(two_rungs):
    assert two_rungs.output.is_file()
    with Image.open(two_rungs.output) as im:
        assert im.size == (64, 48)  # 64 x 48 content, --size 64: the aspect ratio is kept
    assert two_rungs.result.output == two_rungs.output
    assert two_rungs.result.backbone == "tiny"
    assert two_rungs.result.seconds > 0


def test_two_rung_render_saves_each_rung_and_a_contact_sheet(two_rungs):
    folder = rungs_folder(two_rungs.output)
    assert folder == two_rungs.folder / "out.rungs"
    assert sorted(p.name for p in folder.iterdir()) == ["0032.png", "0064.png"]
    # 32 px of a 64 x 48 picture: 32 x 24 px rounded to multiples of 16 is 32 x 32.
    assert images.read_image(folder / "0032.png").shape == (32, 32, 3)
    assert images.read_image(folder / "0064.png").shape == (48, 64, 3)
    assert [r.path for r in two_rungs.result.rungs] == [folder / "0032.png", folder / "0064.png"]
    sheet = contact_sheet_path(two_rungs.output)
    assert sheet == two_rungs.folder / "out.contact.png"
    assert sheet.is_file()
    with Image.open(sheet) as im:
        assert im.width > 64 and im.height > 48
    assert sorted(p.name for p in two_rungs.folder.iterdir()) == [
        "out.contact.png", "out.png", "out.rungs", "two.toml"]


def test_the_output_is_the_last_rungs_image(two_rungs):
    written = images.read_image(two_rungs.output)
    last = two_rungs.result.rungs[-1].image
    assert written.shape == last.shape == (48, 64, 3)
    np.testing.assert_allclose(written, np.clip(last, 0, 1), atol=0.5 / 255 + 1e-6)
    np.testing.assert_array_equal(written, images.read_image(rungs_folder(two_rungs.output) / "0064.png"))


def test_reporter_sees_the_rungs_in_order_with_increasing_sizes(two_rungs):
    reporter = two_rungs.reporter
    kinds = reporter.kinds()
    assert kinds[0] == "message" and "tiny" in reporter.events[0][1]
    assert kinds[1] == "message" and reporter.events[1][1].startswith("devices: /cpu:0")
    assert kinds[2] == "message" and "multiples of 16 px" in reporter.events[2][1]
    assert kinds[3] == "ladder_started"
    plans = reporter.events[3][1]
    assert [(p.index, p.count) for p in plans] == [(0, 2), (1, 2)]
    assert [(p.width, p.height) for p in plans] == [(32, 32), (64, 48)]
    assert plans[0].pixels < plans[1].pixels
    assert [p.rung.iterations for p in plans] == [3, 3]
    # Each rung: started, at least one chunk, finished; rung 2 only after rung 1 finished.
    rung_events = [k for k in kinds[4:] if k != "chunk"]
    assert rung_events == ["rung_started", "rung_finished", "rung_started", "rung_finished"]
    started = [e[1] for e in reporter.events if e[0] == "rung_started"]
    assert started == list(plans)
    finished = [e[1] for e in reporter.events if e[0] == "rung_finished"]
    assert [r.plan for r in finished] == list(plans)
    assert list(two_rungs.result.rungs) == finished
    for index in (0, 1):
        chunks = reporter.chunks(index)
        assert chunks, f"no progress for rung {index + 1}"
        assert chunks[-1].iteration == chunks[-1].iterations == 3
        assert [p.iteration for p in chunks] == sorted(p.iteration for p in chunks)


def test_each_rung_ends_below_the_loss_of_its_start(two_rungs):
    for index in (0, 1):
        final = two_rungs.reporter.chunks(index)[-1].terms.total
        assert np.isfinite(final)
        assert final < two_rungs.start_losses[index], (index, final, two_rungs.start_losses)
        assert two_rungs.result.rungs[index].history[-1].terms.total == final


def test_the_first_rung_starts_from_the_content_image(two_rungs):
    content = to_tensor(images.read_image(two_rungs.content))
    np.testing.assert_allclose(two_rungs.starts[0], resize(content, 32, 32).numpy(), atol=1e-6)


def test_the_second_rung_starts_from_the_first_rungs_result_upsampled(two_rungs):
    first = two_rungs.result.rungs[0].image
    upsampled = enlarge(to_tensor(first), 48, 64, "bandlimited")  # the default
    # ... with the photograph's detail that the first rung could not hold (--start-detail 1).
    photo = to_tensor(images.read_image(two_rungs.content))
    detail = photo_detail(photo, first.shape[:2], 48, 64, "bandlimited")
    assert np.abs(detail.numpy()).max() > 0.01  # a smooth photograph: little, but some
    np.testing.assert_allclose(two_rungs.starts[1], tf.clip_by_value(upsampled + detail, 0, 1).numpy(), atol=1e-6)
    assert np.abs(two_rungs.starts[1] - resize(photo, 48, 64).numpy()).mean() > 0.01  # not the content again
    # The stylised start is already much better than starting over from the content image.
    assert two_rungs.start_losses[1] < 0.8 * two_rungs.content_losses[1], (
        two_rungs.start_losses, two_rungs.content_losses)


def test_start_noise_is_seeded_by_the_seed_and_the_rung_and_kept_in_range():
    below = tf.constant(smooth_image(16, 16, 0))
    plain = replace(default_settings(), start_noise=0.0)
    noisy = replace(plain, start_noise=0.1)
    enlarged = enlarge(below, 32, 32, plain.ladder.upsample).numpy()
    start = lambda settings, index=1: rung_start(settings, below, index, 32, 32, below).numpy()  # noqa: E731
    np.testing.assert_array_equal(start(plain), enlarged)
    first = start(noisy)
    np.testing.assert_array_equal(first, start(noisy))  # a resume starts alike
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert 0.05 < np.std(first - enlarged) < 0.1  # about 0.1 where nothing was clipped
    assert not np.array_equal(first, start(noisy, 2))
    assert not np.array_equal(first, start(replace(noisy, seed=1)))


def test_start_detail_adds_the_photographs_detail_the_rung_below_could_not_hold():
    photo = tf.constant(noise_image(64, 64, 3))  # detail up to its own band
    below = resize(photo, 32, 32)  # a rung below that painted nothing over the photograph
    settings = replace(default_settings(), start_detail=1.0, start_noise=0.0)
    # With all of the detail back, the start is the photograph itself at the rung's size.
    np.testing.assert_allclose(rung_start(settings, below, 1, 64, 64, photo).numpy(), photo.numpy(), atol=1e-5)
    halfway = rung_start(replace(settings, start_detail=0.5), below, 1, 64, 64, photo).numpy()
    enlarged = enlarge(below, 64, 64, settings.ladder.upsample).numpy()
    np.testing.assert_allclose(halfway - enlarged, 0.5 * (photo.numpy() - enlarged), atol=0.02)  # bar clipping
    # A photograph no larger than the rung below has no detail to add, and gains no texture from
    # the interpolation that enlarges it.
    small = tf.constant(noise_image(32, 32, 4))
    np.testing.assert_allclose(rung_start(settings, below, 1, 64, 64, small).numpy(), enlarged, atol=1e-5)


def test_bandlimited_enlargement_draws_no_grid_into_the_finest_texture():
    below = tf.constant(noise_image(64, 64, 0))  # texture up to the rung's own band, as a rung ends
    bicubic = enlarge(below, 128, 128, "bicubic").numpy()
    bandlimited = enlarge(below, 128, 128, "bandlimited").numpy()
    assert pixel_grid(bicubic[0]) > 0.2
    assert pixel_grid(bandlimited[0]) < 0.03  # what photographs and paintings read
    assert bandlimited.shape == (1, 128, 128, 3) and bandlimited.min() >= 0.0 and bandlimited.max() <= 1.0


def test_bandlimited_enlargement_keeps_what_the_rung_below_holds():
    below = tf.constant(smooth_image(48, 64, 0))  # nothing near its band: bicubic adds no copies
    for height, width in ((96, 128), (72, 96)):  # doubling, and a 1.5x step
        np.testing.assert_allclose(enlarge(below, height, width, "bandlimited").numpy(),
                                   resize(below, height, width, "bicubic").numpy(), atol=0.01)
    np.testing.assert_array_equal(enlarge(below, 48, 64, "bandlimited").numpy(), below.numpy())


def test_later_lbfgs_rungs_run_over_the_filter_from_the_rung_below_s_band(tiny):
    """A later L-BFGS rung gets a preconditioner whose full steps start at the rung below's
    Nyquist frequency; a first rung, --coarse-step 1 and Adam run on plain pixels."""
    from hires.rung import preconditioner_for

    settings = _tiny_settings(Rung(32, 2), Rung(64, 2), Rung(96, 2, optimizer="adam"))
    plans = plan_ladder(settings, tiny, (64, 64), [(40, 40)])
    assert [plan.preconditioned for plan in plans] == [False, True, False]
    assert preconditioner_for(settings, plans[0], None) is None
    filtered = preconditioner_for(settings, plans[1], (plans[0].height, plans[0].width))
    level = tf.fill([1, 64, 64, 3], 1.0)
    assert float(filtered.to_image(level)[0, 0, 0, 0]) == pytest.approx(settings.coarse_step, abs=1e-6)
    plain = replace(settings, coarse_step=1.0)
    assert preconditioner_for(plain, plan_ladder(plain, tiny, (64, 64), [(40, 40)])[1], (32, 32)) is None
    assert preconditioner_for(settings, plans[2], (64, 64)) is None


# ---------------------------------------------------------------------------------------------
# Options of a render
# ---------------------------------------------------------------------------------------------

def test_without_save_rungs_only_the_output_is_written(tmp_path, inputs):
    content, style = inputs
    output = tmp_path / "plain.jpg"
    job = RenderJob(content, (style,), output, _tiny_settings(Rung(32, 2)), save_rungs=False)
    result = render(job)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.jpg"]
    assert result.rungs[0].path is None
    with Image.open(output) as im:
        assert im.format == "JPEG" and im.size == (32, 32)


def test_an_existing_output_is_refused_before_anything_starts(tmp_path, inputs):
    content, style = inputs
    output = tmp_path / "out.png"
    output.write_bytes(b"keep me")
    reporter = RecordingReporter()
    with pytest.raises(HiresError, match="--overwrite"):
        render(RenderJob(content, (style,), output, _tiny_settings(Rung(32, 2))), reporter)
    assert reporter.events == []
    assert file_tree(tmp_path) == {"out.png": b"keep me"}


def test_a_missing_style_is_refused_before_anything_starts(tmp_path, inputs):
    content, _ = inputs
    missing = tmp_path / "missing.png"
    reporter = RecordingReporter()
    with pytest.raises(HiresError, match="missing.png"):
        render(RenderJob(content, (missing,), tmp_path / "out.png", _tiny_settings(Rung(32, 2))), reporter)
    assert reporter.events == []
    assert list(tmp_path.iterdir()) == []


def test_a_style_blend_of_the_wrong_length_is_refused_before_anything_starts(tmp_path, inputs):
    content, style = inputs
    settings = _tiny_settings(Rung(32, 2), style_blend=(0.5, 0.3, 0.2))
    reporter = RecordingReporter()
    with pytest.raises(HiresError, match="3 weights for 2 styles"):
        render(RenderJob(content, (style, style), tmp_path / "out.png", settings), reporter)
    assert reporter.events == []
    assert list(tmp_path.iterdir()) == []


def test_a_missing_init_image_writes_nothing(tmp_path, inputs):
    content, style = inputs
    settings = _tiny_settings(Rung(32, 2), init=str(tmp_path / "start.png"))
    with pytest.raises(HiresError, match="start.png"):
        render(RenderJob(content, (style,), tmp_path / "out.png", settings))
    assert list(tmp_path.iterdir()) == []


def test_a_missing_init_image_is_refused_before_the_first_rung_starts(tmp_path, inputs):
    content, style = inputs
    settings = _tiny_settings(Rung(32, 2), init=str(tmp_path / "start.png"))
    reporter = RecordingReporter()
    with pytest.raises(HiresError, match="start.png"):
        render(RenderJob(content, (style,), tmp_path / "out.png", settings), reporter)
    assert "rung_started" not in reporter.kinds()
    assert "ladder_started" not in reporter.kinds()


@pytest.mark.parametrize("name, values, complaint", [
    ("out.jpg", {"bit_depth": 16}, "only 8 bits"),
    ("out.webp", {"bit_depth": 16}, "only 8 bits"),
])
def test_an_output_its_format_cannot_hold_is_refused_before_the_first_rung(tmp_path, inputs, name, values,
                                                                          complaint):
    content, style = inputs
    reporter = RecordingReporter()
    with pytest.raises(HiresError, match=complaint):
        render(RenderJob(content, (style,), tmp_path / name, _tiny_settings(Rung(32, 2), **values)), reporter)
    assert "rung_started" not in reporter.kinds()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# plan_ladder, rungs_folder, contact_sheet_path
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_shape, size, expected", [
    ((48, 64), 64, (48, 64)),       # landscape: width is the long edge
    ((64, 48), 64, (64, 48)),       # portrait
    ((480, 640), 64, (48, 64)),     # a large photo scaled down to the rung
    ((100, 100), 50, (48, 48)),     # sides rounded to multiples of 16
    ((30, 1000), 64, (16, 64)),     # never below one stride
])
def test_plan_ladder_rounds_sides_to_the_stride_keeping_the_aspect_ratio(tiny, content_shape, size, expected):
    plans = plan_ladder(_tiny_settings(Rung(size, 5)), tiny, content_shape, [(40, 40)])
    assert len(plans) == 1
    assert (plans[0].height, plans[0].width) == expected
    assert plans[0].height % 16 == 0 and plans[0].width % 16 == 0


def test_plan_ladder_sizes_grow_and_resolve_each_rung(tiny):
    settings = _tiny_settings(Rung(32, 7, optimizer="adam"), Rung(64, 5), Rung(128, 3, style_weight=2.0))
    plans = plan_ladder(settings, tiny, (480, 640), [(40, 80), (300, 200)])
    assert [p.index for p in plans] == [0, 1, 2]
    assert {p.count for p in plans} == {3}
    assert [(p.height, p.width) for p in plans] == [(32, 32), (48, 64), (96, 128)]
    assert [p.rung.iterations for p in plans] == [7, 5, 3]
    assert [p.rung.optimizer for p in plans] == ["adam", "lbfgs", "lbfgs"]
    assert [p.rung.style_weight for p in plans] == [10.0, 10.0, 2.0]
    memory = [p.memory_bytes for p in plans]
    assert 0 < memory[0] < memory[1] < memory[2]
    # Styles keep their aspect ratio, scaled to each rung's long edge (at least 16 px a side).
    assert plans[1].style_shapes == ((32, 64), (64, 43))
    assert plans[0].style_shapes == ((16, 32), (32, 21))


@pytest.mark.parametrize("enlarge, shown", [(1.0, (96, 128)), (0.5, (48, 64)), (0.0, (24, 32))])
def test_plan_ladder_enlarges_a_small_painting_as_far_as_style_enlarge_says(tiny, enlarge, shown):
    # The 128 px rung asks 4x the 32 px painting: 4 ** style_enlarge times it is shown.
    settings = _tiny_settings(Rung(128, 3), style_enlarge=enlarge)
    plans = plan_ladder(settings, tiny, (480, 640), [(24, 32), (300, 200)])
    assert plans[0].style_shapes == (shown, (128, 85))  # a larger painting is reduced to the size asked


def test_plan_ladder_names_an_unknown_layer(tiny):
    settings = _tiny_settings(Rung(32, 2), content_layer="block9_conv9")
    with pytest.raises(HiresError, match="block9_conv9"):
        plan_ladder(settings, tiny, (48, 64), [(40, 40)])


@pytest.mark.parametrize("output, rungs, sheet", [
    ("out.png", "out.rungs", "out.contact.png"),
    ("out.JPG", "out.rungs", "out.contact.png"),
    ("my.picture.tif", "my.picture.rungs", "my.picture.contact.png"),
    ("sub/dir/x.webp", "sub/dir/x.rungs", "sub/dir/x.contact.png"),
])
def test_rungs_folder_and_contact_sheet_sit_next_to_the_output(output, rungs, sheet):
    assert rungs_folder(Path(output)) == Path(rungs)
    assert contact_sheet_path(Path(output)) == Path(sheet)


# ---------------------------------------------------------------------------------------------
# choose_backbone
# ---------------------------------------------------------------------------------------------

def test_auto_without_vgg19_weights_takes_vgg16_hed_and_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    keras_home = tmp_path / "keras"
    keras_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    backbone, why = choose_backbone(default_settings())
    assert backbone.name == "vgg16-hed"
    assert "vgg16-hed" in why
    assert "bundled" in why and "--weights" in why  # not worded as a failure: it is the usual first run
    assert "--weights" in why and WEIGHTS_ENV in why
    assert "\n" not in why


def test_tiny_says_tiny(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    backbone, why = choose_backbone(replace(default_settings(), backbone="tiny"))
    assert backbone.name == "tiny"
    assert why.startswith("backbone: tiny")


def test_auto_with_a_missing_weights_file_names_it(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    missing = tmp_path / "nowhere" / "vgg19.h5"
    with pytest.raises(HiresError, match="nowhere"):
        choose_backbone(replace(default_settings(), weights=str(missing)))


@pytest.mark.parametrize("backbone", ["auto", "vgg19"])
def test_a_missing_weights_file_from_the_environment_is_named(tmp_path, monkeypatch, backbone):
    missing = tmp_path / "env-weights.h5"
    monkeypatch.setenv(WEIGHTS_ENV, str(missing))
    with pytest.raises(HiresError, match="env-weights.h5"):
        choose_backbone(replace(default_settings(), backbone=backbone))


def test_rungs_that_round_to_the_same_size_are_refused(tiny):

    settings = _tiny_settings(Rung(33, 2), Rung(40, 2))
    with pytest.raises(HiresError, match="both round"):
        plan_ladder(settings, tiny, (48, 64), [(48, 64)])


def test_an_existing_contact_sheet_is_not_replaced_without_overwrite(tmp_path, inputs):
    content, style = inputs
    sheet = tmp_path / "out.contact.png"
    sheet.write_bytes(b"mine")
    with pytest.raises(HiresError, match="contact sheet of .*out.png.*Delete or move it, or pass --overwrite"):
        render(RenderJob(content, (style,), tmp_path / "out.png", _tiny_settings(Rung(32, 2))))
    assert sheet.read_bytes() == b"mine"


def test_earlier_rung_pictures_are_refused_without_overwrite_and_cleared_with_it(tmp_path, inputs):
    """A fresh render replaces an earlier render's rung pictures only when asked, and then all of them:
    a ladder that changed must not leave pictures of rungs it no longer has beside its own."""
    content, style = inputs
    folder = tmp_path / "out.rungs"
    folder.mkdir()
    earlier = save_png(folder / "0048.png", smooth_image(36, 48, seed=2))
    notes = folder / "notes.txt"
    notes.write_text("mine")
    job = RenderJob(content, (style,), tmp_path / "out.png", _tiny_settings(Rung(32, 2), Rung(64, 2)))
    with pytest.raises(HiresError, match="out.rungs: it holds 1 from an earlier render .*pass --overwrite"):
        render(job)
    assert earlier.is_file() and not (tmp_path / "out.png").exists()
    render(replace(job, overwrite=True))
    assert sorted(path.name for path in folder.iterdir()) == ["0032.png", "0064.png", "notes.txt"]
    assert notes.read_text() == "mine"


def _recording(monkeypatch, name: str) -> list:
    """Records every objective of class ``name`` that the render makes."""
    made, original = [], getattr(rung_module, name)

    def record(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(rung_module, name, record)
    return made


def test_each_rung_is_traced_once_across_its_chunks(tmp_path, inputs, monkeypatch):
    made = _recording(monkeypatch, "whole_image_objective")
    settings = _tiny_settings(Rung(32, 6), Rung(64, 6), chunk_iterations=2)
    render_module.render(RenderJob(inputs[0], (inputs[1],), tmp_path / "out.png", settings))
    # Value and gradient once each; the reports' terms are those of the last evaluation (no trace).
    assert [objective.traces for objective in made] == [1, 1]


def test_a_tiled_rung_is_traced_once_for_all_its_tiles(tmp_path, inputs, monkeypatch):
    from hires.devices import MachineOptions

    made = _recording(monkeypatch, "TiledObjective")
    settings = _tiny_settings(Rung(32, 4), Rung(64, 6), chunk_iterations=2)
    job = RenderJob(inputs[0], (inputs[1],), tmp_path / "out.png", settings, machine=MachineOptions(tile_px=32))
    render_module.render(job)
    assert len(made) == 1 and made[0].plan.tile_count == 4  # the 32 px rung is not cut
    assert made[0].traces == 3  # pass 1, pass 2 and the pixel terms, once each for 4 tile shapes
