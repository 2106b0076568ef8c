"""Imaging quality: technical quality of each frame (noise, blur, over-exposure), averaged over frames.

vbench: MUSIQ with the SPAQ checkpoint on each frame, the longer side resized to 512 when larger, score / 100
(VBench's `technical_quality`, preprocessing mode 'longer').
offline: a classical no-reference measure in [0, 1]: sharpness (mean gradient magnitude of the lightly smoothed
frame, saturating) times a noise penalty (Immerkaer's fast noise estimate). It rewards crisp, clean frames and
penalises noise and blur, like MUSIQ, but knows nothing of content or compression artefacts; its values are not
on MUSIQ's scale and only compare videos with each other.
"""

from __future__ import annotations

import numpy as np

from .core import Backbones, Score, check_backend, frames_tchw

NAME = "imaging_quality"


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkaer (1996): the noise standard deviation from a Laplacian-difference filter."""
    from scipy.signal import convolve2d

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    h, w = grey.shape
    response = np.abs(convolve2d(grey, kernel, mode="valid")).sum()
    return float(response * np.sqrt(0.5 * np.pi) / (6.0 * (w - 2) * (h - 2)))


def classical_quality(frame: np.ndarray) -> float:
    from scipy.ndimage import gaussian_filter, sobel

    grey = frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    smooth = gaussian_filter(grey, 1.0)
    sharpness = np.hypot(sobel(smooth, 0), sobel(smooth, 1)).mean()
    sharp_term = 1.0 - np.exp(-sharpness / 20.0)
    noise_term = np.exp(-noise_sigma(grey) / 10.0)
    return float(sharp_term * noise_term)


def imaging_quality(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if backend == "offline":
        return Score(NAME, float(np.mean([classical_quality(f) for f in video.frames])), backend)
    import torch
    from vbench.imaging_quality import transform

    backbones = backbones or Backbones()
    model = backbones["musiq"]
    images = transform(frames_tchw(video), "longer")
    with torch.no_grad():
        total = sum(float(model(image[None].to(backbones.device))) for image in images)
    return Score(NAME, total / len(images) / 100.0, backend)
