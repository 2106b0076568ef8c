"""Subject consistency: does the main subject keep its look from frame to frame?

vbench: DINO ViT-B/16 features of every frame (VBench's `dino_transform(224)`); per video the mean over i >= 1 of
(max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2.
offline: the same formula on pixel features of the frame's central region (the subject is usually central): each
frame's centre half, downsampled to 32x32 grey, mean-removed. It tracks appearance change, not semantic identity:
a subject that turns round while keeping its pixels changes DINO features more than these.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .core import Backbones, Score, check_backend, frames_tchw, too_short

NAME = "subject_consistency"


def consistency(features) -> float:
    """VBench's formula on L2-normalised per-frame features (a (T, D) tensor or array)."""
    import torch

    f = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).float()
    if len(f) < 2:
        raise InputError(f"consistency needs the features of at least 2 frames, got {len(f)}")
    f = torch.nn.functional.normalize(f, dim=-1)
    total = 0.0
    for i in range(1, len(f)):
        to_previous = max(0.0, torch.dot(f[i], f[i - 1]).item())
        to_first = max(0.0, torch.dot(f[i], f[0]).item())
        total += (to_previous + to_first) / 2
    return total / (len(f) - 1)


def pixel_features(video, region: str = "all", size: int = 32) -> np.ndarray:
    """Weight-free frame features: grey, downsampled, mean-removed pixels of the whole frame, its centre or border."""
    from PIL import Image

    feats = []
    for frame in video.frames:
        h, w = frame.shape[:2]
        grey = np.asarray(Image.fromarray(frame).convert("L").resize((size, size), Image.BILINEAR), np.float32)
        if region == "centre":
            grey = np.asarray(Image.fromarray(frame[h // 4 : h - h // 4, w // 4 : w - w // 4]).convert("L")
                              .resize((size, size), Image.BILINEAR), np.float32)
        elif region == "border":
            ring = np.ones((size, size), bool)
            ring[size // 4 : size - size // 4, size // 4 : size - size // 4] = False
            grey = grey[ring]
        grey = grey.ravel() - grey.mean()
        feats.append(grey if np.any(grey) else np.ones_like(grey))  # a flat frame: a constant feature
    return np.stack(feats)


def dino_features(video, model, device: str = "cpu"):
    import torch
    from vbench.utils import dino_transform

    images = dino_transform(224)(frames_tchw(video))
    with torch.no_grad():
        return torch.cat([model(image[None].to(device)) for image in images]).cpu()


def subject_consistency(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if short := too_short(NAME, backend, video.num_frames):
        return short
    if backend == "offline":
        return Score(NAME, consistency(pixel_features(video, "centre")), backend)
    backbones = backbones or Backbones()
    return Score(NAME, consistency(dino_features(video, backbones["dino"], backbones.device)), backend)
