"""Real style transfer with the bundled VGG16 on ../shared/images (marked ``real``; slower)."""

import numpy as np
import pytest

from core import losses
from core.backbones import build_extractor
from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function
from hires import images
from hires.config import default_settings
from hires.ladder import Ladder, Rung
from hires.inputs import resize, to_tensor
from hires.job import RenderJob
from hires.render import render

# Layers the renderer does not optimise: a fair judge of whether the style really moved.
HELD_OUT_LAYERS = ("block2_conv2", "block3_conv3", "block4_conv3")


def _gram_distance(extract, image, style_grams):
    features = extract(image)
    return np.mean([float(losses.style_layer_loss(losses.gram_matrix(features[n]), style_grams[n]))
                    for n in HELD_OUT_LAYERS])


@pytest.mark.real
def test_render_moves_the_picture_towards_the_painting(hed, shared_images, tmp_path):
    settings = default_settings()
    settings = type(settings)(**{**settings.__dict__, "backbone": "vgg16-hed",
                                 "ladder": Ladder(rungs=(Rung(128, 60),))})
    output = tmp_path / "out.png"
    result = render(RenderJob(shared_images / "tubingen.jpg", (shared_images / "starry_night.jpg",),
                              output, settings))
    rung = result.rungs[-1]
    height, width = rung.plan.height, rung.plan.width
    content = resize(to_tensor(images.read_image(shared_images / "tubingen.jpg")), height, width)
    style = resize(to_tensor(images.read_image(shared_images / "starry_night.jpg")), *rung.plan.style_shapes[0])
    out = to_tensor(images.read_image(output))

    spec = LossSpec()
    extractor = make_extractor(hed, spec)
    loss_function = make_loss_function(extractor, spec, compute_targets(extractor, spec, content, [style]))
    before, after = loss_function(content), loss_function(out)
    assert float(after.style) < float(before.style) / 20
    assert float(after.content) < 1.0  # still the photograph: bounded relative feature error

    held_out = build_extractor(hed, HELD_OUT_LAYERS)
    style_grams = {n: losses.gram_matrix(f) for n, f in held_out(style).items()}
    assert _gram_distance(held_out, out, style_grams) < _gram_distance(held_out, content, style_grams) / 5
