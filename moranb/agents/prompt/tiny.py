"""The prompt agent's tiny model: a Llama-style causal LM with a Llama-3-style chat template."""

from __future__ import annotations

from pathlib import Path

from ...tiny import seeded
from ...tokenizers import llm_tokenizer

def _build_llm(out: Path):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = llm_tokenizer()
    seeded(15)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
        )
    )
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


BUILDS = {"llm": _build_llm}
