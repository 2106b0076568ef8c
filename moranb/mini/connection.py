"""The `mini` connection model: LTX-Video's classes (`LTXConditionPipeline`), sized to learn the world's transitions.

The parts are those of the connection agent's pipeline (and of the tiny profile's `ltx-video`): an
`LTXVideoTransformer3DModel`, an `AutoencoderKLLTXVideo` (causal encoder), a T5 encoder with its tokenizer, and
LTX-Video 0.9.5's flow-matching scheduler. The agent puts the last frame of clip A at frame 0 and the first frame of
clip B at the last frame and asks for the frames between; here it learns what the world does between them
(`moranb.mini.world.Transition`: the shape travels straight from where it was to where it will be, and its look
dissolves from A's to B's).

Sizes. LTX-Video's pipeline takes only sizes that are multiples of 32, so the model works on the world's 16x16 frames
enlarged to 32x32, as the connect task gives them to the agent (`nearest_size`, PIL's resize; it resizes the
transition back to 16x16). The VAE patchifies 4x4 pixels, then halves space and time once (the
pipeline needs time compressed: with a ratio of 1 it refuses a single conditioning frame), as LTX-Video's VAE does
32x and 8x: the first frame is a latent frame of its own (causal), each later pair of frames one latent frame of
4x4x32. A 9-frame transition is 80 tokens, and the frame at the end 16 more. The T5 encoder stays as initialised (random,
frozen): the agent's prompt is one fixed sentence, so it carries nothing to learn.
"""

from __future__ import annotations

FRAMES = 9  # 8k + 1 (LTX-Video), the two given frames included: 7 new frames between the clips
UPSCALE = 2  # 16x16 world frames, 32x32 model frames
SIZE = 16
LATENT_CHANNELS = 32


def vae():
    from diffusers import AutoencoderKLLTXVideo

    # Patchify 4x4, then one block that halves space and time (LTX-Video's pipeline needs a temporal ratio above 1).
    return AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, block_out_channels=(64, 64),
        decoder_block_out_channels=(64, 64), layers_per_block=(1, 1, 1), decoder_layers_per_block=(1, 1, 1),
        spatio_temporal_scaling=(True, False), decoder_spatio_temporal_scaling=(True, False),
        decoder_inject_noise=(False,) * 3, downsample_type=("conv", "conv"), upsample_residual=(False,) * 2,
        upsample_factor=(1,) * 2, timestep_conditioning=False, patch_size=4, patch_size_t=1, encoder_causal=True,
        decoder_causal=False,
    )


def transformer():
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=4, attention_head_dim=32, cross_attention_dim=128, num_layers=6, caption_channels=32,
    )


def build_pipeline(seed: int = 0):
    """An untrained `mini` connection pipeline, its weights drawn from `seed`; the tokenizer and T5 encoder are the
    tiny profile's (the prompt is one fixed sentence)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline
    from transformers import T5Config, T5EncoderModel

    from ..tokenizers import t5_tokenizer

    tokenizer = t5_tokenizer()
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
    # LTX-Video 0.9.5's, without its terminal shift: the pipeline hands the scheduler plain timesteps (1 down to
    # 1/steps), and a shift to a terminal sigma of 0.1 would move the sigmas away from the timesteps the model is told
    # (measured on 40 held-out pairs: the transition's first and last frames read right 30 % and 17 % of the time with
    # the shift, 72 % and 72 % without). The model was trained on sigma = timestep / 1000.
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=False, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
        max_image_seq_len=4096, shift_terminal=None)
    return LTXConditionPipeline(scheduler=scheduler, vae=vae(), text_encoder=text_encoder, tokenizer=tokenizer,
                                transformer=transformer())


def model_frames(clips):
    """World clips, uint8 (N, F, 16, 16, 3), as the model sees them: each frame enlarged to 32x32 as the connect task
    enlarges the two frames it gives the agent (PIL's default resize), float (N, 3, F, 32, 32) in [-1, 1]."""
    import numpy as np
    import torch
    from PIL import Image

    size = SIZE * UPSCALE
    clips = np.asarray(clips)
    big = np.stack([[np.asarray(Image.fromarray(frame).resize((size, size))) for frame in clip] for clip in clips])
    return torch.from_numpy(big).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
