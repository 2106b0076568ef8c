"""What the Wan-family agents share: the UMT5-XXL text encoder and the Wan VAEs (published and tiny), the tiny
transformer's scale, and the schedulers as the published repositories configure them.

The Wan models (Wan 2.1 / 2.2, Alibaba, Apache-2.0; diffusers' `WanImageToVideoPipeline`, `WanVACEPipeline`) serve
two roles here: image-to-video (`moranb.agents.image_to_video.wan`: Wan 2.2 I2V-A14B, Wan 2.2 TI2V-5B) and
connection (`moranb.agents.connection.wan`: Wan 2.1 FLF2V-14B, Wan 2.1 VACE-14B and VACE-1.3B, the VACE models also
extending and editing videos). Each role's home holds its models' published transformers, tiny builds and wiring
checks; this module holds the parts they have in common.
"""

from __future__ import annotations

from ..metadevice import Part
from ..tiny import seeded
from ..tokenizers import t5_tokenizer

D, T = Part.D, Part.T

# google/umt5-xxl's encoder, which every Wan model uses (text_encoder/config.json of the Wan diffusers repositories).
UMT5_XXL = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_decoder_layers=24,
                num_heads=64, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                dropout_rate=0.1, layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", is_encoder_decoder=True,
                tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
# The Wan 2.1 VAE (8x spatial, 4x temporal compression, 16 latent channels; 127 M parameters by the Wan report).
WAN21_VAE = dict(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
# The Wan 2.2 VAE of TI2V-5B: 16x spatial (a 2x2 patchify around the convolutions), 4x temporal, 48 channels.
WAN22_VAE_LATENTS_MEAN = [
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891, 0.157,
    -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502, -0.2055, -0.0322,
    0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.123, -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.052,
    0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667]
WAN22_VAE_LATENTS_STD = [
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.499, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165,
    0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659, 0.7069, 0.5338, 0.4889, 0.4917,
    0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.06,
    0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744]
WAN22_VAE = dict(base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                 attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0, is_residual=True,
                 in_channels=12, out_channels=12, patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
                 latents_mean=WAN22_VAE_LATENTS_MEAN, latents_std=WAN22_VAE_LATENTS_STD)

# Published counts of the Wan models (none of their cards gives an exact one): from the published weight files'
# sizes (bytes / bytes per parameter of their dtype), each source beside it. Within 0.5 % (tests/test_wan.py).
UMT5 = Part(f"{T}:UMT5EncoderModel", UMT5_XXL, "UMT5-XXL encoder (umt5-xxl)",
            published=5.70e9)  # text_encoder/ of the Wan 2.2 diffusers repos: 11.4 GB in bfloat16
VAE_21 = Part(f"{D}:AutoencoderKLWan", WAN21_VAE, "Wan 2.1 VAE",
              published=127e6)  # Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers vae/: 508 MB in float32; "127M", Wan report
VAE_22 = Part(f"{D}:AutoencoderKLWan", WAN22_VAE, "Wan 2.2 VAE (16x, 48 channels)",
              published=705e6)  # Wan2.2-TI2V-5B-Diffusers vae/ (a copy, inference-sh): 2.82 GB in float32

# What the Wan diffusers repositories ship as their scheduler: UniPC on flow-matching sigmas, shifted (3.0 for
# 480p, 5.0 for 720p).
SCHEDULER = dict(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0)
# ... with these shifts (diffusers' conversion script): FLF2V 16.0, TI2V-5B 5.0, the others 3.0.
FLOW_SHIFT = {"flf2v": 16.0, "ti2v": 5.0}
MAX_SEQUENCE_LENGTH = 512  # UMT5 tokens, as the Wan pipelines' __call__ pads the prompt (encode_prompt's own: 226)
NEGATIVE_PROMPT = "blurry, static, worst quality, low quality, jpeg artifacts, deformed, disfigured, still picture"


def load(cls, model, profile, field: str, builds: dict):
    """A Wan pipeline for `profile`; with offload "sequential" without its UMT5-XXL text encoder (10.6 GiB in
    bfloat16), which encodes alone first (`text`)."""
    from .. import models

    alone = {"text_encoder": None} if profile.offload == "sequential" else {}
    return models.load(cls, model, profile, field, tiny_builds=builds, **alone)


def text(cls, model, profile, field: str, builds: dict, prompt: str, guidance_scale: float) -> dict:
    """The call's text arguments: the prompt and the negative prompt, or, with offload "sequential", their UMT5
    embeddings made by the text encoder loaded alone (the pipeline then loads without it: one model on the GPU at
    a time). The same embeddings the whole pipeline computes (tests compare the frames)."""
    from .. import models

    if profile.offload != "sequential":
        return {"prompt": prompt, "negative_prompt": NEGATIVE_PROMPT}
    import inspect

    takes = inspect.signature(cls.__init__).parameters
    none = {name: None for name in ("transformer", "transformer_2", "vae", "image_encoder") if name in takes}
    encoder = models.load(cls, model, profile.replace(adapters=None), field, tiny_builds=builds, **none)
    embeds, negative = encoder.encode_prompt(prompt, NEGATIVE_PROMPT,
                                             do_classifier_free_guidance=guidance_scale > 1.0,
                                             max_sequence_length=MAX_SEQUENCE_LENGTH, device=profile.device)
    return {"prompt_embeds": embeds, "negative_prompt_embeds": negative}


def decode(pipe, profile, field: str, latents):
    """The Wan VAE's decode inside a wiring check (a measured stage); returns the decoded video's shape.

    Tiled where the profile tiles: the VAE decodes overlapping tiles one after another, keeping every tile's output
    until it blends them. On the meta device every op of every tile and frame goes through PyTorch's reference
    decompositions (minutes at 720p), so one tile is decoded and measured, the other tiles' outputs are counted
    from their shapes, and the blended video from its own."""
    import math

    from ..metadevice import stage

    vae = pipe.vae
    _, _, frames, h, w = latents.shape
    s = vae.spatial_compression_ratio
    out_shape = (latents.shape[0], 3, (frames - 1) * pipe.vae_scale_factor_temporal + 1, h * s, w * s)
    if not profile.vae_tiling:
        with stage(field, "Wan VAE decode", (field, "vae")):
            video = vae.decode(latents).sample
        return tuple(video.shape)
    vae.enable_tiling()
    th, tw = vae.tile_sample_min_height // s, vae.tile_sample_min_width // s
    sh, sw = vae.tile_sample_stride_height // s, vae.tile_sample_stride_width // s
    tiles = len(range(0, h, sh)) * len(range(0, w, sw))
    with stage(field, f"Wan VAE decode (tiled: {tiles} tiles, one measured)", (field, "vae")) as step:
        tile = vae.decode(latents[..., :th, :tw]).sample  # one tile: below the tile size, decoded whole
        per_tile = tile.numel() * tile.element_size()
        step.extra_bytes = (tiles - 1) * per_tile + math.prod(out_shape) * tile.element_size()
    return out_shape


def multiple(pipe) -> int:
    """The sizes a Wan pipeline takes: its VAE's spatial factor x its transformer's patch."""
    transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    return pipe.vae_scale_factor_spatial * transformer.config.patch_size[1]


# -- the tiny builds' shared parts ---------------------------------------------------------------------------------

TINY_TRANSFORMER = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, text_dim=32,
                        freq_dim=32, ffn_dim=48, num_layers=2, cross_attn_norm=True,
                        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=64)


def tiny_text(seed: int):
    """(tokenizer, UMT5 encoder) at the tiny scale (the T5-style tokenizer `moranb.tokenizers` builds offline)."""
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = t5_tokenizer()
    seeded(seed)
    encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", decoder_start_token_id=0, pad_token_id=0,
        eos_token_id=1))
    return tokenizer, encoder


def tiny_vae(seed: int, wan22: bool = False):
    """The Wan 2.1 VAE's structure (or Wan 2.2's: patchified, residual, 16x) with narrow blocks."""
    from diffusers import AutoencoderKLWan

    seeded(seed)
    if wan22:
        return AutoencoderKLWan(base_dim=8, decoder_base_dim=16, z_dim=48, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                                temperal_downsample=[False, True, True], is_residual=True, in_channels=12,
                                out_channels=12, patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
                                latents_mean=WAN22_VAE_LATENTS_MEAN, latents_std=WAN22_VAE_LATENTS_STD)
    return AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def scheduler(model: str | None = None):
    """The scheduler a Wan repository ships (`FLOW_SHIFT[model]`, else 3.0)."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(**dict(SCHEDULER, flow_shift=FLOW_SHIFT.get(model, SCHEDULER["flow_shift"])))


# -- VACE: a video made around the frames it is given (masks), for connection, extension and editing ---------------

WAN_14B = dict(patch_size=[1, 2, 2], num_attention_heads=40, attention_head_dim=128, in_channels=16, out_channels=16,
               text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
               qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
WAN_1_3B = dict(WAN_14B, num_attention_heads=12, ffn_dim=8960, num_layers=30)
VACE_14B = dict(WAN_14B, vace_layers=list(range(0, 40, 5)), vace_in_channels=96)
VACE_1_3B = dict(WAN_1_3B, vace_layers=list(range(0, 30, 2)), vace_in_channels=96)

VACE_ARCHITECTURES: dict[str, dict[str, Part]] = {
    "Wan-AI/Wan2.1-VACE-14B-diffusers": {
        # 34.68 GB in bfloat16: the same architecture's file (Wan 2.2 VACE-Fun, alibaba-pai, one expert)
        "transformer": Part(f"{D}:WanVACETransformer3DModel", VACE_14B, "Wan 2.1 VACE-14B transformer",
                            published=17.34e9),
        "vae": VAE_21, "text_encoder": UMT5},
    "Wan-AI/Wan2.1-VACE-1.3B-diffusers": {
        # No published count or file size found for VACE-1.3B; its trunk, T2V-1.3B (2.84 GB in fp16: 1.42 B), is
        # checked in tests/test_wan.py.
        "transformer": Part(f"{D}:WanVACETransformer3DModel", VACE_1_3B, "Wan 2.1 VACE-1.3B transformer"),
        "vae": VAE_21, "text_encoder": UMT5},
}


def _build_vace(out):
    """VACE's tiny build: the Wan 2.1 structure with VACE blocks beside layers 0 and 1."""
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    tokenizer, text_encoder = tiny_text(21)
    vae = tiny_vae(22)
    seeded(23)
    transformer = WanVACETransformer3DModel(**dict(TINY_TRANSFORMER, in_channels=16, out_channels=16,
                                                   vace_layers=[0, 1], vace_in_channels=96))
    WanVACEPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler(),
                    transformer=transformer).save_pretrained(out)


VACE_BUILDS = {"wan-vace": _build_vace}


def vace_frames(pipe, known: dict, num_frames: int, width: int, height: int, prompt: dict, *, steps: int,
                guidance_scale: float, seed: int, context: list | None = None):
    """VACE's video of `num_frames` frames (float, (F, H, W, 3)) that keeps the frames `known` gives (index -> PIL
    image; VACE's mask 0 there) and makes the others (mask 1); `prompt`: the text arguments (`text`). Where `context` is given (a PIL image per index), the
    made frames start from it (VACE's "reactive" content under the mask: editing keeps the input's layout and
    motion); elsewhere they start from gray."""
    import torch
    from PIL import Image

    if num_frames % 4 != 1:
        raise ValueError(f"VACE makes 4k+1 frames; got {num_frames}")
    gray = Image.new("RGB", (width, height), (128, 128, 128))
    keep, make = Image.new("L", (width, height), 0), Image.new("L", (width, height), 255)
    video = [known[i] if i in known else (context[i] if context is not None else gray) for i in range(num_frames)]
    mask = [keep if i in known else make for i in range(num_frames)]
    out = pipe(video=video, mask=mask, **prompt, height=height, width=width,
               num_frames=num_frames, num_inference_steps=steps, guidance_scale=guidance_scale,
               generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
    return out.frames[0]


def check_vace(profile, field: str, source: str, dtype, frames: int, known: str) -> list[str]:
    """VACE-14B/1.3B at real size as the agents run it: UMT5 captions, the masked video's latents (inactive +
    reactive) and the mask folded 8x8 into channels, the VACE blocks' hints into the main blocks."""
    import torch
    from diffusers import WanVACEPipeline

    from ..metadevice import build_from, expect, meta, stage
    from ..tokenizers import t5_tokenizer

    parts = VACE_ARCHITECTURES
    pipe = WanVACEPipeline(tokenizer=t5_tokenizer(), text_encoder=build_from(parts, source, "text_encoder", dtype),
                           vae=build_from(parts, source, "vae", dtype), scheduler=scheduler(),
                           transformer=build_from(parts, source, "transformer", dtype))
    m = multiple(pipe)
    w, h = profile.width // m * m, profile.height // m * m
    tr = pipe.transformer
    lines = []
    with stage(field, "Wan UMT5-XXL encoder", (field, "text_encoder")):
        embeds = pipe.text_encoder(torch.zeros(1, 512, dtype=torch.long, device="meta")).last_hidden_state
    lines.append(expect("vace: UMT5-XXL states -> transformer text projection", (embeds.shape[-1],),
                        (tr.config.text_dim,)))
    video = meta(1, 3, frames, h, w, dtype=dtype)
    with stage(field, f"Wan VAE encode (VACE: {known}, inactive + reactive)", (field, "vae")):
        inactive = pipe.vae.encode(video).latent_dist.mode()
        reactive = pipe.vae.encode(video).latent_dist.mode()
    f, lh, lw = inactive.shape[2:]
    s = pipe.vae_scale_factor_spatial
    mask = meta(1, s * s, f, lh, lw, dtype=dtype)
    control = torch.cat([inactive, reactive, mask], dim=1)
    lines.append(expect("vace: inactive + reactive latents + the mask folded 8x8 -> VACE input channels",
                        (control.shape[1],), (tr.config.vace_in_channels,)))
    latents = meta(1, tr.config.in_channels, f, lh, lw, dtype=dtype)
    # The pipeline runs the prompt and the negative prompt one after the other (batch 1 each).
    with stage(field, f"Wan VACE transformer step ({frames} frames)", (field, "transformer")):
        out = tr(hidden_states=latents, timestep=torch.ones(1, device="meta"), encoder_hidden_states=embeds,
                 control_hidden_states=control,
                 control_hidden_states_scale=torch.ones(len(tr.config.vace_layers), device="meta"),
                 return_dict=False)[0]
    lines.append(expect(f"vace: transformer forward, {frames} frames at {w}x{h} (prompt, then negative)", out.shape,
                        (1, tr.config.out_channels, f, lh, lw)))
    lines.append(expect("vace: Wan VAE decode", decode(pipe, profile, field, out), (1, 3, frames, h, w)))
    return lines
