"""Appearance style: how well each frame matches a style text (CLIP ViT-B/32 image-text logit / 100, averaged over
frames; VBench's `appearance_style`). The paper's digital-world task reports it.

offline: no value; text-image alignment needs a learned text-image model.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_prompt
from .core import Backbones, Score, check_backend, unavailable

NAME = "appearance_style"


def appearance_style(video, text: str, backend: str = "offline", backbones: Backbones | None = None) -> Score:
    check_backend(backend)
    text = check_prompt(text, "style text")
    if backend == "offline":
        return unavailable(NAME, backend, "text-image alignment needs CLIP; use backend='vbench'")
    import clip
    import torch
    from vbench.utils import clip_transform_Image

    backbones = backbones or Backbones()
    model = backbones["clip_b32"]
    tokens = clip.tokenize([text]).to(backbones.device)
    transform = clip_transform_Image(224)
    sims = []
    with torch.no_grad():
        for i in range(len(video)):
            _, logits_per_text = model(transform(video.frame(i))[None].to(backbones.device), tokens)
            sims.append(float(logits_per_text[0][0].cpu()) / 100)
    return Score(NAME, float(np.mean(sims)), backend)
