"""The names the core accepts, defined once: backbones, poolings, precisions and Adam's presets.

No TensorFlow here, so that the command line and configs can offer and check them before the
network is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

BACKBONE_NAMES = ("vgg19", "vgg16-hed", "tiny")
POOLINGS = ("avg", "max")  # average pooling is the paper's
PRECISIONS = ("float32", "bfloat16")  # bfloat16: mixed precision (see core.backbones.build_extractor)


@dataclass(frozen=True)
class AdamSettings:
    """Adam's hyper-parameters, in units of pixels in [0, 1] per step."""

    learning_rate: float = 0.02
    beta_1: float = 0.99
    beta_2: float = 0.999
    epsilon: float = 0.1


ADAM_PRESETS = {
    # The seed report's settings: large momentum and epsilon, which damp Adam's noisy late steps.
    "seed-report": AdamSettings(learning_rate=0.02, beta_1=0.99, beta_2=0.999, epsilon=0.1),
    # Kingma & Ba's defaults with a step of a few levels of 255.
    "standard": AdamSettings(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
}
