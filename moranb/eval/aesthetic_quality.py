"""Aesthetic quality: the LAION aesthetic predictor (a linear head on CLIP ViT-L/14 image features), / 10, averaged
over frames (VBench's `laion_aesthetic`, batches of 32).

offline: no value. Aesthetics is a learned judgement; no weight-free measure approximates it honestly.
"""

from __future__ import annotations

from .core import Backbones, Score, check_backend, frames_tchw, unavailable

NAME = "aesthetic_quality"


def aesthetic_quality(video, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    if backend == "offline":
        return unavailable(NAME, backend, "needs the LAION aesthetic head (a learned judgement with no weight-free "
                                          "stand-in); use backend='vbench'")
    import torch
    import torch.nn.functional as F
    from vbench.utils import clip_transform

    backbones = backbones or Backbones()
    clip_model, head = backbones["clip_l14"], backbones["aesthetic"]
    images = frames_tchw(video)
    scores = []
    for start in range(0, len(images), 32):
        batch = clip_transform(224)(images[start : start + 32]).to(backbones.device)
        with torch.no_grad():
            feats = F.normalize(clip_model.encode_image(batch).to(torch.float32), dim=-1, p=2)
            scores.append(head(feats).squeeze(dim=-1))
    return Score(NAME, float(torch.mean(torch.cat(scores) / 10).item()), backend)
