"""The `mini` image-to-video model: Stable Video Diffusion's pipeline class, sized to learn the world's motion on a CPU.

The parts are those of `StableVideoDiffusionPipeline` (and of the tiny profile's `svd-xt`): a
`UNetSpatioTemporalConditionModel`, an `AutoencoderKLTemporalDecoder`, a CLIP vision encoder with its image
processor, and SVD-XT's scheduler (Euler, v-prediction, Karras sigmas, continuous timesteps).

How the motion gets in. SVD takes no text, so a caption's direction cannot reach it through a text encoder. SVD's
own motion control is its `motion_bucket_id` micro-condition (a number embedded like a timestep and added to the
UNet's time embedding; in the paper's model it says how much things move). MoraMini trains the bucket to say which
motion: `MOTION_BUCKETS` maps each of the world's six motions to a bucket, and the image-to-video agent of the
`mini` profile reads the motion from its prompt (`motion_bucket`). Everything else is SVD's: the first frame's
latent concatenated to every frame's input, its CLIP embedding through cross-attention, noise augmentation.

Sizes chosen by measured speed (2 CPU cores, batch 32 clips of 8 frames, one training step): the issue's UNet
(blocks 32/64, attention at full latent size) on 16x16 latents ran 3.6 clips/s; blocks 32/64/64 with attention
only at the coarsest level, 9.7 clips/s on 16x16 latents and 30 clips/s on 8x8. So the VAE here downsamples once
(two blocks: a 16x16 frame is an 8x8 latent) and attention sits at 2x2: three times the training steps per hour.
The CLIP image encoder stays as initialised (random, frozen): the first frame reaches the UNet whole through its
latent, as in SVD.
"""

from __future__ import annotations

from .. import _compat
from ..errors import InputError
from .world import FPS, MOTIONS, SIZE, parse_caption

# The motion bucket that asks for each motion (SVD's buckets span 0-255).
MOTION_BUCKETS = {"still": 0, "left": 40, "right": 80, "up": 120, "down": 160, "grow": 200}
NOISE_AUG = 0.1  # training draws the conditioning frame's noise augmentation from [0, NOISE_AUG)
LATENT_CHANNELS = 4
IMAGE_WIDTH = 32  # the CLIP image embedding's width (the UNet's cross-attention width)


def motion_bucket(caption_or_motion: str) -> int:
    """The motion bucket for a caption in the world's grammar, or for a motion's name ("left")."""
    motion = caption_or_motion if caption_or_motion in MOTIONS else parse_caption(caption_or_motion).motion
    return MOTION_BUCKETS[motion]


def motion_of_bucket(bucket: int) -> str:
    for motion, value in MOTION_BUCKETS.items():
        if value == bucket:
            return motion
    raise InputError(f"motion bucket {bucket} means no motion of the mini world; use one of {MOTION_BUCKETS}")


def vae():
    from diffusers import AutoencoderKLTemporalDecoder

    # Two blocks: one downsampling (vae_scale_factor 2). Its norms use 32 groups, so 32 channels is the least width.
    return AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS,
        layers_per_block=1, down_block_types=["DownEncoderBlock2D"] * 2, sample_size=SIZE, scaling_factor=1.0,
        force_upcast=False,
    )


def unet():
    from diffusers import UNetSpatioTemporalConditionModel

    return UNetSpatioTemporalConditionModel(
        sample_size=SIZE // 2, in_channels=2 * LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
        block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlockSpatioTemporal", "DownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
        up_block_types=("CrossAttnUpBlockSpatioTemporal", "UpBlockSpatioTemporal", "UpBlockSpatioTemporal"),
        num_attention_heads=(4, 8, 8), cross_attention_dim=IMAGE_WIDTH, addition_time_embed_dim=16,
        projection_class_embeddings_input_dim=3 * 16, num_frames=8,
    )


def image_encoder():
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    # SVD resizes the conditioning frame to 224x224 itself (as for the real ViT-H/14); 32-pixel patches keep it cheap.
    return CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=IMAGE_WIDTH, num_hidden_layers=1, num_attention_heads=4, image_size=224,
        intermediate_size=64, patch_size=32))


def scheduler():
    from diffusers import EulerDiscreteScheduler

    # SVD-XT's scheduler, with the sigma range of a unit-variance 8x8 latent (EDM's 80, not SVD's 700).
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=80.0, sigma_min=0.002, steps_offset=1,
        timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )


def build_pipeline(seed: int = 0):
    """An untrained `mini` image-to-video pipeline, its weights drawn from `seed`."""
    import torch
    from diffusers import StableVideoDiffusionPipeline
    from transformers import CLIPImageProcessor

    torch.manual_seed(seed)
    parts = dict(vae=vae(), image_encoder=image_encoder(), unet=unet())
    return StableVideoDiffusionPipeline(scheduler=scheduler(), feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
                                        **parts)


def image_embeddings(pipe, first_frames):
    """What the pipeline's `_encode_image` makes of PIL frames, from frames (N, 3, H, W) in [-1, 1]: resized to
    224 with antialiasing, normalised for CLIP, embedded (N, 1, width)."""
    import torch

    with torch.no_grad():
        image = (_compat.svd_resize_with_antialiasing(first_frames, (224, 224)) + 1.0) / 2.0
        pixels = pipe.feature_extractor(images=image, do_normalize=True, do_center_crop=False, do_resize=False,
                                        do_rescale=False, return_tensors="pt").pixel_values
        return pipe.image_encoder(pixels).image_embeds.unsqueeze(1)


__all__ = ["FPS", "MOTION_BUCKETS", "build_pipeline", "motion_bucket", "image_embeddings"]
