"""Stable Video Diffusion XT at its published size, and the wiring check of the image-to-video agent."""

from __future__ import annotations

from ... import _compat
from ...metadevice import Part, build_from as build, dtype_of, expect, stage

D, T = Part.D, Part.T

SVD_UNET = dict(
    sample_size=96, in_channels=8, out_channels=4,  # noisy latents + the conditioning image's latents
    down_block_types=["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
    up_block_types=["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
    block_out_channels=[320, 640, 1280, 1280], addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=768,  # 3 time ids (fps, motion bucket, noise augmentation) x 256
    layers_per_block=2, cross_attention_dim=1024,  # the ViT-H/14 image embedding
    transformer_layers_per_block=1, num_attention_heads=[5, 10, 20, 20], num_frames=25,
)
SVD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
               down_block_types=["DownEncoderBlock2D"] * 4, layers_per_block=2, sample_size=768,
               scaling_factor=0.18215, force_upcast=True)
# SVD's image encoder: OpenCLIP ViT-H/14's vision tower with its projection.
VIT_H_VISION = dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32,
                    num_attention_heads=16, num_channels=3, image_size=224, patch_size=14, hidden_act="gelu",
                    layer_norm_eps=1e-5)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "stabilityai/stable-video-diffusion-img2vid-xt": {
        "unet": Part(f"{D}:UNetSpatioTemporalConditionModel", SVD_UNET, "SVD-XT spatio-temporal UNet",
                     published=1.525e9),
        "vae": Part(f"{D}:AutoencoderKLTemporalDecoder", SVD_VAE, "SVD temporal-decoder VAE"),
        "image_encoder": Part(f"{T}:CLIPVisionModelWithProjection", VIT_H_VISION, "OpenCLIP ViT-H/14 image encoder"),
    },
}


def check_image_to_video(profile) -> list[str]:
    """SVD-XT as `ImageToVideoAgent` runs it: image embedding, 3 added time ids, image latents on every frame."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
    from PIL import Image
    from transformers import CLIPImageProcessor

    src, dtype = profile.image_to_video.model.source, dtype_of(profile, "image_to_video")
    w, h, frames = profile.width, profile.height, profile.image_to_video.frames_per_segment
    pipe = StableVideoDiffusionPipeline(
        scheduler=EulerDiscreteScheduler(), feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
        **{name: build(ARCHITECTURES, src, name, dtype) for name in ("unet", "vae", "image_encoder")})
    image = Image.new("RGB", (w, h), (120, 90, 60))
    with stage("image_to_video", "SVD image encoder", ("image_to_video", "image_encoder")):
        embeds = _compat.svd_encode_image(pipe, image, "meta", 1, True)
    lines = [expect("svd: ViT-H/14 image embedding -> UNet cross-attention", embeds.shape,
                     (2, 1, pipe.unet.config.cross_attention_dim))]
    # Raises if 3 x 256 differs from the UNet's add_embedding input.
    svd = profile.image_to_video
    time_ids = _compat.svd_add_time_ids(pipe, profile.fps - 1, svd.motion_bucket_id, svd.noise_aug_strength,
                                        embeds.dtype, 1, 1, True).to("meta")
    lines.append(expect("svd: 3 added time ids (fps, motion bucket, noise augmentation) -> add_embedding",
                         (time_ids.shape[-1] * pipe.unet.config.addition_time_embed_dim,),
                         (pipe.unet.add_embedding.linear_1.in_features,)))
    pixels = pipe.video_processor.preprocess(image, height=h, width=w).to("meta", dtype)
    upcast = pipe.vae.config.force_upcast and pipe.vae.dtype == torch.float16  # the pipeline encodes in float32
    if upcast:
        torch.nn.Module.to(pipe.vae, torch.float32)
    with stage("image_to_video", "SVD VAE encode" + (" (float32: force_upcast)" if upcast else ""),
                ("image_to_video", "vae"), upcast=upcast):
        image_latents = _compat.svd_encode_vae_image(pipe, pixels.to(pipe.vae.dtype), "meta", 1, True)
    torch.nn.Module.to(pipe.vae, dtype)
    image_latents = image_latents.to(dtype).unsqueeze(1).repeat(1, frames, 1, 1, 1)
    latents = pipe.prepare_latents(1, frames, pipe.unet.config.in_channels, h, w, dtype, "meta", None)
    model_input = torch.cat([torch.cat([latents] * 2), image_latents], dim=2)
    lines.append(expect("svd: noisy latents + image latents -> UNet input channels", (model_input.shape[2],),
                         (pipe.unet.config.in_channels,)))
    with stage("image_to_video", f"SVD UNet step ({frames} frames)", ("image_to_video", "unet")):
        out = pipe.unet(model_input, torch.tensor(1.0, device="meta"), encoder_hidden_states=embeds,
                        added_time_ids=time_ids).sample
    lines.append(expect(f"svd: UNet forward, {frames} frames at {w}x{h} (CFG batch 2)", out.shape,
                         (2, frames) + tuple(latents.shape[2:])))
    chunk = profile.image_to_video.decode_chunk_size
    with stage("image_to_video", f"SVD VAE decode (chunks of {chunk} frames)", ("image_to_video", "vae")):
        video = pipe.vae.decode(out[0, :chunk] / pipe.vae.config.scaling_factor, num_frames=chunk).sample
    lines.append(expect(f"svd: temporal VAE decode, chunk of {chunk} frames", video.shape, (chunk, 3, h, w)))
    return lines
