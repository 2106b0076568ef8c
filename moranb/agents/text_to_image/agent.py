"""The text-to-image agent: SDXL base, then the SDXL refiner on the base's latents (the paper's first frame)."""

from __future__ import annotations

import torch
from PIL import Image

from ... import models
from ...checks import check_prompt, check_size
from ...config import Profile
from .tiny import BUILDS



class TextToImageAgent:
    def __init__(self, profile: Profile):
        self.profile = profile

    @property
    def pipe(self):
        from diffusers import AutoencoderKL, StableDiffusionXLPipeline

        p, s = self.profile, self.profile.text_to_image
        vae = {"vae": models.load_model(AutoencoderKL, s.vae, p, "sdxl_vae")} if s.vae else {}
        return models.load(StableDiffusionXLPipeline, s.model, p, "text_to_image", tiny_builds=BUILDS, **vae)

    @property
    def refiner(self):
        if self.profile.text_to_image.refiner is None:
            return None
        from diffusers import StableDiffusionXLImg2ImgPipeline

        base = self.pipe  # the refiner shares the base's VAE and second text encoder, as in SDXL's model card
        return models.load(StableDiffusionXLImg2ImgPipeline, self.profile.text_to_image.refiner, self.profile,
                           "refiner", tiny_builds=BUILDS, text_encoder_2=base.text_encoder_2, vae=base.vae)

    def __call__(self, prompt: str, seed: int = 0, width: int | None = None, height: int | None = None,
                 negative_prompt: str | None = None) -> Image.Image:
        p, s = self.profile, self.profile.text_to_image
        prompt = check_prompt(prompt)
        width, height = check_size(width or p.width, height or p.height, p.size_multiple, "SDXL")
        generator = torch.Generator("cpu").manual_seed(seed)
        common = dict(prompt=prompt, negative_prompt=negative_prompt, num_inference_steps=s.steps,
                      guidance_scale=s.guidance_scale, generator=generator)
        refiner = self.refiner
        if refiner is None:
            return self.pipe(width=width, height=height, output_type="pil", **common).images[0]
        latents = self.pipe(width=width, height=height, denoising_end=s.refiner_split, output_type="latent",
                            **common).images
        return refiner(image=latents, denoising_start=s.refiner_split, output_type="pil", **common).images[0]
