"""The `mini` image-to-image model: InstructPix2Pix's pipeline class, trained to follow the world's edit instructions.

The parts are those of `StableDiffusionInstructPix2PixPipeline` (and of the tiny profile's `instruct-pix2pix`): a
`UNet2DConditionModel` whose input is the noisy latent beside the source image's latent (8 channels), a CLIP text
encoder with its tokenizer, an `AutoencoderKL` and a scheduler. The VAE is the mini text-to-image model's (same
class, already trained on the world's frames, frozen), so only the UNet and the text encoder learn. The UNet, text
encoder, tokenizer and scheduler follow the text-to-image model's recipe (`moranb.mini.text_to_image`): v-prediction
on a cosine schedule, DDIM sampling, a tokenizer whose every world word is one token.

Instructions follow two forms: "make it <colour>" (the shape's colour) and "make the background <background>".
`edit_attributes` says what an instruction does to a frame's attributes, so trainer and evaluation share it.
"""

from __future__ import annotations

import dataclasses
import re

from ..checks import check_prompt
from ..errors import InputError
from .text_to_image import TEXT_WIDTH, _text_config, scheduler, tokenizer
from .world import BACKGROUNDS, COLOURS, Attributes

INSTRUCTION_WORDS = ("make", "it", "the")
_INSTRUCTION = re.compile(r"^make (?:(?P<it>it)|the background) (?P<value>\w+)$")


def edit_attributes(attrs: Attributes, instruction: str) -> Attributes:
    """The attributes after `instruction`; a one-line error for an instruction the mini world does not know."""
    words = " ".join(check_prompt(instruction, "instruction").lower().rstrip(".").split())
    match = _INSTRUCTION.match(words)
    known = {"colour": COLOURS, "background": BACKGROUNDS}
    if match:
        name = "colour" if match["it"] else "background"
        if match["value"] in known[name]:
            return dataclasses.replace(attrs, **{name: match["value"]})
    raise InputError(f"instruction {instruction!r} is not one the mini world knows: 'make it <colour>' "
                     f"({', '.join(COLOURS)}) or 'make the background <background>' ({', '.join(BACKGROUNDS)})")


def instructions() -> list[str]:
    return [f"make it {c}" for c in COLOURS] + [f"make the background {b}" for b in BACKGROUNDS]


def unet(size: int = 16):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=size, in_channels=8, out_channels=4, block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(4, 8, 8), use_linear_projection=True, norm_num_groups=8, cross_attention_dim=TEXT_WIDTH,
    )


def build_pipeline(vae, seed: int = 0):
    """An untrained `mini` image-to-image pipeline around a trained `vae` (the mini text-to-image model's)."""
    import torch
    from diffusers import StableDiffusionInstructPix2PixPipeline
    from transformers import CLIPTextModel

    tok = tokenizer(extra_words=INSTRUCTION_WORDS)
    bos, eos = tok.convert_tokens_to_ids("<|startoftext|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(seed)
    return StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=CLIPTextModel(_text_config(len(tok), False, bos, eos)), tokenizer=tok, unet=unet(),
        scheduler=scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False)
