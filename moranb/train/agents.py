"""What fine-tuning needs from each agent: its denoiser, its inputs from a dataset sample, its own loss, its adapter.

Each agent is trained with the objective its diffusers pipeline samples with:

- text-to-image (SDXL base UNet) on (enhanced prompt, first frame): epsilon prediction on the DDPM forward process of
  the pipeline's own scheduler (its betas), min-SNR-gamma weighting (`diffusers.training_utils.compute_snr`).
- image-to-video (SVD UNet) on (first frame, the video's first segment): SVD's EDM preconditioning with v-prediction,
  the parameterisation its `EulerDiscreteScheduler` (prediction_type "v_prediction") undoes at sampling: sigma drawn
  log-normal (P_mean 0.7, P_std 1.6), input c_in = 1/sqrt(sigma^2+1), timestep c_noise = log(sigma)/4, denoised =
  c_skip x + c_out F; the loss on the denoised latents, weighted min(SNR, gamma) with SNR = 1/sigma^2 (min-SNR for
  v-prediction; EDM's own weight (sigma^2+1)/sigma^2 when gamma is None). The conditioning image goes through the
  pipeline's own encoders (`_encode_image`, `_encode_vae_image`), noise-augmented once per sample (fixed seed).

- connection (LTX-Video's transformer) on (a clip's first frame, its last frame, the clip): flow matching, with the
  conditioning built by the pipeline's own `prepare_latents` (see `ConnectionTrainer`).

Image-to-image (InstructPix2Pix) is not trained: the data-free dataset holds no edit instructions with before/after
images. It stays as loaded.

The frozen parts (VAE, text and image encoders) run once per sample, in `encode`; their outputs are kept, so an epoch
never re-encodes a frame.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import models
from ..config import Profile
from ..errors import InputError
from .modulation import MOD_TOKEN

LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]  # the attention projections, as diffusers' LoRA scripts train
SVD_P_MEAN, SVD_P_STD = 0.7, 1.6  # SVD's training noise distribution (log-normal sigma)


def _pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float (F, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class AgentTrainer:
    field: str  # the profile field naming the agent's model
    pipeline_class: str
    denoiser_name = "unet"  # the pipeline component that is trained
    frozen = ("vae", "text_encoder", "text_encoder_2", "image_encoder")  # run once per sample, in `encode`

    def __init__(self, profile: Profile, device: torch.device, dtype: torch.dtype):
        import diffusers

        self.profile, self.device, self.dtype = profile, device, dtype
        model = getattr(profile, self.field)
        # Not models.load: training changes the denoiser, which must not leak into the process's cached pipelines.
        self.pipe = models.from_pretrained(getattr(diffusers, self.pipeline_class), model, self.field, dtype=dtype)
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
        return getattr(self.profile, self.field).source


class TextToImageTrainer(AgentTrainer):
    field = "text_to_image"
    pipeline_class = "StableDiffusionXLPipeline"
    prediction = "epsilon"

    def __init__(self, profile, device, dtype):
        super().__init__(profile, device, dtype)
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler.from_config(self.pipe.scheduler.config)
        self.prediction = self.scheduler.config.prediction_type

    @torch.no_grad()
    def modulation_init(self) -> torch.Tensor:
        """E("[Mod]"): the mean of the token's own hidden states (no start, end or padding token) in the two text
        encoders' concatenated states, exactly as the pipeline conditions the UNet."""
        embeds, _, _, _ = self.pipe.encode_prompt(MOD_TOKEN, device=self.device, do_classifier_free_guidance=False)
        n = len(self.pipe.tokenizer(MOD_TOKEN).input_ids)  # with start and end
        return embeds[0, 1:n - 1].float().mean(0).cpu()

    @torch.no_grad()
    def encode(self, sample, frames: int, seed: int) -> dict:
        image = sample.first_frame
        embeds, _, pooled, _ = self.pipe.encode_prompt(sample.meta.get("enhanced_prompt") or sample.prompt,
                                                       device=self.device, do_classifier_free_guidance=False)
        pixels = self.pipe.image_processor.preprocess(image).to(self.device, torch.float32)
        latents = self.pipe.vae.encode(pixels).latent_dist.mode() * self.pipe.vae.config.scaling_factor
        size = (image.height, image.width)
        time_ids = torch.tensor([*size, 0, 0, *size], dtype=torch.float32)  # original size, crop top-left, target
        return {"latents": latents[0].float().cpu(), "embeds": embeds[0].float().cpu(),
                "pooled": pooled[0].float().cpu(), "time_ids": time_ids}

    def loss(self, batch: dict, generator: torch.Generator, snr_gamma: float | None) -> torch.Tensor:
        from diffusers.training_utils import compute_snr

        latents = batch["latents"]
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
        t = t.to(self.device)
        latents = latents.to(self.device)
        noisy = self.scheduler.add_noise(latents, noise, t)
        target = noise if self.prediction == "epsilon" else self.scheduler.get_velocity(latents, noise, t)
        pred = self.model(
            noisy.to(self.dtype), t, encoder_hidden_states=batch["embeds"].to(self.device, self.dtype),
            added_cond_kwargs={"text_embeds": batch["pooled"].to(self.device, self.dtype),
                               "time_ids": batch["time_ids"].to(self.device, self.dtype)},
        ).sample.float()
        per_sample = ((pred - target) ** 2).mean(dim=(1, 2, 3))
        if snr_gamma is not None:
            snr = compute_snr(self.scheduler, t)
            weight = torch.clamp(snr, max=snr_gamma) / (snr if self.prediction == "epsilon" else snr + 1)
            per_sample = per_sample * weight
        return per_sample.mean()


class ImageToVideoTrainer(AgentTrainer):
    field = "image_to_video"
    pipeline_class = "StableVideoDiffusionPipeline"

    @torch.no_grad()
    def modulation_init(self) -> torch.Tensor:
        """E("[Mod]") for an agent whose encoder reads images: the CLIP image encoder on the token drawn as text."""
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (224, 224), "white")
        ImageDraw.Draw(image).text((80, 104), MOD_TOKEN, fill="black")
        return self.pipe._encode_image(image, self.device, 1, False)[0, 0].float().cpu()

    @torch.no_grad()
    def encode(self, sample, frames: int, seed: int) -> dict:
        p = self.profile
        video = sample.video
        if video.num_frames < frames:
            raise InputError(f"sample {sample.id} has {video.num_frames} frames, fewer than the {frames} of one "
                             f"segment; rebuild the dataset or pass frames=<= {video.num_frames}")
        clip = _pixels(video.frames[:frames]).to(self.device)
        image = sample.first_frame
        embeds = self.pipe._encode_image(image, self.device, 1, False)  # (1, 1, D)
        cond = self.pipe.video_processor.preprocess(image, height=image.height, width=image.width).to(self.device)
        noise = torch.randn(cond.shape, generator=torch.Generator("cpu").manual_seed(seed)).to(self.device)
        cond_latents = self.pipe._encode_vae_image(cond + p.noise_aug_strength * noise, self.device, 1, False)
        vae, chunk = self.pipe.vae, max(1, p.decode_chunk_size)
        latents = torch.cat([vae.encode(clip[i:i + chunk]).latent_dist.mode() for i in range(0, frames, chunk)])
        time_ids = torch.tensor([p.fps - 1, p.motion_bucket_id, p.noise_aug_strength], dtype=torch.float32)
        return {"latents": (latents * vae.config.scaling_factor).float().cpu(), "embeds": embeds[0].float().cpu(),
                "cond_latents": cond_latents[0].float().cpu(), "time_ids": time_ids}

    def loss(self, batch: dict, generator: torch.Generator, snr_gamma: float | None) -> torch.Tensor:
        latents = batch["latents"]  # (B, F, C, h, w)
        b, f = latents.shape[:2]
        sigma = torch.exp(SVD_P_MEAN + SVD_P_STD * torch.randn((b,), generator=generator)).to(self.device)
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        latents = latents.to(self.device)
        s = sigma.view(b, 1, 1, 1, 1)
        noisy = latents + s * noise
        c_in, c_skip, c_out = 1 / (s ** 2 + 1).sqrt(), 1 / (s ** 2 + 1), -s / (s ** 2 + 1).sqrt()
        cond = batch["cond_latents"].to(self.device).unsqueeze(1).expand(-1, f, -1, -1, -1)
        model_in = torch.cat([c_in * noisy, cond], dim=2).to(self.dtype)
        out = self.model(model_in, 0.25 * sigma.log(), encoder_hidden_states=batch["embeds"].to(self.device, self.dtype),
                            added_time_ids=batch["time_ids"].to(self.device, self.dtype)).sample.float()
        denoised = c_skip * noisy + c_out * out
        per_sample = ((denoised - latents) ** 2).mean(dim=(1, 2, 3, 4))
        snr = 1 / sigma ** 2
        weight = torch.clamp(snr, max=snr_gamma) if snr_gamma is not None else snr + 1
        return (per_sample * weight).mean()


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
        n = self.profile.connection_frames
        video = sample.video
        if video.num_frames < n:
            raise InputError(f"sample {sample.id} has {video.num_frames} frames, fewer than the {n} of a connection; "
                             f"fine-tune without it (agents=('text_to_image', 'image_to_video')) or make the round's "
                             f"videos longer (more segments)")
        pipe = self.pipe
        clip = _pixels(video.frames[:n]).permute(1, 0, 2, 3).unsqueeze(0).to(self.device)  # (1, 3, F, H, W)
        latents = pipe.vae.encode(clip).latent_dist.mode()
        latents = pipe._normalize_latents(latents, pipe.vae.latents_mean, pipe.vae.latents_std)
        embeds, mask = self._text(self.profile.connection_prompt)
        return {"latents": latents[0].float().cpu(), "embeds": embeds[0].float().cpu(), "mask": mask[0].cpu(),
                "first": clip[0, :, :1].float().cpu(), "last": clip[0, :, -1:].float().cpu()}

    def loss(self, batch: dict, generator: torch.Generator, snr_gamma: float | None) -> torch.Tensor:
        pipe, n = self.pipe, self.profile.connection_frames
        x0 = batch["latents"].to(self.device)  # (B, C, F', h, w)
        b = x0.shape[0]
        sigma = torch.sigmoid(torch.randn((b,), generator=generator)).clamp(1e-3, 1.0).to(self.device)
        noise = torch.randn(x0.shape, generator=generator).to(self.device)
        s = sigma.view(b, 1, 1, 1, 1)
        noisy = s * noise + (1 - s) * x0
        height, width = batch["first"].shape[-2:]
        with torch.no_grad():
            tokens, cond_mask, coords, extra = pipe.prepare_latents(
                [batch["first"].to(self.device), batch["last"].to(self.device)], [1.0, 1.0], [0, n - 1],
                batch_size=b, num_channels_latents=self.denoiser.config.in_channels, height=height, width=width,
                num_frames=n, sigma=torch.zeros_like(s), latents=noisy, generator=generator, device=self.device,
                dtype=torch.float32)
        coords = coords.float()
        coords[:, 0] = coords[:, 0] * (1.0 / self.profile.fps)
        timestep = torch.min(sigma.view(b, 1) * 1000.0, (1 - cond_mask) * 1000.0)
        pred = self.model(hidden_states=tokens.to(self.dtype), encoder_hidden_states=batch["embeds"].to(self.device, self.dtype),
                          timestep=timestep, encoder_attention_mask=batch["mask"].to(self.device),
                          video_coords=coords, return_dict=False)[0].float()[:, extra:]
        target = pipe._pack_latents(noise - x0, pipe.transformer_spatial_patch_size,
                                    pipe.transformer_temporal_patch_size)
        free = (cond_mask[:, extra:] < 1).unsqueeze(-1).float()  # the tokens the model has to denoise
        return (((pred - target) ** 2) * free).sum() / (free.sum() * pred.shape[-1]).clamp(min=1)


TRAINERS = {"text_to_image": TextToImageTrainer, "image_to_video": ImageToVideoTrainer, "connection": ConnectionTrainer}
