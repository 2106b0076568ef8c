"""What fine-tuning needs from every agent: its denoiser, loaded on its own, with the frozen parts that only encode.

Each role's trainer (`moranb.agents.<role>.trainer`) subclasses `AgentTrainer` with its inputs from a dataset sample
(`encode`), its own loss (the objective its diffusers pipeline samples with) and its modulation token's
initialisation; `moranb.train` runs them. The frozen parts (VAE, text and image encoders) run once per sample, in
`encode`; their outputs are kept, so an epoch never re-encodes a frame.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import models

LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]  # the attention projections, as diffusers' LoRA scripts train
SVD_P_MEAN, SVD_P_STD = 0.7, 1.6  # SVD's training noise distribution (log-normal sigma)


def pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float (F, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def first_segment(sample, frames: int):
    """The first `frames` frames of a dataset sample's video (uint8), or one line if it has fewer."""
    from ..errors import InputError

    video = sample.video
    if video.num_frames < frames:
        raise InputError(f"sample {sample.id} has {video.num_frames} frames, fewer than the {frames} of one "
                         f"segment; rebuild the dataset or pass frames=<= {video.num_frames}")
    return video.frames[:frames]


class AgentTrainer:
    field: str  # the name of the agent's model in the profile (moranb.config.MODELS)
    pipeline_class: str
    denoiser_name = "unet"  # the pipeline component that is trained
    lora_format = "diffusers-lora"  # how its LoRA is stored (moranb.adapters.FORMATS): the pipeline's own loader
    tiny_builds: dict = {}  # its role's tiny models (moranb.agents.<role>.tiny.BUILDS)
    frozen = ("vae", "text_encoder", "text_encoder_2", "image_encoder")  # run once per sample, in `encode`

    def __init__(self, profile, device: torch.device, dtype: torch.dtype):
        import diffusers

        self.profile, self.device, self.dtype = profile, device, dtype
        model = profile.model(self.field)
        # Not models.load: training changes the denoiser, which must not leak into the process's cached pipelines.
        self.pipe = models.from_pretrained(getattr(diffusers, self.pipeline_class), model, self.field,
                                           tiny_builds=self.tiny_builds, dtype=dtype)
        self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        if self.pipe.vae.dtype != torch.float32:
            self.pipe.vae.to(torch.float32)  # it only encodes, once per sample; fp32 avoids SDXL's fp16 overflow
        self.denoiser = getattr(self.pipe, self.denoiser_name)
        self.model = self.denoiser  # what the loss calls: the denoiser as accelerate prepared it (DDP on many GPUs)
        self.denoiser.requires_grad_(False)
        for part in self._frozen():
            part.requires_grad_(False).eval()

    def release_encoders(self):
        """Move the frozen encoders off the GPU once every sample is encoded: training needs only the denoiser."""
        if self.device.type != "cpu":
            for part in self._frozen():
                part.to("cpu")
            torch.cuda.empty_cache()

    def _frozen(self):
        return [getattr(self.pipe, name) for name in self.frozen if getattr(self.pipe, name, None) is not None]

    @property
    def source(self) -> str:
        return self.profile.model(self.field).source
