"""SDXL base and refiner at their published sizes, and the wiring check of the text-to-image agent."""

from __future__ import annotations

from ... import _compat
from ...metadevice import CLIP_L_TEXT, CLIP_VOCAB, SD_VAE, Part, build_from as build, dtype_of, expect, meta, stage
from ...tokenizers import clip_tokenizer

D, T = Part.D, Part.T

# SDXL's second text encoder: OpenCLIP ViT-bigG/14's text tower, with its projection (the pooled embedding).
CLIP_BIGG_TEXT = dict(vocab_size=CLIP_VOCAB, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                      num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280,
                      bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
SDXL_BASE_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=[320, 640, 1280],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
    cross_attention_dim=2048,  # 768 (CLIP ViT-L) + 1280 (OpenCLIP bigG) hidden states, concatenated
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 1280 (pooled bigG) + 6 time ids x 256
    norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
)
SDXL_REFINER_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=[384, 768, 1536, 1536],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    attention_head_dim=[6, 12, 24, 24], transformer_layers_per_block=4, use_linear_projection=True,
    cross_attention_dim=1280,  # OpenCLIP bigG only
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2560,  # 1280 (pooled bigG) + 5 time ids (aesthetic score) x 256
    norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "stabilityai/stable-diffusion-xl-base-1.0": {
        "unet": Part(f"{D}:UNet2DConditionModel", SDXL_BASE_UNET, "SDXL base UNet", published=2.567e9),
        "text_encoder": Part(f"{T}:CLIPTextModel", CLIP_L_TEXT, "CLIP ViT-L/14 text encoder"),
        "text_encoder_2": Part(f"{T}:CLIPTextModelWithProjection", CLIP_BIGG_TEXT, "OpenCLIP ViT-bigG/14 text encoder"),
        "vae": Part(f"{D}:AutoencoderKL", dict(SD_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True),
                    "SDXL VAE"),
    },
    # The fp16-safe SDXL VAE (the `colab` profile's): SDXL's VAE architecture, finetuned so that it does not overflow
    # in float16, hence no force_upcast (its config.json: sample_size 512, force_upcast false).
    "madebyollin/sdxl-vae-fp16-fix": {
        "vae": Part(f"{D}:AutoencoderKL", dict(SD_VAE, sample_size=512, scaling_factor=0.13025, force_upcast=False),
                    "SDXL VAE, fp16-fixed"),
    },
    # The refiner's own text_encoder_2 and VAE are the base's (the agent passes the base's to it, as SDXL's card
    # does), so only its UNet is loaded.
    "stabilityai/stable-diffusion-xl-refiner-1.0": {
        "unet": Part(f"{D}:UNet2DConditionModel", SDXL_REFINER_UNET, "SDXL refiner UNet", published=2.260e9),
    },
}


def check_text_to_image(profile) -> list[str]:
    """SDXL base then refiner, as `TextToImageAgent` runs them (the refiner shares the base's VAE and encoder 2)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline

    src, dtype = profile.text_to_image.model.source, dtype_of(profile, "text_to_image")
    w, h = profile.width, profile.height
    comp = {name: build(ARCHITECTURES, src, name, dtype) for name in ("unet", "text_encoder", "text_encoder_2", "vae")}
    if profile.text_to_image.vae is not None:  # a VAE in place of the base's own (the fp16-safe one)
        comp["vae"] = build(ARCHITECTURES, profile.text_to_image.vae.source, "vae", dtype)
    base = StableDiffusionXLPipeline(tokenizer=clip_tokenizer(), tokenizer_2=clip_tokenizer(pad_token="!"),
                                     scheduler=EulerDiscreteScheduler(), force_zeros_for_empty_prompt=True,
                                     add_watermarker=False, **comp)
    lines = []
    with stage("text_to_image", "SDXL text encoders", ("text_to_image", "text_encoder"),
                ("text_to_image", "text_encoder_2")):
        embeds, neg, pooled, neg_pooled = base.encode_prompt("a red fox running through snow", device="meta",
                                                             do_classifier_free_guidance=True)
    width = base.text_encoder.config.hidden_size + base.text_encoder_2.config.hidden_size
    lines.append(expect("sdxl-base: text encoders' hidden states (768 + 1280), concatenated -> UNet cross-attention",
                         embeds.shape, (1, 77, width)))
    lines.append(expect("sdxl-base: that width -> UNet cross-attention", (width,),
                         (base.unet.config.cross_attention_dim,)))
    # _get_add_time_ids raises if pooled width + 6 x 256 differs from the UNet's add_embedding input.
    time_ids = _compat.sdxl_add_time_ids(base, (h, w), (0, 0), (h, w), dtype=embeds.dtype,
                                      text_encoder_projection_dim=int(pooled.shape[-1])).to("meta")
    lines.append(expect("sdxl-base: pooled embedding + 6 added time ids -> add_embedding",
                         (pooled.shape[-1] + time_ids.shape[-1] * base.unet.config.addition_time_embed_dim,),
                         (base.unet.add_embedding.linear_1.in_features,)))
    scale = base.vae_scale_factor
    latents = meta(2, base.unet.config.in_channels, h // scale, w // scale, dtype=dtype)
    with stage("text_to_image", "SDXL base UNet step", ("text_to_image", "unet")):
        out = base.unet(latents, torch.tensor(999.0, device="meta"), encoder_hidden_states=torch.cat([neg, embeds]),
                        added_cond_kwargs={"text_embeds": torch.cat([neg_pooled, pooled]),
                                           "time_ids": time_ids.repeat(2, 1)}).sample
    lines.append(expect(f"sdxl-base: UNet forward at {w}x{h} (CFG batch 2)", out.shape, latents.shape))

    refiner_unet = build(ARCHITECTURES, profile.text_to_image.refiner.source, "unet", dtype_of(profile, "refiner"))
    refiner = StableDiffusionXLImg2ImgPipeline(
        vae=base.vae, text_encoder=None, text_encoder_2=base.text_encoder_2, tokenizer=None,
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=refiner_unet, scheduler=EulerDiscreteScheduler(),
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False, add_watermarker=False)
    with stage("refiner", "SDXL refiner text encoder 2", ("text_to_image", "text_encoder_2")):
        r_embeds, r_neg, r_pooled, r_neg_pooled = refiner.encode_prompt(
            "a red fox running through snow", device="meta", do_classifier_free_guidance=True, negative_prompt="")
    lines.append(expect("sdxl-refiner: text encoder 2's hidden states only -> UNet cross-attention",
                         r_embeds.shape, (1, 77, refiner_unet.config.cross_attention_dim)))
    # With requires_aesthetics_score: 5 ids (size, crop, aesthetic score); raises if the UNet expects otherwise.
    ids, neg_ids = _compat.sdxl_add_time_ids(refiner, (h, w), (0, 0), (h, w), 6.0, 2.5, (h, w), (0, 0), (h, w),
                                             dtype=r_embeds.dtype, text_encoder_projection_dim=int(r_pooled.shape[-1]))
    lines.append(expect("sdxl-refiner: pooled embedding + 5 added time ids (aesthetic score) -> add_embedding",
                         (r_pooled.shape[-1] + ids.shape[-1] * refiner_unet.config.addition_time_embed_dim,),
                         (refiner_unet.add_embedding.linear_1.in_features,)))
    # The base hands the refiner its latents (output_type="latent").
    lines.append(expect("sdxl-base latents -> refiner UNet input channels", (out.shape[1],),
                         (refiner_unet.config.in_channels,)))
    with stage("refiner", "SDXL refiner UNet step", ("refiner", "unet")):
        r_out = refiner_unet(out, torch.tensor(199.0, device="meta"),
                             encoder_hidden_states=torch.cat([r_neg, r_embeds]),
                             added_cond_kwargs={"text_embeds": torch.cat([r_neg_pooled, r_pooled]),
                                                "time_ids": torch.cat([neg_ids, ids]).to("meta")}).sample
    lines.append(expect(f"sdxl-refiner: UNet forward at {w}x{h}", r_out.shape, out.shape))
    # The pipeline decodes in float32 where the VAE's config says force_upcast (SDXL's VAE overflows in fp16).
    upcast = base.vae.config.force_upcast and base.vae.dtype == torch.float16
    vae = torch.nn.Module.to(base.vae, torch.float32) if upcast else base.vae
    with stage("refiner", "SDXL VAE decode" + (" (float32: force_upcast)" if upcast else ""),
                ("text_to_image", "vae"), upcast=upcast):
        image = vae.decode(r_out[:1].to(vae.dtype) / vae.config.scaling_factor).sample
    lines.append(expect("sdxl VAE decode", image.shape, (1, 3, h, w)))
    return lines
