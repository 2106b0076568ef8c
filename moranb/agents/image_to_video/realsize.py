"""The image-to-video agent's real models at their published sizes (Stable Video Diffusion XT; Wan 2.2 I2V-A14B and
TI2V-5B; the VACE models that extend and edit on the Wan profiles), and its wiring checks."""

from __future__ import annotations

from ... import _compat
from ...metadevice import Part, build_from as build, dtype_of, expect, meta, stage
from .. import wan

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

WAN_TI2V_5B = dict(wan.WAN_14B, num_attention_heads=24, ffn_dim=14336, num_layers=30, in_channels=48, out_channels=48)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "stabilityai/stable-video-diffusion-img2vid-xt": {
        "unet": Part(f"{D}:UNetSpatioTemporalConditionModel", SVD_UNET, "SVD-XT spatio-temporal UNet",
                     published=1.525e9),
        "vae": Part(f"{D}:AutoencoderKLTemporalDecoder", SVD_VAE, "SVD temporal-decoder VAE"),
        "image_encoder": Part(f"{T}:CLIPVisionModelWithProjection", VIT_H_VISION, "OpenCLIP ViT-H/14 image encoder"),
    },
    # Wan 2.2's mixture of two experts: `transformer` denoises the high-noise steps (t >= 0.9 x 1000, the
    # repository's boundary_ratio), `transformer_2` the rest; the image's latents join the noise on 36 channels
    # (16 noise + 4 mask + 16 image). No CLIP image encoder (Wan 2.1's I2V had one).
    "Wan-AI/Wan2.2-I2V-A14B-Diffusers": {
        # Each expert: Wan 2.1 T2V-14B's transformer (28.6 GB in fp16, Comfy-Org's repackaged file: 14.3 B) with
        # 20 more input channels (0.4 M). "27B (14B active)", the Wan 2.2 README.
        "transformer": Part(f"{D}:WanTransformer3DModel", dict(wan.WAN_14B, in_channels=36),
                            "Wan 2.2 I2V-A14B high-noise expert", published=14.3e9),
        "transformer_2": Part(f"{D}:WanTransformer3DModel", dict(wan.WAN_14B, in_channels=36),
                              "Wan 2.2 I2V-A14B low-noise expert", published=14.3e9),
        "vae": wan.VAE_21, "text_encoder": wan.UMT5},
    # TI2V-5B: one dense transformer over the Wan 2.2 VAE's 48 channels; the image is the first latent frame, kept
    # clean by a per-token timestep (the repository's expand_timesteps).
    "Wan-AI/Wan2.2-TI2V-5B-Diffusers": {
        "transformer": Part(f"{D}:WanTransformer3DModel", WAN_TI2V_5B, "Wan 2.2 TI2V-5B transformer",
                            published=5.0e9),  # "5B", the Wan 2.2 README
        "vae": wan.VAE_22, "text_encoder": wan.UMT5},
    **wan.VACE_ARCHITECTURES,
}
# The components each Wan model's pipeline loads (the role's default, SVD's, is in its ROLE record).
LOADS = {src: tuple(parts) for src, parts in ARCHITECTURES.items() if src.startswith("Wan-AI/")}


def check_image_to_video(profile) -> list[str]:
    """The profile's image-to-video model (SVD or Wan) as `ImageToVideoAgent` runs it, and its VACE model where it
    names one (extension and editing)."""
    s = profile.image_to_video
    lines = check_wan(profile) if s.pipeline == "WanImageToVideoPipeline" else check_svd(profile)
    if s.vace is not None:
        lines += wan.check_vace(profile, "vace", s.vace.source, dtype_of(profile, "vace"), s.frames_per_segment,
                                "extension and editing")
    return lines


def check_wan(profile) -> list[str]:
    """Wan 2.2 I2V-A14B or TI2V-5B as `ImageToVideoAgent` runs it: UMT5 captions; the image's latents beside the
    noise with a mask of the given frame (A14B, 36 channels) or as the first latent frame, held clean by per-token
    timesteps (TI2V, expand_timesteps); each expert's step; the Wan VAE's decode."""
    import torch
    from diffusers import WanImageToVideoPipeline

    s = profile.image_to_video
    src, dtype, frames = s.model.source, dtype_of(profile, "image_to_video"), s.frames_per_segment
    parts = ARCHITECTURES[src]
    experts = [name for name in ("transformer", "transformer_2") if name in parts]
    ti2v = "transformer_2" not in parts and parts["transformer"].config["in_channels"] == parts["vae"].config["z_dim"]
    pipe = WanImageToVideoPipeline(
        tokenizer=None, text_encoder=build(ARCHITECTURES, src, "text_encoder", dtype),
        vae=build(ARCHITECTURES, src, "vae", dtype), scheduler=wan.scheduler(),
        boundary_ratio=0.9 if len(experts) == 2 else None, expand_timesteps=ti2v,
        **{name: build(ARCHITECTURES, src, name, dtype) for name in experts})
    m = wan.multiple(pipe)
    w, h = profile.width // m * m, profile.height // m * m
    tr = pipe.transformer
    with stage("image_to_video", "Wan UMT5-XXL encoder", ("image_to_video", "text_encoder")):
        embeds = pipe.text_encoder(torch.zeros(1, 512, dtype=torch.long, device="meta")).last_hidden_state
    lines = [expect("wan: UMT5-XXL states -> transformer text projection", (embeds.shape[-1],), (tr.config.text_dim,))]
    z = pipe.vae.config.z_dim
    with stage("image_to_video", "Wan VAE encode (the image, padded to the clip)", ("image_to_video", "vae")):
        cond = pipe.vae.encode(meta(1, 3, 1 if ti2v else frames, h, w, dtype=dtype)).latent_dist.mode()
    f = (frames - 1) // pipe.vae_scale_factor_temporal + 1
    lh, lw = h // pipe.vae_scale_factor_spatial, w // pipe.vae_scale_factor_spatial
    if ti2v:  # the image is the first latent frame; the model's input is the latents alone
        lines.append(expect("wan ti2v: the image's latents -> the first latent frame", cond.shape[1:],
                            (z, 1, lh, lw)))
        model_input, timestep = meta(1, z, f, lh, lw, dtype=dtype), torch.ones(1, f * lh * lw // 4, device="meta")
    else:
        mask = meta(1, pipe.vae_scale_factor_temporal, f, lh, lw, dtype=dtype)
        model_input = torch.cat([meta(1, z, f, lh, lw, dtype=dtype), mask, cond], dim=1)
        timestep = torch.ones(1, device="meta")
    lines.append(expect("wan: model input channels (noise + mask + image latents, or latents alone)",
                        (model_input.shape[1],), (tr.config.in_channels,)))
    for name in experts:
        expert = getattr(pipe, name)
        what = {"transformer": "high-noise expert", "transformer_2": "low-noise expert"}[name] if len(experts) == 2 \
            else "transformer"
        with stage("image_to_video", f"Wan {what} step ({frames} frames)", ("image_to_video", name)):
            out = expert(hidden_states=model_input, timestep=timestep, encoder_hidden_states=embeds,
                         return_dict=False)[0]
        lines.append(expect(f"wan: {what} forward, {frames} frames at {w}x{h} (prompt, then negative)", out.shape,
                            (1, z, f, lh, lw)))
    lines.append(expect("wan: VAE decode", wan.decode(pipe, profile, "image_to_video", out), (1, 3, frames, h, w)))
    return lines


def check_svd(profile) -> list[str]:
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
