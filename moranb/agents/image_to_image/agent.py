"""The image-to-image agent: InstructPix2Pix edits an image by an instruction ("make it snowy")."""

from __future__ import annotations

import torch
from PIL import Image

from ... import models
from ...checks import check_prompt, check_size
from ...config import Profile
from ...video import as_image
from .tiny import BUILDS



class ImageToImageAgent:
    def __init__(self, profile: Profile):
        self.profile = profile

    @property
    def pipe(self):
        from diffusers import StableDiffusionInstructPix2PixPipeline

        return models.load(StableDiffusionInstructPix2PixPipeline, self.profile.image_to_image.model, self.profile,
                           "image_to_image", tiny_builds=BUILDS)

    def __call__(self, image, instruction: str, seed: int = 0) -> Image.Image:
        s = self.profile.image_to_image
        instruction = check_prompt(instruction, "instruction")
        image = as_image(image)
        check_size(image.width, image.height, self.profile.size_multiple, "InstructPix2Pix")
        generator = torch.Generator("cpu").manual_seed(seed)
        return self.pipe(prompt=instruction, image=image, num_inference_steps=s.steps, guidance_scale=s.guidance_scale,
                         image_guidance_scale=s.image_guidance_scale, generator=generator).images[0]
