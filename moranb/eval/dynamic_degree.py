"""Dynamic degree: does the video move at all?

Frames are sampled at about 8 fps (every round(fps/8)-th frame). For each consecutive pair, the mean of the largest
5 % of optical-flow magnitudes; the video is dynamic if at least round(4n/16) pairs exceed 6 * min(H, W) / 256
(n = sampled frames). The dimension over many videos is the fraction that are dynamic; per video it is 1 or 0.
vbench: RAFT (raft-things, 20 iterations), VBench's padding.
offline: OpenCV's Farneback flow on grey frames. Farneback underestimates large displacements and is noisier on
flat regions than RAFT; the thresholds are VBench's.
"""

from __future__ import annotations

import numpy as np

from .core import Backbones, Score, check_backend, too_short

NAME = "dynamic_degree"


def sampled(video) -> list[np.ndarray]:
    interval = max(1, round(video.fps / 8))
    return list(video.frames[::interval])


def top5_magnitude(flow: np.ndarray) -> float:
    """Mean of the largest 5 % flow magnitudes; flow is (H, W, 2)."""
    rad = np.sqrt(np.square(flow[..., 0]) + np.square(flow[..., 1])).ravel()
    cut = int(rad.size * 0.05)
    return float(np.mean(np.sort(rad)[::-1][:cut]))


def is_dynamic(scores: list[float], height: int, width: int, count: int) -> bool:
    threshold = 6.0 * (min(height, width) / 256.0)
    needed = round(4 * (count / 16.0))
    moving = 0
    for score in scores:  # VBench's check_move, including its early exit
        if score > threshold:
            moving += 1
        if moving >= needed:
            return True
    return False


def raft_scores(frames: list[np.ndarray], model, device: str = "cpu") -> list[float]:
    import torch
    from vbench.third_party.RAFT.core.utils_core.utils import InputPadder

    tensors = [torch.from_numpy(f.astype(np.uint8)).permute(2, 0, 1).float()[None].to(device) for f in frames]
    scores = []
    with torch.no_grad():
        for a, b in zip(tensors[:-1], tensors[1:]):
            padder = InputPadder(a.shape)
            a, b = padder.pad(a, b)
            _, flow = model(a, b, iters=20, test_mode=True)
            scores.append(top5_magnitude(flow[0].permute(1, 2, 0).cpu().numpy()))
    return scores


def farneback_scores(frames: list[np.ndarray]) -> list[float]:
    import cv2

    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    return [top5_magnitude(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0))
            for a, b in zip(grey[:-1], grey[1:])]


def dynamic_degree(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    frames = sampled(video)
    if short := too_short(NAME, backend, len(frames)):  # no pair: no motion to measure
        return short
    if backend == "offline":
        scores = farneback_scores(frames)
    else:
        backbones = backbones or Backbones()
        scores = raft_scores(frames, backbones["raft"], backbones.device)
    h, w = frames[0].shape[:2]
    return Score(NAME, float(is_dynamic(scores, h, w, len(frames))), backend)
