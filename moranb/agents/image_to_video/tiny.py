"""The image-to-video agent's tiny models: SVD-XT (spatio-temporal UNet, temporal VAE, CLIP vision encoder); Wan 2.2
I2V-A14B (two experts) and TI2V-5B (the Wan 2.2 VAE, per-token timesteps); VACE (extension and editing)."""

from __future__ import annotations

from pathlib import Path

from ...tiny import seeded
from .. import wan

def _build_svd(out: Path):
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    seeded(9)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=(4, 8), projection_class_embeddings_input_dim=3 * 32,
        addition_time_embed_dim=32, num_frames=25,
    )
    seeded(10)
    vae = AutoencoderKLTemporalDecoder(  # its norms use 32 groups, hence wider blocks than the SD VAE
        block_out_channels=[32, 32, 64], in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"] * 3, scaling_factor=0.18215,
    )
    seeded(11)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
                         image_size=224, intermediate_size=37, patch_size=32)
    )  # SVD resizes the conditioning image to 224 itself, as for the real ViT-H/14
    # The SVD-XT scheduler config (v-prediction, Karras sigmas, continuous timesteps).
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1,
        timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    pipe.save_pretrained(out)


def _build_wan_i2v(out: Path):
    """Wan 2.2 I2V-A14B's structure: two experts (high noise above 0.9 x 1000, low noise below) on 36 channels."""
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel

    tokenizer, text_encoder = wan.tiny_text(24)
    vae = wan.tiny_vae(25)
    experts = {}
    for k, name in enumerate(("transformer", "transformer_2")):
        seeded(26 + k)
        experts[name] = WanTransformer3DModel(**dict(wan.TINY_TRANSFORMER, in_channels=36, out_channels=16))
    WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=wan.scheduler(),
                            boundary_ratio=0.9, **experts).save_pretrained(out)


def _build_wan_ti2v(out: Path):
    """Wan 2.2 TI2V-5B's structure: one transformer on the Wan 2.2 VAE's 48 channels, the image as the first latent
    frame (expand_timesteps)."""
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel

    tokenizer, text_encoder = wan.tiny_text(28)
    vae = wan.tiny_vae(29, wan22=True)
    seeded(30)
    transformer = WanTransformer3DModel(**dict(wan.TINY_TRANSFORMER, in_channels=48, out_channels=48))
    WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=wan.scheduler("ti2v"),
                            transformer=transformer, expand_timesteps=True).save_pretrained(out)


BUILDS = {"svd-xt": _build_svd, "wan-i2v-a14b": _build_wan_i2v, "wan-ti2v-5b": _build_wan_ti2v,
          **wan.VACE_BUILDS}
