"""The connection agent's real models at their published sizes (LTX-Video 0.9.5 with its T5-XXL encoder; Wan 2.1
FLF2V-14B; Wan 2.1 VACE-14B and VACE-1.3B), and its wiring checks."""

from __future__ import annotations

from ... import _compat
from ...metadevice import Part, build_from as build, dtype_of, expect, meta, stage
from ...tokenizers import t5_tokenizer
from .. import wan

D, T = Part.D, Part.T

LTX_TRANSFORMER = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
                       attention_head_dim=64, cross_attention_dim=2048, num_layers=28,
                       activation_fn="gelu-approximate", qk_norm="rms_norm_across_heads",
                       norm_elementwise_affine=False, norm_eps=1e-6, caption_channels=4096, attention_bias=True,
                       attention_out_bias=True)
# LTX-Video 0.9.5's VAE (32x spatial, 8x temporal compression; timestep-conditioned decoder).
LTX_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=128, block_out_channels=[128, 256, 512, 1024, 2048],
    down_block_types=["LTXVideo095DownBlock3D"] * 4, decoder_block_out_channels=[256, 512, 1024],
    layers_per_block=[4, 6, 6, 2, 2], decoder_layers_per_block=[5, 5, 5, 5],
    spatio_temporal_scaling=[True, True, True, True], decoder_spatio_temporal_scaling=[True, True, True],
    decoder_inject_noise=[False, False, False, False],
    downsample_type=["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    upsample_residual=[True, True, True], upsample_factor=[2, 2, 2], timestep_conditioning=True, patch_size=4,
    patch_size_t=1, resnet_norm_eps=1e-6, scaling_factor=1.0, encoder_causal=True, decoder_causal=False,
    spatial_compression_ratio=32, temporal_compression_ratio=8,
)
# google/t5-v1_1-xxl, whose encoder LTX-Video uses.
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.1,
              layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", is_encoder_decoder=True,
              tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)

WAN_FLF2V_14B = dict(wan.WAN_14B, in_channels=36, image_dim=1280, added_kv_proj_dim=5120, pos_embed_seq_len=2 * 257)
# OpenCLIP ViT-H/14's vision tower (Wan's image_encoder/config.json; no projection: the pipeline takes its
# penultimate hidden states).
VIT_H_14 = dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32,
                num_attention_heads=16, num_channels=3, image_size=224, patch_size=14, hidden_act="gelu",
                layer_norm_eps=1e-5)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "Lightricks/LTX-Video-0.9.5": {
        "transformer": Part(f"{D}:LTXVideoTransformer3DModel", LTX_TRANSFORMER, "LTX-Video transformer",
                            published=1.923e9),
        "vae": Part(f"{D}:AutoencoderKLLTXVideo", LTX_VAE, "LTX-Video 0.9.5 VAE"),
        "text_encoder": Part(f"{T}:T5EncoderModel", T5_XXL, "T5-XXL encoder (t5-v1_1-xxl)", published=4.762e9),
    },
    # Wan 2.1 FLF2V-14B (720p): the first and the last frame through OpenCLIP ViT-H/14 (257 tokens each, their own
    # position embedding, 2 x 257) into cross-attention beside the text, and through the VAE beside the noise.
    "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers": {
        # 32.8 GB in fp16 (Comfy-Org's wan2.1_flf2v_720p_14B_fp16.safetensors); the hub lists it as "16B".
        "transformer": Part(f"{D}:WanTransformer3DModel", WAN_FLF2V_14B, "Wan 2.1 FLF2V-14B transformer",
                            published=16.4e9),
        "image_encoder": Part(f"{T}:CLIPVisionModel", VIT_H_14, "OpenCLIP ViT-H/14 image encoder (FLF2V)",
                              published=0.63e9),  # image_encoder/model.safetensors: 1.26 GB in bfloat16
        "vae": wan.VAE_21, "text_encoder": wan.UMT5},
    **wan.VACE_ARCHITECTURES,
}
# The components each Wan model's pipeline loads (the role's default, LTX-Video's, is in its ROLE record).
LOADS = {src: tuple(parts) for src, parts in ARCHITECTURES.items() if src.startswith("Wan-AI/")}


class _Unmasked:
    """T5 called without its padding mask: transformers' mask builder reads the mask's values (`.all()`), which
    meta tensors do not have. The output's shape is the same with or without the mask."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.dtype = encoder.dtype

    def __call__(self, input_ids, attention_mask=None):
        return self.encoder(input_ids)


def check_connection(profile) -> list[str]:
    """The profile's connection model as `ConnectionAgent` runs it (LTX-Video, FLF2V or VACE)."""
    c = profile.connection
    if c.pipeline == "WanVACEPipeline":
        return wan.check_vace(profile, "connection", c.model.source, dtype_of(profile, "connection"), c.frames,
                              "first and last frame kept")
    if c.pipeline == "WanImageToVideoPipeline":
        return check_flf2v(profile)
    return check_ltx(profile)


def check_flf2v(profile) -> list[str]:
    """Wan 2.1 FLF2V-14B as `ConnectionAgent` runs it: UMT5 captions; both frames' CLIP tokens (2 x 257) with their
    position embedding into the image cross-attention; both frames' latents and the mask beside the noise."""
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image
    from transformers import CLIPImageProcessor

    c = profile.connection
    src, dtype, frames = c.model.source, dtype_of(profile, "connection"), c.frames
    pipe = WanImageToVideoPipeline(
        tokenizer=None, text_encoder=build(ARCHITECTURES, src, "text_encoder", dtype),
        vae=build(ARCHITECTURES, src, "vae", dtype), scheduler=wan.scheduler(),
        image_processor=CLIPImageProcessor(crop_size=224, size=224),
        image_encoder=build(ARCHITECTURES, src, "image_encoder", dtype),
        transformer=build(ARCHITECTURES, src, "transformer", dtype))
    m = wan.multiple(pipe)
    w, h = profile.width // m * m, profile.height // m * m
    tr = pipe.transformer
    with stage("connection", "Wan UMT5-XXL encoder", ("connection", "text_encoder")):
        embeds = pipe.text_encoder(torch.zeros(1, 512, dtype=torch.long, device="meta")).last_hidden_state
    lines = [expect("flf2v: UMT5-XXL states -> transformer text projection", (embeds.shape[-1],),
                    (tr.config.text_dim,))]
    pixels = pipe.image_processor(images=[Image.new("RGB", (w, h))] * 2, return_tensors="pt").pixel_values
    with stage("connection", "FLF2V CLIP image encoder (first and last frame)", ("connection", "image_encoder")):
        states = pipe.image_encoder(pixels.to("meta", dtype), output_hidden_states=True).hidden_states[-2]
    lines.append(expect("flf2v: 2 frames x CLIP tokens -> the image position embedding",
                        (states.shape[0] * states.shape[1], states.shape[2]),
                        (tr.config.pos_embed_seq_len, tr.config.image_dim)))
    with stage("connection", "Wan VAE encode (first frame, zeros, last frame)", ("connection", "vae")):
        cond = pipe.vae.encode(meta(1, 3, frames, h, w, dtype=dtype)).latent_dist.mode()
    f, lh, lw = cond.shape[2:]
    z = pipe.vae.config.z_dim
    model_input = torch.cat([meta(1, z, f, lh, lw, dtype=dtype),
                             meta(1, pipe.vae_scale_factor_temporal, f, lh, lw, dtype=dtype), cond], dim=1)
    lines.append(expect("flf2v: noise + mask + both frames' latents -> transformer input channels",
                        (model_input.shape[1],), (tr.config.in_channels,)))
    # The pipeline runs the prompt and the negative prompt one after the other (batch 1 each).
    with stage("connection", f"Wan FLF2V transformer step ({frames} frames)", ("connection", "transformer")):
        out = tr(hidden_states=model_input, timestep=torch.ones(1, device="meta"), encoder_hidden_states=embeds,
                 encoder_hidden_states_image=states, return_dict=False)[0]
    lines.append(expect(f"flf2v: transformer forward, {frames} frames at {w}x{h} (prompt, then negative)", out.shape,
                        (1, z, f, lh, lw)))
    lines.append(expect("flf2v: VAE decode", wan.decode(pipe, profile, "connection", out), (1, 3, frames, h, w)))
    return lines


def check_ltx(profile) -> list[str]:
    """LTX-Video as `ConnectionAgent` runs it: T5 captions, conditioning frames at the first and last index."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline

    src, dtype = profile.connection.model.source, dtype_of(profile, "connection")
    m = profile.connection.size_multiple
    w, h, frames = profile.width // m * m, profile.height // m * m, profile.connection.frames
    pipe = LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), tokenizer=t5_tokenizer(),
                                text_encoder=_Unmasked(build(ARCHITECTURES, src, "text_encoder", dtype)),
                                **{name: build(ARCHITECTURES, src, name, dtype) for name in ("transformer", "vae")})
    with stage("connection", "LTX-Video T5-XXL encoder", ("connection", "text_encoder")):
        embeds, mask, neg, neg_mask = pipe.encode_prompt(profile.connection.prompt, "worst quality", device="meta",
                                                         max_sequence_length=256)
    tr = pipe.transformer
    lines = [expect("ltx: T5-XXL states -> transformer caption projection", (embeds.shape[-1],),
                     (tr.caption_projection.linear_1.in_features,))]
    conditions = [meta(1, 3, 1, h, w, dtype=dtype), meta(1, 3, 1, h, w, dtype=dtype)]
    with stage("connection", "LTX-Video VAE encode (2 conditioning frames)", ("connection", "vae")):
        latents, cond_mask, coords, extra = _compat.ltx_prepare_latents(
            pipe, conditions, [1.0, 1.0], [0, frames - 1], batch_size=1, num_channels_latents=tr.config.in_channels,
            height=h, width=w, num_frames=frames, device="meta", dtype=torch.float32)
    tokens = ((frames - 1) // pipe.vae_temporal_compression_ratio + 1) * (h // 32) * (w // 32)
    lines.append(expect(f"ltx: VAE latents of {frames} frames + the last frame's conditioning tokens -> transformer",
                         latents.shape, (1, tokens + (h // 32) * (w // 32), tr.config.in_channels)))
    lines.append(expect("ltx: VAE latent channels -> transformer input channels", (pipe.vae.config.latent_channels,),
                         (tr.config.in_channels,)))
    with stage("connection", f"LTX-Video transformer step ({frames} frames)", ("connection", "transformer")):
        out = tr(hidden_states=torch.cat([latents] * 2).to(dtype), encoder_hidden_states=torch.cat([neg, embeds]),
                 timestep=torch.ones(2, 1, device="meta"), encoder_attention_mask=torch.cat([neg_mask, mask]),
                 video_coords=torch.cat([coords, coords]).float(), return_dict=False)[0]
    lines.append(expect(f"ltx: transformer forward, {frames} frames at {w}x{h} (CFG batch 2)", out.shape,
                         (2,) + tuple(latents.shape[1:])))
    grid = meta(1, tr.config.in_channels, (frames - 1) // 8 + 1, h // 32, w // 32, dtype=dtype)
    with stage("connection", "LTX-Video VAE decode", ("connection", "vae")):
        video = pipe.vae.decode(grid, torch.tensor([0.05], device="meta")).sample
    lines.append(expect("ltx: VAE decode", video.shape, (1, 3, frames, h, w)))
    return lines
