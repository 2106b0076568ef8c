"""What every metric shares: the `Score` it returns, frame conversions, and the VBench backbones.

Two backends:
- "vbench": VBench's backbones (DINO ViT-B/16, CLIP ViT-B/32 and ViT-L/14 + the LAION aesthetic head, MUSIQ-SPAQ,
  RAFT, AMT-S, ViCLIP) read from VBench's cache directory ($VBENCH_CACHE_DIR, default ~/.cache/vbench), with
  VBench's preprocessing and formulas. Nothing is downloaded: a missing file is a one-line error naming it.
- "offline": weight-free stand-ins (pixel features, linear interpolation, Farneback flow, a classical sharpness and
  noise measure). Each module documents what its stand-in approximates. Where no honest stand-in exists the score
  is `None` with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..deps import need_vbench
from ..errors import InputError, ModelNotAvailableError

BACKENDS = ("vbench", "offline")


@dataclass(frozen=True)
class Score:
    metric: str
    value: float | None
    backend: str
    reason: str | None = None  # why `value` is None

    def __float__(self):
        if self.value is None:
            raise InputError(f"{self.metric} has no value on the {self.backend} backend: {self.reason}")
        return float(self.value)


def unavailable(metric: str, backend: str, reason: str) -> Score:
    return Score(metric, None, backend, reason)


def too_short(metric: str, backend: str, frames: int, need: int = 2) -> Score | None:
    """No value (with the reason) when a metric that compares frames gets fewer than it needs."""
    if frames < need:
        return unavailable(metric, backend, f"needs at least {need} frames (it compares frames with each other); "
                                            f"it got {frames}")
    return None


def check_backend(backend: str, vbench: bool = True) -> str:
    """`backend`, checked; and, where the metric runs VBench's own functions (both backends do, but for the few
    computed on pixels alone), that VBench's code is installed."""
    if backend not in BACKENDS:
        raise InputError(f"unknown evaluation backend '{backend}'; choose 'vbench' (real backbones) or 'offline'")
    if vbench:
        need_vbench()
    return backend


def frames_tchw(video):
    """VBench's in-memory video: a float tensor (T, C, H, W) holding 0..255, as its `load_video` returns."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(video.frames)).float().permute(0, 3, 1, 2)


def vbench_cache_dir() -> Path:
    """Where VBench keeps its backbones: $VBENCH_CACHE_DIR, or ~/.cache/vbench (moranb's own cache is elsewhere)."""
    return Path(os.environ.get("VBENCH_CACHE_DIR") or Path.home() / ".cache" / "vbench")


# Where VBench keeps each backbone (vbench/utils.py, init_submodules), and where it downloads it from.
FILES = {
    "dino": ("dino_model/dino_vitbase16_pretrain.pth", "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"),
    "dino_repo": ("dino_model/facebookresearch_dino_main", "git clone https://github.com/facebookresearch/dino"),
    "clip_b32": ("clip_model/ViT-B-32.pt", "openai-clip's ViT-B/32 checkpoint"),
    "clip_l14": ("clip_model/ViT-L-14.pt", "openai-clip's ViT-L/14 checkpoint"),
    "aesthetic": ("aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth", "LAION-AI/aesthetic-predictor"),
    "musiq": ("pyiqa_model/musiq_spaq_ckpt-358bb6af.pth", "chaofengc/IQA-PyTorch release v0.1-weights"),
    "raft": ("raft_model/models/raft-things.pth", "princeton-vl/RAFT models.zip"),
    "amt": ("amt_model/amt-s.pth", "lalala125/AMT on the Hugging Face hub"),
    "viclip": ("ViCLIP/ViClip-InternVid-10M-FLT.pth", "OpenGVLab/VBench_Used_Models on the Hugging Face hub"),
}


def vbench_file(name: str) -> Path:
    rel, source = FILES[name]
    path = vbench_cache_dir() / rel
    if not path.exists():
        raise ModelNotAvailableError(
            f"VBench backbone '{name}' is not at {path} and cannot be downloaded here; copy it there from a machine "
            f"with network ({source}; running VBench once there fetches it), or use backend='offline'"
        )
    return path


class Backbones:
    """VBench's models, each loaded on first use from the cache (or given, e.g. small random ones in tests)."""

    def __init__(self, device: str = "cpu", **given):
        self.device = device
        self._models = dict(given)

    def __getitem__(self, name: str):
        if name not in self._models:
            self._models[name] = getattr(self, f"_load_{name}")()
        return self._models[name]

    def _load_dino(self):
        import torch

        repo = vbench_file("dino_repo")
        model = torch.hub.load(str(repo), "dino_vitb16", source="local", pretrained=False)
        model.load_state_dict(torch.load(vbench_file("dino"), map_location="cpu", weights_only=True))
        return model.to(self.device).eval()

    def _load_clip_b32(self):
        import clip

        return clip.load(str(vbench_file("clip_b32")), device=self.device)[0].eval()

    def _load_clip_l14(self):
        import clip

        return clip.load(str(vbench_file("clip_l14")), device=self.device)[0].eval()

    def _load_aesthetic(self):
        import torch

        head = torch.nn.Linear(768, 1)
        head.load_state_dict(torch.load(vbench_file("aesthetic"), map_location="cpu", weights_only=True))
        return head.to(self.device).eval()

    def _load_musiq(self):
        from pyiqa.archs.musiq_arch import MUSIQ

        model = MUSIQ(pretrained_model_path=str(vbench_file("musiq")))
        model.training = False
        return model.to(self.device)

    def _load_raft(self):
        import torch
        from easydict import EasyDict
        from vbench.third_party.RAFT.core.raft import RAFT

        model = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False))
        state = torch.load(vbench_file("raft"), map_location="cpu", weights_only=True)
        model.load_state_dict({k.replace("module.", ""): v for k, v in state.items()})
        return model.to(self.device).eval()

    def _load_amt(self):
        import torch

        model = build_amt()
        model.load_state_dict(torch.load(vbench_file("amt"), map_location="cpu", weights_only=True)["state_dict"])
        return model.to(self.device).eval()

    def _load_viclip(self):
        weights = vbench_file("viclip")
        vocab = viclip_vocab()
        from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
        from vbench.third_party.ViCLIP.viclip import ViCLIP

        return ViCLIP(tokenizer=SimpleTokenizer(str(vocab)), pretrain=str(weights)).to(self.device).eval()


def viclip_vocab() -> Path:
    """Put the CLIP BPE vocabulary where VBench's ViCLIP code looks for it, before that code is imported.

    VBench's ViCLIP tokenizer module runs `wget` at import time when `$VBENCH_CACHE_DIR/ViCLIP/` lacks the file;
    the identical file ships in the openai-clip wheel, so it is copied from there and nothing is downloaded.
    """
    import shutil

    from vbench.utils import CACHE_DIR  # what VBench's code uses: $VBENCH_CACHE_DIR when vbench was imported

    from ..io import atomic_path
    from ..vocab import CLIP_BPE, clip_bpe_path

    path = Path(CACHE_DIR) / "ViCLIP" / CLIP_BPE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            shutil.copyfile(clip_bpe_path(), tmp)
    return path


def build_amt():
    """AMT-S, the interpolation network VBench's motion smoothness uses, from VBench's own config."""
    from importlib import resources

    from omegaconf import OmegaConf
    from vbench.third_party.amt.utils.build_utils import build_from_cfg

    cfg = resources.files("vbench") / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"
    return build_from_cfg(OmegaConf.load(str(cfg)).network)
