"""The truth judge of MoraMini: a small CNN that reads shape, colour and background from a frame, motion from a clip.

Two plain conv trunks: one reads each frame alone, pooled over positions (shape, colour, background; over a clip, the frames' logits are
averaged), the other reads the first and last frames stacked (motion: left, right, up, down, grow, still). It is
trained on the world's own clips with light noise and blur (`python -m moranb.mini.train_judge`), so it also reads
what a generator makes, and ships in `moranb/mini/weights/` (judge.safetensors, and judge.json with the command,
seed and measured accuracy).

`follows(clip_or_frame, caption)` turns "does this follow the prompt" into booleans per attribute and an overall
one; motion is judged only for a clip (two frames or more).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .. import models
from ..config import MINI_WEIGHTS
from ..errors import InputError, ModelNotAvailableError
from ..video import Video
from .world import ATTRIBUTES, SIZE, parse_caption

APPEARANCE = ("shape", "colour", "background")


def _appearance_trunk(width: int) -> nn.Sequential:
    # Max-pooled over positions: a shape is a shape wherever it stands (a flattened map read circles and squares
    # apart only 80 % of the time; pooled, 100 %).
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(2 * width, 64), nn.ReLU(),
    )


def _motion_trunk(width: int) -> nn.Sequential:
    # 16x16 -> 8x8 -> 4x4, flattened (not pooled): motion is where things went.
    return nn.Sequential(
        nn.Conv2d(6, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(2 * width * (SIZE // 4) ** 2, 64), nn.ReLU(),
    )


class MiniJudge(nn.Module):
    def __init__(self, width: int = 24):
        super().__init__()
        self.frame = _appearance_trunk(width)
        self.motion = _motion_trunk(width)
        self.heads = nn.ModuleDict({name: nn.Linear(64, len(ATTRIBUTES[name])) for name in APPEARANCE})
        self.motion_head = nn.Linear(64, len(ATTRIBUTES["motion"]))

    def frame_logits(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame appearance logits of frames (N, 3, H, W) in [0, 1]."""
        features = self.frame(frames - 0.5)
        return {name: head(features) for name, head in self.heads.items()}

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of clips (N, T, 3, H, W) in [0, 1]: appearance averaged over the frames, motion from first+last."""
        n, t = clips.shape[:2]
        per_frame = self.frame_logits(clips.flatten(0, 1))
        logits = {name: v.view(n, t, -1).mean(1) for name, v in per_frame.items()}
        logits["motion"] = self.motion_logits(clips[:, 0], clips[:, -1])
        return logits

    def motion_logits(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        return self.motion_head(self.motion(torch.cat([first, last], 1) - 0.5))


def as_clip(clip_or_frame) -> np.ndarray:
    """uint8 frames (T, H, W, 3) from a `Video`, a PIL image, or a uint8 array (H, W, 3) or (T, H, W, 3)."""
    if isinstance(clip_or_frame, Video):
        frames = clip_or_frame.frames
    elif isinstance(clip_or_frame, Image.Image):
        frames = np.asarray(clip_or_frame.convert("RGB"))[None]
    else:
        frames = np.asarray(clip_or_frame)
        frames = frames[None] if frames.ndim == 3 else frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"the mini judge reads a Video, a PIL image or uint8 frames (T, H, W, 3); got "
                         f"{getattr(frames, 'dtype', type(frames).__name__)} of shape {getattr(frames, 'shape', '?')}")
    if frames.shape[1:3] != (SIZE, SIZE):
        raise InputError(f"the mini judge reads {SIZE}x{SIZE} frames; got {frames.shape[2]}x{frames.shape[1]}")
    return frames


def to_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.array(clips, dtype=np.uint8)).movedim(-1, -3).float() / 255.0


def load_judge(folder: str | None = None) -> MiniJudge:
    """The trained judge from `folder` (default: the weights shipped in the package), in eval mode; kept for the
    process in `moranb.models`' cache (`models.clear()` frees it)."""
    folder = Path(folder) if folder else MINI_WEIGHTS

    def build() -> MiniJudge:
        from safetensors.torch import load_file

        weights, meta = folder / "judge.safetensors", folder / "judge.json"
        if not weights.is_file() or not meta.is_file():
            raise ModelNotAvailableError(f"no mini judge in '{folder}' (judge.safetensors + judge.json); train one "
                                         f"with python -m moranb.mini.train_judge --out DIR")
        judge = MiniJudge(**json.loads(meta.read_text(encoding="utf-8"))["config"])
        judge.load_state_dict(load_file(weights))
        return judge.eval().requires_grad_(False)

    return models.cached(("mini judge", str(folder)), build)


@torch.no_grad()
def read(clips, judge: MiniJudge | None = None) -> list[dict[str, str]]:
    """The attributes the judge reads from uint8 clips (N, T, H, W, 3); motion only where T >= 2."""
    judge = judge or load_judge()
    clips = np.asarray(clips)
    logits = judge(to_tensor(clips))
    found = []
    for i in range(len(clips)):
        names = APPEARANCE + (("motion",) if clips.shape[1] >= 2 else ())
        found.append({name: ATTRIBUTES[name][int(logits[name][i].argmax())] for name in names})
    return found


def follows(clip_or_frame, caption: str, judge: MiniJudge | None = None) -> dict[str, bool]:
    """Whether a frame or clip shows what `caption` says: one bool per attribute judged, and 'overall'.

    A single frame is judged on shape, colour and background; a clip on its motion too.
    """
    wanted = parse_caption(caption)
    seen = read(as_clip(clip_or_frame)[None], judge)[0]
    verdict = {name: seen[name] == getattr(wanted, name) for name in seen}
    verdict["overall"] = all(verdict.values())
    return verdict
