"""The `mini` text-to-image model: SDXL's pipeline class with configs sized to learn the world at 16x16 on a CPU.

The parts are those of `StableDiffusionXLPipeline` (and of the tiny profile's `sdxl-base`): two CLIP text encoders
with their tokenizers, a `UNet2DConditionModel` with SDXL's text_time addition embedding, an `AutoencoderKL` and a
scheduler. Sized after the issue's measured recipe: a ~1.7 M-parameter UNet (blocks 32/64/64, one layer each),
v-prediction on a cosine schedule, 25 DDIM steps.

Two choices differ from SDXL because of the size:
- The tokenizers know only the world's words (a CLIP BPE whose merges spell each word whole, so every word of the
  grammar is one token and the embedding tables stay a few hundred rows instead of 49,408).
- The VAE has one block, so it does not downsample (vae_scale_factor 1: a 16x16 image is a 16x16 latent; SDXL's
  8x would leave 2x2). It is trained first, alone, to reconstruct the world's frames, and then frozen; at the end
  its decoder alone is sharpened (see `moranb.mini.train`). A hand-set identity was not possible: the KL VAE's
  GroupNorm + SiLU before its output convolutions are not invertible per pixel.
"""

from __future__ import annotations

from ..tokenizers import bytes_to_unicode
from .world import ATTRIBUTES, MOTIONS

MAX_TOKENS = 16  # the longest caption is 12 tokens with its start and end
TIME_IDS = 6  # SDXL's micro-conditions: original size, crop top-left, target size
TEXT_WIDTH = 32  # each encoder's width; the UNet's cross-attention reads both (64)


def world_words(extra: tuple[str, ...] = ()) -> list[str]:
    words = {"a", "an", "on", "background", *extra}
    for values in ATTRIBUTES.values():
        words.update(values)
    for phrase in MOTIONS.values():
        words.update(phrase.split())
    return sorted(words)


def tokenizer(pad_token: str = "<|endoftext|>", extra_words: tuple[str, ...] = ()):
    """A CLIP tokenizer over every byte (so any text tokenizes) whose merges make each world word (and each of
    `extra_words`) one token."""
    from transformers import CLIPTokenizer

    symbols = list(bytes_to_unicode().values())
    base = symbols + [s + "</w>" for s in symbols]
    merges: list[tuple[str, str]] = []
    for _ in range(20):
        # Merge each word's current pieces left to right ("r e", "re d</w>"). A merge made for one word can split
        # another ("r i" of "right" inside "triangle"), so tokenize again and add merges until every word is whole.
        tok = _clip_bpe(base, merges, pad_token)
        split = [tok.tokenize(w) for w in world_words(extra_words) if len(tok.tokenize(w)) > 1]
        if not split:
            return tok
        for pieces in split:
            while len(pieces) > 1:
                if (pieces[0], pieces[1]) not in merges:
                    merges.append((pieces[0], pieces[1]))
                pieces = [pieces[0] + pieces[1]] + pieces[2:]
    raise RuntimeError("the mini tokenizer's merges did not converge")


def _clip_bpe(base: list[str], merges: list[tuple[str, str]], pad_token: str):
    from transformers import CLIPTokenizer

    vocab = base + [a + b for a, b in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(vocab))}
    return CLIPTokenizer(vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=MAX_TOKENS)


def _text_config(vocab_size: int, with_projection: bool, bos: int, eos: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=TEXT_WIDTH, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, projection_dim=TEXT_WIDTH, bos_token_id=bos, eos_token_id=eos, pad_token_id=1,
        hidden_act="gelu" if with_projection else "quick_gelu", max_position_embeddings=MAX_TOKENS,
    )


def vae():
    from diffusers import AutoencoderKL

    # One block: no downsampling (vae_scale_factor = 2 ** (blocks - 1) = 1).
    return AutoencoderKL(
        block_out_channels=[32], in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D"], norm_num_groups=8,
        sample_size=16, scaling_factor=1.0,
    )


def unet(size: int = 16):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=size, in_channels=4, out_channels=4, block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(4, 8, 8), use_linear_projection=True, transformer_layers_per_block=1,
        norm_num_groups=8, cross_attention_dim=2 * TEXT_WIDTH, addition_embed_type="text_time",
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=TIME_IDS * 8 + TEXT_WIDTH,
    )


def scheduler():
    from diffusers import DDIMScheduler

    # Cosine ("squaredcos_cap_v2") betas and v-prediction: what made the 16x16 world learnable in the runs.
    # "trailing" spacing starts sampling at the last training step, where the cosine schedule is almost pure noise.
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                         clip_sample=False, set_alpha_to_one=False, timestep_spacing="trailing")


def build_pipeline(seed: int = 0):
    """An untrained `mini` text-to-image pipeline, its weights drawn from `seed`."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tok, tok_2 = tokenizer(), tokenizer(pad_token="!")
    bos, eos = tok.convert_tokens_to_ids("<|startoftext|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(seed)
    parts = dict(
        vae=vae(),
        text_encoder=CLIPTextModel(_text_config(len(tok), False, bos, eos)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(len(tok), True, bos, eos)),
        unet=unet(),
    )
    return StableDiffusionXLPipeline(tokenizer=tok, tokenizer_2=tok_2, scheduler=scheduler(),
                                     force_zeros_for_empty_prompt=True, add_watermarker=False, **parts)
