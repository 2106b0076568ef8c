"""Temporal style, and the paper's TCON and Tmean: ViCLIP video features.

- temporal style: ViCLIP video-text cosine on 8 frames sampled from the middle of equal chunks (VBench's
  `temporal_style`).
- TCON (extension): cosine between the ViCLIP features of the input video and of the output video.
- Tmean (connection): (TCON with the preceding video + TCON with the following video) / 2.

offline: temporal style has no value (video-text alignment needs a learned video-text model). TCON and Tmean have a
stand-in: the cosine between weight-free video descriptors, the 8 middle-sampled frames' grey 32x32 mean-removed
pixels (as the offline consistencies use), each frame normalised, concatenated in order. It measures whether two
videos look alike frame for frame (layout, colour, brightness), not whether they show the same things: a re-lit or
re-framed continuation of the same scene scores lower than ViCLIP would give it.
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


def middle_indices(count: int, length: int) -> list[int]:
    """VBench's `get_frame_indices(count, length, sample="middle")` without importing VBench: the middle frame of
    each of min(count, length) equal chunks, the last one repeated up to `count`."""
    edges = np.linspace(0, length, min(count, length) + 1).astype(int)
    index = [(start + end - 1) // 2 for start, end in zip(edges[:-1], edges[1:])]
    return index + [index[-1]] * (count - len(index))


def pixel_video_feature(video, count: int = 8) -> np.ndarray:
    """The offline stand-in for a ViCLIP video feature (see the module docstring): a unit vector."""
    from .subject_consistency import pixel_features

    frames = pixel_features(type(video)(video.frames[middle_indices(count, len(video))], video.fps))
    frames = frames / np.linalg.norm(frames, axis=1, keepdims=True)
    feature = frames.ravel()
    return feature / np.linalg.norm(feature)


def tcon(source, output, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if backend == "offline":
        return Score("tcon", float(pixel_video_feature(source) @ pixel_video_feature(output)), backend)
    backbones = backbones or Backbones()
    a, b = video_features(source, backbones), video_features(output, backbones)
    return Score("tcon", float((a @ b.T)[0][0]), backend)


def tmean(before, after, output, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    first, second = tcon(before, output, backend, backbones), tcon(after, output, backend, backbones)
    if first.value is None:
        return unavailable("tmean", backend, first.reason)
    return Score("tmean", (first.value + second.value) / 2, backend)
