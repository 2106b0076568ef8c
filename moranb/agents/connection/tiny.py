"""The connection agent's tiny models: LTX-Video (transformer, causal video VAE, T5 encoder); Wan 2.1 FLF2V (CLIP
image encoder, image tokens in cross-attention) and VACE."""

from __future__ import annotations

from pathlib import Path

from ...tiny import seeded
from ...tokenizers import t5_tokenizer
from .. import wan

def _build_ltx(out: Path):
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = t5_tokenizer()
    seeded(12)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    seeded(13)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    seeded(14)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    )
    # LTX-Video 0.9.5's scheduler config (the condition pipeline passes its own timestep schedule, no shift).
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=False, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
        max_image_seq_len=4096, shift_terminal=0.1,
    )
    pipe = LTXConditionPipeline(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer
    )
    pipe.save_pretrained(out)


def _build_wan_flf2v(out: Path):
    """Wan 2.1 FLF2V-14B's structure: the first and last frames' CLIP tokens (257 each on the real ViT-H/14) added to
    cross-attention, with their position embedding; their latents beside the noise on 36 channels."""
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    tokenizer, text_encoder = wan.tiny_text(31)
    vae = wan.tiny_vae(32)
    seeded(33)
    vision = CLIPVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
                              intermediate_size=37, patch_size=32)
    image_encoder = CLIPVisionModel(vision)
    tokens = (vision.image_size // vision.patch_size) ** 2 + 1
    seeded(34)
    inner = wan.TINY_TRANSFORMER["num_attention_heads"] * wan.TINY_TRANSFORMER["attention_head_dim"]
    transformer = WanTransformer3DModel(**dict(wan.TINY_TRANSFORMER, in_channels=36, out_channels=16,
                                               image_dim=vision.hidden_size, added_kv_proj_dim=inner,
                                               pos_embed_seq_len=2 * tokens))
    WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=wan.scheduler("flf2v"),
                            image_encoder=image_encoder, image_processor=CLIPImageProcessor(crop_size=224, size=224),
                            transformer=transformer).save_pretrained(out)


BUILDS = {"ltx-video": _build_ltx, "wan-flf2v": _build_wan_flf2v, **wan.VACE_BUILDS}
