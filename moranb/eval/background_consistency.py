"""Background consistency: does the scene stay the same place?

vbench: CLIP ViT-B/32 image features (VBench's `clip_transform(224)`), with the subject-consistency formula.
offline: the same formula on pixel features of the frame's border ring (where background usually is). Camera motion
lowers it more than it lowers CLIP's, which is partly invariant to small shifts.
"""

from __future__ import annotations

from .core import Backbones, Score, check_backend, frames_tchw, too_short
from .subject_consistency import consistency, pixel_features

NAME = "background_consistency"


def clip_image_features(video, model, device: str = "cpu"):
    import torch
    from vbench.utils import clip_transform

    images = clip_transform(224)(frames_tchw(video)).to(device)
    with torch.no_grad():
        return model.encode_image(images).float().cpu()


def background_consistency(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if short := too_short(NAME, backend, video.num_frames):
        return short
    if backend == "offline":
        return Score(NAME, consistency(pixel_features(video, "border")), backend)
    backbones = backbones or Backbones()
    return Score(NAME, consistency(clip_image_features(video, backbones["clip_b32"], backbones.device)), backend)
