"""The image-to-image agent's tiny model: InstructPix2Pix (an 8-channel UNet on the SD VAE's latents)."""

from __future__ import annotations

from pathlib import Path

from ...tiny import clip_text_config, sd_vae, seeded
from ...tokenizers import clip_tokenizer

def _build_instruct_pix2pix(out: Path):
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    seeded(6)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
    )
    seeded(7)
    vae = sd_vae()
    seeded(8)
    text_encoder = CLIPTextModel(clip_text_config(with_projection=False))
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1,
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(out)


BUILDS = {"instruct-pix2pix": _build_instruct_pix2pix}
