"""The image-to-video agent's tiny model: SVD-XT (spatio-temporal UNet, temporal VAE, CLIP vision encoder)."""

from __future__ import annotations

from pathlib import Path

from ...tiny import seeded

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


BUILDS = {"svd-xt": _build_svd}
