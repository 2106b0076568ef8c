"""Temporal style, and the paper's TCON and Tmean: ViCLIP video features.

- temporal style: ViCLIP video-text cosine on 8 frames sampled from the middle of equal chunks (VBench's
  `temporal_style`).
- TCON (extension): cosine between the ViCLIP features of the input video and of the output video.
- Tmean (connection): (TCON with the preceding video + TCON with the following video) / 2.

offline: no values; video-text and video-video semantics need a learned video model.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_prompt
from .core import Backbones, Score, check_backend, unavailable


def _middle_frames(video, count: int = 8):
    """VBench's `read_frames_decord_by_fps(..., num_frames=8, sample="middle")`: uint8 (T, C, H, W), so the bicubic
    resize rounds to uint8 as it does there, then CLIP's transform."""
    import torch
    from vbench.utils import clip_transform, get_frame_indices

    index = get_frame_indices(count, len(video), sample="middle")
    frames = torch.from_numpy(np.ascontiguousarray(video.frames[index])).permute(0, 3, 1, 2)
    return clip_transform(224)(frames)


def video_features(video, backbones: Backbones):
    import torch

    model = backbones["viclip"]
    with torch.no_grad():
        feat = model.encode_vision(_middle_frames(video)[None].to(backbones.device), test=True).float()
    return feat / feat.norm(dim=-1, keepdim=True)


def temporal_style(video, text: str, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    text = check_prompt(text, "style text")
    if backend == "offline":
        return unavailable("temporal_style", backend, "video-text alignment needs ViCLIP; use backend='vbench'")
    import torch

    backbones = backbones or Backbones()
    with torch.no_grad():
        text_feat = backbones["viclip"].encode_text(text).float()
    text_feat = text_feat / text_feat.norm(dim=-1, keepdim=True)
    return Score("temporal_style", float((video_features(video, backbones) @ text_feat.T)[0][0]), backend)


def tcon(source, output, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if backend == "offline":
        return unavailable("tcon", backend, "video-video similarity needs ViCLIP; use backend='vbench'")
    backbones = backbones or Backbones()
    a, b = video_features(source, backbones), video_features(output, backbones)
    return Score("tcon", float((a @ b.T)[0][0]), backend)


def tmean(before, after, output, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    first, second = tcon(before, output, backend, backbones), tcon(after, output, backend, backbones)
    if first.value is None:
        return unavailable("tmean", backend, first.reason)
    return Score("tmean", (first.value + second.value) / 2, backend)
