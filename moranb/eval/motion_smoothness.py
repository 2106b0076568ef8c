"""Motion smoothness: can the odd frames be predicted by interpolating the even ones?

Both backends drop the odd frames, re-create each from its two even neighbours, and score
(255 - mean |original - interpolated|) / 255 over the odd frames (VBench's `MotionSmoothness.vfi_score`).
vbench: the interpolator is AMT-S, with VBench's padding and tensor conversions (its CPU setting: no rescaling).
offline: the interpolator is the average of the two neighbours. A linear blend ghosts moving edges, so fast but
smooth motion scores lower offline than with AMT; it still falls sharply when the frame order is broken.
"""

from __future__ import annotations

import numpy as np

from .core import Backbones, Score, check_backend

NAME = "motion_smoothness"


def _score(originals: list[np.ndarray], interpolated: list[np.ndarray]) -> float:
    # VBench's cv2.absdiff on uint8 frames, averaged per frame, then over frames.
    diffs = [np.abs(o.astype(np.int16) - i.astype(np.int16)).mean() for o, i in zip(originals, interpolated)]
    return float((255.0 - np.mean(diffs)) / 255.0)


def amt_interpolate(frames: list[np.ndarray], model, device: str = "cpu") -> list[np.ndarray]:
    """The frames between consecutive `frames`, made by AMT as VBench runs it."""
    import torch
    from vbench.third_party.amt.utils.utils import InputPadder, check_dim_and_resize, img2tensor, tensor2img

    inputs = check_dim_and_resize([img2tensor(f).to(device) for f in frames])
    scale = 1.0  # VBench's CPU setting; on CUDA it rescales only frames too large for the GPU
    padder = InputPadder(inputs[0].shape, int(16 / scale))
    inputs = padder.pad(*inputs)
    embt = torch.tensor(1 / 2).float().view(1, 1, 1, 1).to(device)
    middles = []
    with torch.no_grad():
        for a, b in zip(inputs[:-1], inputs[1:]):
            middles.append(model(a, b, embt, scale_factor=scale, eval=True)["imgt_pred"].cpu())
    return [tensor2img(m) for m in padder.unpad(*middles)] if len(middles) > 1 else [tensor2img(padder.unpad(*middles))]


def motion_smoothness(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    frames = list(video.frames)
    evens, odds = frames[0::2], frames[1::2]
    if len(evens) < 2:
        return Score(NAME, None, backend, "needs at least 3 frames")
    if backend == "offline":
        middles = [((a.astype(np.float32) + b) / 2).round().astype(np.uint8) for a, b in zip(evens[:-1], evens[1:])]
    else:
        backbones = backbones or Backbones()
        middles = amt_interpolate(evens, backbones["amt"], backbones.device)
    return Score(NAME, _score(odds[: len(middles)], middles), backend)
