"""InstructPix2Pix at its published size, and the wiring check of the image-to-image agent."""

from __future__ import annotations

from ... import _compat
from ...metadevice import CLIP_L_TEXT, SD_VAE, Part, build_from as build, dtype_of, expect, meta, stage
from ...tokenizers import clip_tokenizer

D, T = Part.D, Part.T

# InstructPix2Pix: Stable Diffusion 1.5's UNet with 8 input channels (noisy latents + the input image's latents).
PIX2PIX_UNET = dict(
    sample_size=64, in_channels=8, out_channels=4, layers_per_block=2, block_out_channels=[320, 640, 1280, 1280],
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0,
    act_fn="silu",
)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "timbrooks/instruct-pix2pix": {
        "unet": Part(f"{D}:UNet2DConditionModel", PIX2PIX_UNET, "InstructPix2Pix UNet (8 input channels)",
                     published=0.860e9),
        "text_encoder": Part(f"{T}:CLIPTextModel", CLIP_L_TEXT, "CLIP ViT-L/14 text encoder"),
        "vae": Part(f"{D}:AutoencoderKL", dict(SD_VAE, sample_size=256, scaling_factor=0.18215), "SD VAE"),
    },
}


def check_image_to_image(profile) -> list[str]:
    """InstructPix2Pix as `ImageToImageAgent` runs it: 3-way guidance, image latents concatenated to the noise."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    src, dtype = profile.image_to_image.model.source, dtype_of(profile, "image_to_image")
    w, h = profile.width, profile.height
    pipe = StableDiffusionInstructPix2PixPipeline(
        tokenizer=clip_tokenizer(), scheduler=EulerAncestralDiscreteScheduler(), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
        **{name: build(ARCHITECTURES, src, name, dtype) for name in ("unet", "text_encoder", "vae")})
    with stage("image_to_image", "InstructPix2Pix text encoder", ("image_to_image", "text_encoder")):
        embeds = _compat.pix2pix_encode_prompt(pipe, "make it snowy", "meta", 1, True)
    lines = [expect("instruct-pix2pix: CLIP text states (prompt, negative, negative) -> cross-attention",
                     embeds.shape, (3, 77, pipe.unet.config.cross_attention_dim))]
    with stage("image_to_image", "InstructPix2Pix VAE encode", ("image_to_image", "vae")):
        image_latents = pipe.prepare_image_latents(meta(1, 3, h, w, dtype=dtype), 1, 1, dtype, "meta", True)
    latents = meta(3, pipe.vae.config.latent_channels, h // pipe.vae_scale_factor, w // pipe.vae_scale_factor,
                    dtype=dtype)
    model_input = torch.cat([latents, image_latents], dim=1)
    lines.append(expect("instruct-pix2pix: noisy latents + image latents -> UNet input channels",
                         (model_input.shape[1],), (pipe.unet.config.in_channels,)))
    with stage("image_to_image", "InstructPix2Pix UNet step", ("image_to_image", "unet")):
        out = pipe.unet(model_input, torch.tensor(999.0, device="meta"), encoder_hidden_states=embeds).sample
    lines.append(expect(f"instruct-pix2pix: UNet forward at {w}x{h} (3-way guidance)", out.shape, latents.shape))
    with stage("image_to_image", "InstructPix2Pix VAE decode", ("image_to_image", "vae")):
        image = pipe.vae.decode(out[:1] / pipe.vae.config.scaling_factor).sample
    lines.append(expect("instruct-pix2pix: VAE decode", image.shape, (1, 3, h, w)))
    return lines
