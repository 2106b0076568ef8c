"""The prompt agent's LLMs at their published sizes (no wiring to check: text in, text out)."""

from __future__ import annotations

from ...metadevice import Part

T = Part.T

LLAMA_3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192, rms_norm_eps=1e-5,
                  rope_theta=500000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=128000,
                  eos_token_id=128009)
QWEN25_1_5B = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                   num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
                   rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=True, bos_token_id=151643,
                   eos_token_id=151645)
# The wan profile's prompt agent.
QWEN25_7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                 num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6,
                 rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=151643,
                 eos_token_id=151645)

ARCHITECTURES: dict[str, dict[str, Part]] = {
    "meta-llama/Meta-Llama-3-8B-Instruct": {"model": Part(f"{T}:LlamaForCausalLM", LLAMA_3_8B, "Llama-3-8B-Instruct",
                                                          published=8.03e9)},
    "Qwen/Qwen2.5-1.5B-Instruct": {"model": Part(f"{T}:Qwen2ForCausalLM", QWEN25_1_5B, "Qwen2.5-1.5B-Instruct",
                                                 published=1.54e9)},
    "Qwen/Qwen2.5-7B-Instruct": {"model": Part(f"{T}:Qwen2ForCausalLM", QWEN25_7B, "Qwen2.5-7B-Instruct",
                                               published=7.62e9)},
}

