"""Colour preservation, after Gatys et al., *Preserving Color in Neural Artistic Style Transfer* (2016).

Two ways to keep the photograph's colours:

- ``luminance``: transfer the style on luminance only. The photograph and the painting become
  grey images (the painting's luminance matched to the photograph's mean and spread), the ladder
  renders in grey, and the result's luminance is joined to the photograph's chroma (YIQ).
- ``histogram``: before rendering, give the painting the photograph's colour distribution with
  the linear map that matches their means and covariances.

Arrays are float ``(H, W, 3)`` RGB in [0, 1].
"""

from __future__ import annotations

import numpy as np

PRESERVE_COLORS = ("none", "luminance", "histogram")

# RGB -> YIQ (NTSC), as in the paper.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float64)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def to_yiq(image: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` -> YIQ ``(H, W, 3)``."""
    return image.astype(np.float64) @ _RGB_TO_YIQ.T


def from_yiq(yiq: np.ndarray) -> np.ndarray:
    """YIQ ``(H, W, 3)`` -> RGB float32, clipped to [0, 1]."""
    return np.clip(yiq @ _YIQ_TO_RGB.T, 0.0, 1.0).astype(np.float32)


def luminance_image(image: np.ndarray) -> np.ndarray:
    """The luminance Y of ``image`` repeated in three channels: a grey RGB image."""
    y = to_yiq(image)[..., :1]
    return np.repeat(np.clip(y, 0.0, 1.0), 3, axis=-1).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style's grey image with its luminance shifted and scaled to the content's mean and spread."""
    y_style, y_content = to_yiq(style)[..., 0], to_yiq(content)[..., 0]
    spread = y_content.std() / max(y_style.std(), 1e-6)
    matched = (y_style - y_style.mean()) * spread + y_content.mean()
    return np.repeat(np.clip(matched, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


def join_chroma(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The luminance of ``result`` with the chroma (I, Q) of ``content``; both the same size."""
    yiq = to_yiq(content)
    yiq[..., 0] = to_yiq(result)[..., 0]
    return from_yiq(yiq)


def match_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style recoloured so that its colours' mean and covariance equal the content's.

    ``x -> A (x - mu_s) + mu_c`` with ``A = C_c^(1/2) C_s^(-1/2)`` (symmetric square roots), the
    paper's linear colour transfer.
    """
    flat_s = style.reshape(-1, 3).astype(np.float64)
    flat_c = content.reshape(-1, 3).astype(np.float64)
    transform = _sqrtm(np.cov(flat_c, rowvar=False)) @ _inverse_sqrtm(np.cov(flat_s, rowvar=False))
    moved = (flat_s - flat_s.mean(axis=0)) @ transform.T + flat_c.mean(axis=0)
    return np.clip(moved, 0.0, 1.0).reshape(style.shape).astype(np.float32)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


# A direction of the painting's colours with less variance than this holds its noise (8-bit
# rounding, JPEG's chroma), not colour: a spread of about 3 levels of 255, or a thousandth of its
# strongest direction. The paintings and photographs in ../shared/images vary at least 5 times
# more in their weakest direction.
_NOISE_VARIANCE = (3 / 255) ** 2
_NOISE_RATIO = 1e-3


def _inverse_sqrtm(matrix: np.ndarray) -> np.ndarray:
    """C^(-1/2), dropping the directions in which the painting hardly varies (a pseudo-inverse).

    Scaled up to the photograph's spread, those directions turned the noise of a nearly grey
    painting into coloured speckle; dropped, the recoloured painting keeps the photograph's mean
    colour there. A flat channel (zero variance) is one of them, so the result stays finite.
    """
    values, vectors = np.linalg.eigh(matrix)
    kept = values > max(_NOISE_VARIANCE, _NOISE_RATIO * values.max())
    scale = np.where(kept, 1.0 / np.sqrt(np.where(kept, values, 1.0)), 0.0)
    return vectors @ np.diag(scale) @ vectors.T
