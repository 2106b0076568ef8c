"""The text-to-image agent's tiny models: SDXL base and refiner (both text encoders; the refiner shares the base's
VAE and second text encoder, as SDXL's do), with SDXL's scheduler config."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ...tiny import clip_text_config, sd_vae, seeded
from ...tokenizers import clip_tokenizer

def _euler_sdxl():
    from diffusers import EulerDiscreteScheduler

    # The SDXL base/refiner scheduler config.
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
        use_karras_sigmas=False,
    )


def _sdxl_unet(cross_attention_dim: int, time_ids: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), norm_num_groups=8,
        projection_class_embeddings_input_dim=time_ids * 8 + 32, cross_attention_dim=cross_attention_dim,
    )


@lru_cache(maxsize=1)
def _sdxl_shared():
    """The VAE and second text encoder the refiner shares with the base (as SDXL's do)."""
    from transformers import CLIPTextModelWithProjection

    seeded(1)
    vae = sd_vae()
    seeded(2)
    text_encoder_2 = CLIPTextModelWithProjection(clip_text_config(with_projection=True))
    return vae, text_encoder_2


def _build_sdxl_base(out: Path):
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel

    vae, text_encoder_2 = _sdxl_shared()
    seeded(3)
    text_encoder = CLIPTextModel(clip_text_config(with_projection=False))
    seeded(4)
    unet = _sdxl_unet(cross_attention_dim=64, time_ids=6)  # 32 + 32 hidden sizes; 6 micro-conditions
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=clip_tokenizer(),
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=unet, scheduler=_euler_sdxl(), force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.save_pretrained(out)


def _build_sdxl_refiner(out: Path):
    from diffusers import StableDiffusionXLImg2ImgPipeline

    vae, text_encoder_2 = _sdxl_shared()
    seeded(5)
    unet = _sdxl_unet(cross_attention_dim=32, time_ids=5)  # text_encoder_2 only; aesthetic score replaces a crop
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=vae, text_encoder=None, text_encoder_2=text_encoder_2, tokenizer=None,
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=unet, scheduler=_euler_sdxl(), requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False, add_watermarker=False,
    )
    pipe.save_pretrained(out)


BUILDS = {"sdxl-base": _build_sdxl_base, "sdxl-refiner": _build_sdxl_refiner}
