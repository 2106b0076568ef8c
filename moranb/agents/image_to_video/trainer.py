"""Fine-tuning the image-to-video agent (SVD UNet) on (first frame, the video's first segment): SVD's EDM
preconditioning with v-prediction, the parameterisation its `EulerDiscreteScheduler` (prediction_type
"v_prediction") undoes at sampling: sigma drawn log-normal (P_mean 0.7, P_std 1.6), input c_in = 1/sqrt(sigma^2+1),
timestep c_noise = log(sigma)/4, denoised = c_skip x + c_out F; the loss on the denoised latents, weighted
min(SNR, gamma) with SNR = 1/sigma^2 (min-SNR for v-prediction; EDM's own weight (sigma^2+1)/sigma^2 when gamma is
None). The conditioning image goes through the pipeline's own encoders (`_encode_image`, `_encode_vae_image`, through
`moranb._compat`), noise-augmented once per sample (fixed seed). SVD has no LoRA loader: its LoRA is peft's state
dict."""

from __future__ import annotations

import torch

from ... import _compat
from ...errors import InputError
from ...modulation import MOD_TOKEN
from ..training import SVD_P_MEAN, SVD_P_STD, AgentTrainer, first_segment, pixels
from ..wan import MAX_SEQUENCE_LENGTH
from .tiny import BUILDS


class ImageToVideoTrainer(AgentTrainer):
    field = "image_to_video"
    pipeline_class = "StableVideoDiffusionPipeline"
    lora_format = "peft-lora"
    tiny_builds = BUILDS

    def motion_bucket(self, sample) -> int:
        """The motion bucket the agent samples this video with: the profile's, or, where the profile's plugin reads
        the motion from the prompt (mini: the motion is the bucket), the bucket of the sample's caption's motion."""
        hooks = self.profile.plugin_module()
        if not hasattr(hooks, "motion_bucket"):
            return self.profile.image_to_video.motion_bucket_id
        return hooks.motion_bucket(hooks.motion_of(sample.meta.get("enhanced_prompt") or sample.prompt))

    @torch.no_grad()
    def modulation_init(self) -> torch.Tensor:
        """E("[Mod]") for an agent whose encoder reads images: the CLIP image encoder on the token drawn as text."""
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (224, 224), "white")
        ImageDraw.Draw(image).text((80, 104), MOD_TOKEN, fill="black")
        return _compat.svd_encode_image(self.pipe, image, self.device, 1, False)[0, 0].float().cpu()

    @torch.no_grad()
    def encode(self, sample, frames: int, seed: int) -> dict:
        p = self.profile
        segment = first_segment(sample, frames)
        clip = pixels(segment).to(self.device)
        image = sample.first_frame
        embeds = _compat.svd_encode_image(self.pipe, image, self.device, 1, False)  # (1, 1, D)
        cond = self.pipe.video_processor.preprocess(image, height=image.height, width=image.width).to(self.device)
        noise = torch.randn(cond.shape, generator=torch.Generator("cpu").manual_seed(seed)).to(self.device)
        svd = p.image_to_video
        cond_latents = _compat.svd_encode_vae_image(self.pipe, cond + svd.noise_aug_strength * noise, self.device, 1,
                                                    False)
        vae, chunk = self.pipe.vae, max(1, svd.decode_chunk_size)
        latents = torch.cat([vae.encode(clip[i:i + chunk]).latent_dist.mode() for i in range(0, frames, chunk)])
        time_ids = torch.tensor([p.fps - 1, self.motion_bucket(sample), svd.noise_aug_strength], dtype=torch.float32)
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


class WanImageToVideoTrainer(AgentTrainer):
    """Wan 2.2's image-to-video transformer (I2V-A14B's high-noise expert, or TI2V-5B's one transformer) on (first
    frame, the video's first segment, its caption), by flow matching as Wan samples: x_sigma = sigma noise +
    (1 - sigma) x0, timestep 1000 sigma, target noise - x0; sigma logit-normal, within the expert's range where the
    pipeline has two (A14B: the high-noise expert denoises sigma >= boundary_ratio; its low-noise expert is not
    trained here). The image goes in as the pipeline's own `prepare_latents` makes it: beside the noise with its
    mask (A14B), or as the first latent frame held clean by per-token timesteps (TI2V). The modulation token joins
    the UMT5 states the transformer reads (`encoder_hidden_states`)."""

    field = "image_to_video"
    pipeline_class = "WanImageToVideoPipeline"
    denoiser_name = "transformer"
    lora_format = "peft-lora"
    tiny_builds = BUILDS
    frozen = ("vae", "text_encoder", "image_encoder", "transformer_2")

    def _text(self, text: str):
        embeds, _ = self.pipe.encode_prompt(text, do_classifier_free_guidance=False, device=self.device,
                                            max_sequence_length=MAX_SEQUENCE_LENGTH)
        return embeds

    @torch.no_grad()
    def modulation_init(self) -> torch.Tensor:
        """E("[Mod]"): the mean of UMT5's states over the token's own positions (no end or padding)."""
        ids = self.pipe.tokenizer(MOD_TOKEN, add_special_tokens=True).input_ids
        embeds = self._text(MOD_TOKEN)
        return embeds[0, :max(len(ids) - 1, 1)].float().mean(0).cpu()

    @torch.no_grad()
    def encode(self, sample, frames: int, seed: int) -> dict:
        pipe = self.pipe
        segment = first_segment(sample, frames)
        if frames % pipe.vae_scale_factor_temporal != 1:
            raise InputError(f"Wan trains on 4k+1 frames; got {frames} (pass frames=4k+1)")
        clip = pixels(segment).permute(1, 0, 2, 3).unsqueeze(0).to(self.device)  # (1, 3, F, H, W)
        vae = pipe.vae
        mean = torch.tensor(vae.config.latents_mean, device=self.device).view(1, -1, 1, 1, 1)
        inv_std = 1.0 / torch.tensor(vae.config.latents_std, device=self.device).view(1, -1, 1, 1, 1)
        latents = (vae.encode(clip).latent_dist.mode() - mean) * inv_std
        image = sample.first_frame
        h, w = clip.shape[-2:]
        cond_image = pipe.video_processor.preprocess(image, height=h, width=w).to(self.device, torch.float32)
        prepared = pipe.prepare_latents(cond_image, 1, vae.config.z_dim, h, w, frames, torch.float32, self.device,
                                        torch.Generator("cpu").manual_seed(seed))
        out = {"latents": latents[0].float().cpu(), "condition": prepared[1][0].float().cpu(),
               "embeds": self._text(sample.meta.get("enhanced_prompt") or sample.prompt)[0].float().cpu()}
        if pipe.config.expand_timesteps:
            out["first_frame_mask"] = prepared[2][0].float().cpu()
        return out

    def loss(self, batch: dict, generator: torch.Generator, snr_gamma: float | None) -> torch.Tensor:
        pipe = self.pipe
        x0 = batch["latents"].to(self.device)
        b = x0.shape[0]
        low = pipe.config.boundary_ratio or 0.0  # the expert trained here denoises sigma >= low
        sigma = (low + (1 - low) * torch.sigmoid(torch.randn((b,), generator=generator))).clamp(1e-3, 1.0)
        sigma = sigma.to(self.device)
        noise = torch.randn(x0.shape, generator=generator).to(self.device)
        s = sigma.view(b, 1, 1, 1, 1)
        noisy = s * noise + (1 - s) * x0
        condition = batch["condition"].to(self.device)
        weight = torch.ones_like(x0)
        if "first_frame_mask" in batch:  # TI2V: the first latent frame is the image, clean, at timestep 0
            mask = batch["first_frame_mask"].to(self.device)
            model_in = (1 - mask) * condition + mask * noisy
            patch = self.denoiser.config.patch_size
            timestep = (mask[:, 0, :, ::patch[1], ::patch[2]] * (sigma.view(b, 1, 1, 1) * 1000)).flatten(1)
            weight = mask.expand_as(x0)
        else:
            model_in = torch.cat([noisy, condition], dim=1)
            timestep = sigma * 1000
        pred = self.model(hidden_states=model_in.to(self.dtype), timestep=timestep,
                          encoder_hidden_states=batch["embeds"].to(self.device, self.dtype),
                          return_dict=False)[0].float()
        return (((pred - (noise - x0)) ** 2) * weight).sum() / (weight.sum()).clamp(min=1)
