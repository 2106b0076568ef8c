"""Fine-tuning the connection agent (LTX-Video's transformer); see `ConnectionTrainer`."""

from __future__ import annotations

import torch

from ... import _compat
from ...errors import InputError
from ...modulation import MOD_TOKEN
from ..training import AgentTrainer, pixels
from .tiny import BUILDS

IMAGE_COND_NOISE = 0.15  # LTXConditionPipeline's default image_cond_noise_scale

class ConnectionTrainer(AgentTrainer):
    """LTX-Video's transformer on (a clip's first frame, its last frame, the clip): the connection task itself.

    Each step builds the model's input with the pipeline's own `prepare_latents`, given the noisy clip (sigma = 0
    there, so it adds no noise of its own): the first frame's latents replace the first latent frame, the last frame's
    are prepended as extra tokens with their own positions, and both carry timestep 0, exactly as at inference. The
    loss is flow matching's (velocity = noise - clean latents) over the tokens left to denoise; sigma is drawn
    logit-normal (min-SNR weighting does not apply to flow matching). The prompt is the profile's connection prompt,
    the one the agent is given at inference.
    """

    field = "connection"
    pipeline_class = "LTXConditionPipeline"
    denoiser_name = "transformer"
    tiny_builds = BUILDS

    def _text(self, text: str):
        embeds, mask, _, _ = self.pipe.encode_prompt(text, do_classifier_free_guidance=False, device=self.device,
                                                     max_sequence_length=128)
        return embeds, mask

    @torch.no_grad()
    def modulation_init(self) -> torch.Tensor:
        """E("[Mod]"): the mean of the T5 encoder's states over the token's own positions (no end or padding)."""
        embeds, mask = self._text(MOD_TOKEN)
        n = int(mask[0].sum()) - 1  # without the end token
        return embeds[0, :max(n, 1)].float().mean(0).cpu()

    @torch.no_grad()
    def encode(self, sample, frames: int, seed: int) -> dict:
        n = self.profile.connection.frames
        video = sample.video
        if video.num_frames < n:
            raise InputError(f"sample {sample.id} has {video.num_frames} frames, fewer than the {n} of a connection; "
                             f"fine-tune without it (agents=('text_to_image', 'image_to_video')) or make the round's "
                             f"videos longer (more segments)")
        pipe = self.pipe
        clip = pixels(video.frames[:n]).permute(1, 0, 2, 3).unsqueeze(0).to(self.device)  # (1, 3, F, H, W)
        latents = pipe.vae.encode(clip).latent_dist.mode()
        latents = _compat.ltx_normalize_latents(pipe, latents)
        embeds, mask = self._text(self.profile.connection.prompt)
        return {"latents": latents[0].float().cpu(), "embeds": embeds[0].float().cpu(), "mask": mask[0].cpu(),
                "first": clip[0, :, :1].float().cpu(), "last": clip[0, :, -1:].float().cpu()}

    def loss(self, batch: dict, generator: torch.Generator, snr_gamma: float | None) -> torch.Tensor:
        return transition_loss(self.pipe, self.model, batch, generator, self.profile.connection.frames,
                               self.profile.fps, self.dtype, self.device)


def transition_loss(pipe, model, batch: dict, generator: torch.Generator, frames: int, fps: float,
                    dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Flow matching's loss of `model` (the pipeline's transformer, or its wrapped training copy) on transitions:
    `batch` holds "latents" (B, C, F', h, w, normalised as the pipeline's), "embeds" and "mask" (the prompt's), and
    "first" and "last" (B, 3, 1, H, W pixels in [-1, 1]), the frames at index 0 and `frames - 1`. The input is built
    by the pipeline's own `prepare_latents`, as at inference (see `ConnectionTrainer`)."""
    device = device or batch["latents"].device
    x0 = batch["latents"].to(device)
    b = x0.shape[0]
    sigma = torch.sigmoid(torch.randn((b,), generator=generator)).clamp(1e-3, 1.0).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    s = sigma.view(b, 1, 1, 1, 1)
    noisy = s * noise + (1 - s) * x0
    height, width = batch["first"].shape[-2:]
    with torch.no_grad():
        tokens, cond_mask, coords, extra = _compat.ltx_prepare_latents(
            pipe, [batch["first"].to(device), batch["last"].to(device)], [1.0, 1.0], [0, frames - 1],
            batch_size=b, num_channels_latents=pipe.transformer.config.in_channels, height=height, width=width,
            num_frames=frames, sigma=torch.zeros_like(s), latents=noisy, generator=generator, device=device,
            dtype=torch.float32)
    # At inference the pipeline noises the conditioning tokens by image_cond_noise_scale x t^2 (its default 0.15,
    # which the agent keeps; `add_noise_to_image_conditioning_latents`): the same here.
    given = (cond_mask > 1.0 - 1e-6).unsqueeze(-1)
    cond_noise = torch.randn(tokens.shape, generator=generator).to(device)
    tokens = torch.where(given, tokens + IMAGE_COND_NOISE * cond_noise * sigma.view(b, 1, 1) ** 2, tokens)
    coords = coords.float()
    coords[:, 0] = coords[:, 0] * (1.0 / fps)
    timestep = torch.min(sigma.view(b, 1) * 1000.0, (1 - cond_mask) * 1000.0)
    pred = model(hidden_states=tokens.to(dtype), encoder_hidden_states=batch["embeds"].to(device, dtype),
                 timestep=timestep, encoder_attention_mask=batch["mask"].to(device), video_coords=coords,
                 return_dict=False)[0].float()[:, extra:]
    target = _compat.ltx_pack_latents(pipe, noise - x0)
    free = (cond_mask[:, extra:] < 1).unsqueeze(-1).float()  # the tokens the model has to denoise
    return (((pred - target) ** 2) * free).sum() / (free.sum() * pred.shape[-1]).clamp(min=1)
