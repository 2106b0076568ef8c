"""The tiny profile's models: the paper's model classes built from small configs with random, seeded weights.

Each model is the same diffusers/transformers class as its real counterpart (SDXL with both text encoders and the
refiner, InstructPix2Pix, SVD with its CLIP vision encoder and temporal VAE, LTX-Video for connection, a Llama-style
causal LM, and the two judges: LLaVA-OneVision with a SigLIP tower and a Qwen2 LM, Qwen2-VL with its own vision
transformer), with schedulers and processors configured like the real ones. They are written with `save_pretrained`
into a cache directory and from then on loaded with `from_pretrained`, exactly like a model from the hub.

Tokenizers are real ones built offline: the CLIP tokenizer from the BPE vocabulary that ships inside the
`openai-clip` wheel (the file OpenAI's CLIP and Stable Diffusion use), a T5-style unigram tokenizer derived from
the same vocabulary, and byte-level BPE tokenizers (the LLM's and the judges', each with its model's special tokens
and a chat template that mirrors the real one) trained on a fixed word list.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from .errors import OutputDirError
from .vocab import clip_bpe_path

PARTS = ("llm", "sdxl-base", "sdxl-refiner", "instruct-pix2pix", "svd-xt", "ltx-video", "llava-onevision", "qwen2-vl")
TINY_VERSION = "v1"  # bump when a tiny config changes, so old caches are rebuilt


def tiny_root() -> Path:
    """The tiny models' folder, one sub-folder per part: $MORANB_CACHE/tiny-<version> (default ~/.cache/moranb)."""
    cache = Path(os.environ.get("MORANB_CACHE") or Path.home() / ".cache" / "moranb")
    return cache / f"tiny-{TINY_VERSION}"


def ensure_tiny_models(root: str | Path | None = None) -> Path:
    """Build whichever tiny models are missing under `root` (default `tiny_root()`; a few seconds, once per machine).

    Called where a model is first needed (`moranb.models.from_pretrained`, for a missing folder under `tiny_root()`)
    and by `moranb build-tiny`; looking a profile up builds nothing.
    """
    root = Path(root) if root else tiny_root()
    missing = [part for part in PARTS if not (root / part / ".complete").exists()]
    if not missing:
        return root
    from tqdm.auto import tqdm

    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()  # writable, before minutes of building
    except OSError as exc:
        raise OutputDirError(f"cannot build the tiny models in '{root}' ({exc.strerror or type(exc).__name__}); set "
                             f"$MORANB_CACHE to a writable folder or pass --dir (root=) a writable one") from None
    builders = {
        "llm": _build_llm,
        "sdxl-base": _build_sdxl_base,
        "sdxl-refiner": _build_sdxl_refiner,
        "instruct-pix2pix": _build_instruct_pix2pix,
        "svd-xt": _build_svd,
        "ltx-video": _build_ltx,
        "llava-onevision": _build_llava_onevision,
        "qwen2-vl": _build_qwen2_vl,
    }
    for part in tqdm(missing, desc="building tiny models", unit="model"):
        # Build into a temporary folder and rename: a half-written model is never picked up.
        tmp = Path(tempfile.mkdtemp(prefix=f".{part}-", dir=root))
        try:
            builders[part](tmp)
            (tmp / ".complete").write_text("ok\n")
            if (root / part).exists():
                shutil.rmtree(root / part)
            tmp.rename(root / part)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return root


# -- tokenizers ----------------------------------------------------------------------------------------------------

def _bytes_to_unicode() -> dict[int, str]:
    # The reversible byte -> printable character map of GPT-2 and CLIP.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@lru_cache(maxsize=1)
def _clip_vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    lines = gzip.open(clip_bpe_path()).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(vocab)}, merges


def clip_tokenizer(pad_token: str = "<|endoftext|>"):
    from transformers import CLIPTokenizer

    vocab, merges = _clip_vocab_and_merges()
    return CLIPTokenizer(vocab=dict(vocab), merges=[tuple(m.split()) for m in merges], pad_token=pad_token, model_max_length=77)


def _words(limit: int) -> list[str]:
    """Whole English-looking words from the CLIP vocabulary, most frequent merges first."""
    vocab, _ = _clip_vocab_and_merges()
    words = [t[:-4] for t in vocab if t.endswith("</w>") and t[:-4].isalpha() and t[:-4].isascii() and len(t) > 5]
    return words[:limit]


def t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'-"]
    pieces += [("▁" + w, -3.0 - i / 1000) for i, w in enumerate(_words(1500))]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=128)


LLM_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def _byte_bpe(specials: list[str]):
    """A byte-level BPE (the GPT-2/Llama-3/Qwen2 kind) trained offline on a fixed word list; `specials` get ids 0.."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    words = _words(3000)
    tok.train_from_iterator([" ".join(words[i : i + 12]) for i in range(0, len(words), 12)], trainer=trainer)
    return tok


def llm_tokenizer():
    from transformers import PreTrainedTokenizerFast

    specials = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|pad|>"]
    return PreTrainedTokenizerFast(
        tokenizer_object=_byte_bpe(specials), bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
        pad_token="<|pad|>", chat_template=LLM_CHAT_TEMPLATE, model_max_length=512,
    )


# The judges' chat templates, as in the real processors (llava-hf/llava-onevision-qwen2-*-ov-hf,
# Qwen/Qwen2-VL-*-Instruct). LLaVA-OneVision's puts a turn's images before its text; Qwen2-VL's keeps them in place.
LLAVA_ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% if message['content'] is string %}{{ '\\n' + message['content'] }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\\n' + content['text'] }}"
    "{% endfor %}{% endif %}{{ '<|im_end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def vlm_tokenizer(specials: list[str], **special_tokens):
    """A judge's tokenizer: Qwen2's special tokens (both judges' LMs are Qwen2) plus the model's image tokens."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=_byte_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>", *specials]),
        eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=32768, **special_tokens,
    )


# -- models --------------------------------------------------------------------------------------------------------

def _seeded(seed: int = 0):
    import torch

    torch.manual_seed(seed)


def _clip_text_config(with_projection: bool):
    from transformers import CLIPTextConfig

    vocab, _ = _clip_vocab_and_merges()
    return CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        projection_dim=32, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=1, hidden_act="quick_gelu" if not with_projection else "gelu", max_position_embeddings=77,
    )


def _sd_vae():
    from diffusers import AutoencoderKL

    # Three blocks: 4x spatial downsampling (the real SD VAEs use four blocks and 8x).
    return AutoencoderKL(
        block_out_channels=[16, 32, 32], in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3, norm_num_groups=8,
        sample_size=64, scaling_factor=0.13025,
    )


def _euler_sdxl():
    from diffusers import EulerDiscreteScheduler

    # The SDXL base/refiner scheduler config.
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
        use_karras_sigmas=False,
    )


def _sdxl_unet(cross_attention_dim: int, time_ids: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), norm_num_groups=8,
        projection_class_embeddings_input_dim=time_ids * 8 + 32, cross_attention_dim=cross_attention_dim,
    )


@lru_cache(maxsize=1)
def _sdxl_shared():
    """The VAE and second text encoder the refiner shares with the base (as SDXL's do)."""
    from transformers import CLIPTextModelWithProjection

    _seeded(1)
    vae = _sd_vae()
    _seeded(2)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_text_config(with_projection=True))
    return vae, text_encoder_2


def _build_sdxl_base(out: Path):
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel

    vae, text_encoder_2 = _sdxl_shared()
    _seeded(3)
    text_encoder = CLIPTextModel(_clip_text_config(with_projection=False))
    _seeded(4)
    unet = _sdxl_unet(cross_attention_dim=64, time_ids=6)  # 32 + 32 hidden sizes; 6 micro-conditions
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=clip_tokenizer(),
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=unet, scheduler=_euler_sdxl(), force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.save_pretrained(out)


def _build_sdxl_refiner(out: Path):
    from diffusers import StableDiffusionXLImg2ImgPipeline

    vae, text_encoder_2 = _sdxl_shared()
    _seeded(5)
    unet = _sdxl_unet(cross_attention_dim=32, time_ids=5)  # text_encoder_2 only; aesthetic score replaces a crop
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=vae, text_encoder=None, text_encoder_2=text_encoder_2, tokenizer=None,
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=unet, scheduler=_euler_sdxl(), requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False, add_watermarker=False,
    )
    pipe.save_pretrained(out)


def _build_instruct_pix2pix(out: Path):
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    _seeded(6)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
    )
    _seeded(7)
    vae = _sd_vae()
    _seeded(8)
    text_encoder = CLIPTextModel(_clip_text_config(with_projection=False))
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        prediction_type="epsilon", steps_offset=1,
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(out)


def _build_svd(out: Path):
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    _seeded(9)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=(4, 8), projection_class_embeddings_input_dim=3 * 32,
        addition_time_embed_dim=32, num_frames=25,
    )
    _seeded(10)
    vae = AutoencoderKLTemporalDecoder(  # its norms use 32 groups, hence wider blocks than the SD VAE
        block_out_channels=[32, 32, 64], in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"] * 3, scaling_factor=0.18215,
    )
    _seeded(11)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
                         image_size=224, intermediate_size=37, patch_size=32)
    )  # SVD resizes the conditioning image to 224 itself, as for the real ViT-H/14
    # The SVD-XT scheduler config (v-prediction, Karras sigmas, continuous timesteps).
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1,
        timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    pipe.save_pretrained(out)


def _build_ltx(out: Path):
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = t5_tokenizer()
    _seeded(12)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    _seeded(13)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    _seeded(14)
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


def _build_llm(out: Path):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = llm_tokenizer()
    _seeded(15)
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
    _seeded(16)
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
    _seeded(17)
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
