"""Fine-tuning the text-to-image agent (SDXL base UNet) on (enhanced prompt, first frame): epsilon prediction on the
DDPM forward process of the pipeline's own scheduler (its betas), min-SNR-gamma weighting
(`diffusers.training_utils.compute_snr`)."""

from __future__ import annotations

import torch

from ...modulation import MOD_TOKEN
from ..training import AgentTrainer
from .tiny import BUILDS

class TextToImageTrainer(AgentTrainer):
    field = "text_to_image"
    pipeline_class = "StableDiffusionXLPipeline"
    tiny_builds = BUILDS
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
