"""The judges (LLaVA-OneVision, Qwen2-VL) at their published sizes."""

from __future__ import annotations

from ...metadevice import Part

T = Part.T

QWEN2_7B_TEXT = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6,
                     rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=False)
QWEN2_0_5B_TEXT = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                       num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=True)
QWEN2_1_5B_TEXT = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                       num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=True)
# LLaVA-OneVision: SigLIP so400m/14 at 384 px (its last layer dropped, no pooling head), a 2-layer projector.
SIGLIP_SO400M = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
                     image_size=384, patch_size=14, vision_use_head=False)
ONEVISION_PINPOINTS = [[384 * h, 384 * w] for h in range(1, 7) for w in range(1, 7)]


def _llava_onevision(text: dict) -> dict:
    return dict(vision_config=dict(SIGLIP_SO400M, model_type="siglip_vision_model"),
                text_config=dict(text, model_type="qwen2"), image_token_index=151646, video_token_index=151647,
                projector_hidden_act="gelu", vision_feature_select_strategy="full", vision_feature_layer=-1,
                vision_aspect_ratio="anyres_max_9", image_grid_pinpoints=ONEVISION_PINPOINTS,
                tie_word_embeddings=text["tie_word_embeddings"])


def _qwen2_vl(text: dict) -> dict:
    return dict(vision_config=dict(depth=32, embed_dim=1280, hidden_size=text["hidden_size"], mlp_ratio=4,
                                   num_heads=16, in_channels=3, patch_size=14, spatial_merge_size=2,
                                   temporal_patch_size=2),
                text_config=dict(text, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}),
                image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
                vision_end_token_id=151653, tie_word_embeddings=text["tie_word_embeddings"])


ARCHITECTURES: dict[str, dict[str, Part]] = {
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": {
        "model": Part(f"{T}:LlavaOnevisionForConditionalGeneration", _llava_onevision(QWEN2_7B_TEXT),
                      "LLaVA-OneVision qwen2 7B", published=8.03e9)},
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": {
        "model": Part(f"{T}:LlavaOnevisionForConditionalGeneration", _llava_onevision(QWEN2_0_5B_TEXT),
                      "LLaVA-OneVision qwen2 0.5B", published=0.894e9)},
    "Qwen/Qwen2-VL-7B-Instruct": {
        "model": Part(f"{T}:Qwen2VLForConditionalGeneration", _qwen2_vl(QWEN2_7B_TEXT), "Qwen2-VL-7B-Instruct",
                      published=8.29e9)},
    "Qwen/Qwen2-VL-2B-Instruct": {
        "model": Part(f"{T}:Qwen2VLForConditionalGeneration", _qwen2_vl(QWEN2_1_5B_TEXT), "Qwen2-VL-2B-Instruct",
                      published=2.21e9)},
}

