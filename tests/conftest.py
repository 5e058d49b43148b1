"""Shared fixtures and helpers: small images made in code, the tiny backbone and a problem on it,
rung plans and progress reports for the display's tests, and the shared test images."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

SHARED_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour field ``(1, H, W, 3)`` in [0, 1]: a few low-frequency waves."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for channel in range(3):
        for _ in range(3):
            fy, fx = rng.uniform(0.5, 2.0, size=2) * 2 * np.pi
            phase = rng.uniform(0, 2 * np.pi)
            image[..., channel] += np.sin(fy * y / height + fx * x / width + phase)
    image = (image - image.min()) / (image.max() - image.min())
    return image[None].astype(np.float32)


def noise_image(height: int, width: int, seed: int = 1) -> np.ndarray:
    """Uniform noise ``(1, H, W, 3)`` in [0, 1]."""
    return np.random.default_rng(seed).uniform(size=(1, height, width, 3)).astype(np.float32)


def save_png(path: Path, image: np.ndarray) -> Path:
    """Saves a ``(1, H, W, 3)`` or ``(H, W, 3)`` float image in [0, 1] as an 8-bit file."""
    from PIL import Image

    array = image[0] if image.ndim == 4 else image
    Image.fromarray(np.round(array * 255).astype(np.uint8)).save(path)
    return path


def file_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), and every folder (name -> b"<dir>")."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


def tiny_problem(tiny, size: int = 32):
    """A loss function of the tiny network on a ``size`` px square, and its content image (the start)."""
    import tensorflow as tf

    from core.objective import LossSpec, compute_targets, make_extractor, make_loss_function

    spec = LossSpec()
    extractor = make_extractor(tiny, spec)
    content = tf.constant(smooth_image(size, size, 1))
    targets = compute_targets(extractor, spec, content, [tf.constant(noise_image(size, size, 2))])
    return make_loss_function(extractor, spec, targets), content


def square_plans(*rungs: tuple[int, int]):
    """Square rungs ``(side, iterations)``, untiled, resolved (weights set) as a render plans them."""
    from hires.job import RungPlan
    from hires.ladder import Rung
    from hires.tiling import MemoryPlan

    return [RungPlan(i, len(rungs), Rung(side, iterations, 1.0, 10.0, 0.0), side, side, ((side, side),),
                     MemoryPlan(None, 1, 10, 0), 16) for i, (side, iterations) in enumerate(rungs)]


def progress_at(iteration: int, evaluations: int):
    """A chunk's report at ``iteration`` after ``evaluations``, with fixed loss terms."""
    from core.objective import LossTerms
    from core.optimize import Progress

    return Progress(iteration, 0, evaluations, LossTerms(1.0, 0.5, 0.5), 0.0, None)


class FakeClock:
    """A clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    """The tests keep hires' cache (the rates hires bench measures) in a folder of their own, not
    the user's: set for the whole session, subprocesses included."""
    os.environ["HIRES_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny():
    from core.backbones import load_backbone

    return load_backbone("tiny")


@pytest.fixture(scope="session")
def hed():
    from core.backbones import load_backbone

    return load_backbone("vgg16-hed")


@pytest.fixture
def shared_images() -> Path:
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"{SHARED_IMAGES} is absent: the real-transfer tests need ../shared/images")
    return SHARED_IMAGES
