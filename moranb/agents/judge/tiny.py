"""The judges' tiny models: LLaVA-OneVision (a SigLIP tower, a projector, a Qwen2 LM) and Qwen2-VL (its own vision
transformer and a Qwen2 LM), with processors and chat templates like the real ones."""

from __future__ import annotations

from pathlib import Path

from ...tiny import seeded
from ...tokenizers import LLAVA_ONEVISION_CHAT_TEMPLATE, QWEN2_VL_CHAT_TEMPLATE, vlm_tokenizer

def _qwen2_text(vocab_size: int, **extra) -> dict:
    """The judges' Qwen2 language model at toy size (the real ones: 0.5B to 7B, same structure)."""
    return dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, rope_theta=1000000.0,
                tie_word_embeddings=False, **extra)


def _build_llava_onevision(out: Path):
    """LLaVA-OneVision: a SigLIP tower, a 2-layer projector and a Qwen2 LM; images tiled "anyres" like the real one,
    with 28 px tiles of 2x2 patches instead of 384 px tiles of 27x27."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    tokenizer = vlm_tokenizer(["<image>", "<video>"], extra_special_tokens={"image_token": "<image>",
                                                                          "video_token": "<video>"})
    tile, patch = 28, 14
    pinpoints = [[tile * h, tile * w] for h in (1, 2, 3) for w in (1, 2, 3)]
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                         num_attention_heads=4, patch_size=patch, image_size=tile,
                                         vision_use_head=False),
        text_config=Qwen2Config(**_qwen2_text(len(tokenizer), bos_token_id=tokenizer.pad_token_id,
                                              eos_token_id=tokenizer.eos_token_id)),
        image_token_index=tokenizer.image_token_id, video_token_index=tokenizer.video_token_id,
        vision_feature_select_strategy="full", vision_feature_layer=-1, image_grid_pinpoints=pinpoints,
        vision_aspect_ratio="anyres_max_9", tie_word_embeddings=False,
    )
    seeded(16)
    model = LlavaOnevisionForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    pixels = dict(size={"height": tile, "width": tile}, image_mean=[0.5] * 3, image_std=[0.5] * 3)  # SigLIP's
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(image_grid_pinpoints=pinpoints, **pixels),
        video_processor=LlavaOnevisionVideoProcessor(**pixels), tokenizer=tokenizer,
        num_image_tokens=(tile // patch) ** 2, vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9", chat_template=LLAVA_ONEVISION_CHAT_TEMPLATE,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _build_qwen2_vl(out: Path):
    """Qwen2-VL: its own vision transformer (14 px patches, 2x2 merged into one LM token, M-RoPE) and a Qwen2 LM;
    images resized to at most 16 merged tokens (the real one allows 1280)."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = vlm_tokenizer(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"])
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        # hidden_size: the LM's width, which the vision merger projects into.
        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, mlp_ratio=4, num_heads=4, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        # M-RoPE splits each head's rotary half (head_dim 8 / 2 = 4) into temporal, height and width sections.
        text_config=_qwen2_text(len(tokenizer), rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]},
                                bos_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
    )
    seeded(17)
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    pixels = {"min_pixels": 28 * 28, "max_pixels": 28 * 28 * 16}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
        tokenizer=tokenizer, chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)


BUILDS = {"llava-onevision": _build_llava_onevision, "qwen2-vl": _build_qwen2_vl}
