"""Temporal flickering: (255 - mean absolute difference of consecutive frames) / 255.

No weights, so both backends compute VBench's formula exactly (its `cal_score`). VBench applies it to videos of
static scenes only, where any change is flicker; on a moving video it measures motion as much as flicker.
"""

from __future__ import annotations

import numpy as np

from .core import Score, check_backend, too_short

NAME = "temporal_flickering"


def temporal_flickering(video, backend: str = "offline", backbones=None) -> Score:
    check_backend(backend, vbench=False)  # pixels alone
    if short := too_short(NAME, backend, video.num_frames):
        return short
    frames = video.frames.astype(np.float32)
    # float32 means, pair by pair, as VBench's cv2.absdiff + np.mean compute them.
    per_pair = np.array([np.mean(np.abs(b - a)) for a, b in zip(frames[:-1], frames[1:])])
    return Score(NAME, (255.0 - np.mean(per_pair).item()) / 255.0, backend)
