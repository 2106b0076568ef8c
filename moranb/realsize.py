"""The paper's models at their published sizes, built from configs in this package: no download, no memory.

Every model the `full` and `lowvram` profiles name is described here by its published architecture (the values of
its `config.json` on the Hugging Face hub), as a config for the very class `moranb.models` loads it with. `build`
makes one on the meta device (shapes only, no memory, a second or two), `count` counts its parameters, and `check`
pushes meta tensors through the models wired the way the agents wire them (text-encoder widths into
cross-attention, added time ids, the refiner's aesthetic score, InstructPix2Pix's image latents, SVD's image
conditioning, LTX-Video's T5 captions and conditioning frames), one denoiser forward per model at a small latent
size, asserting every shape. `moranb.plan` turns the counts into GPU memory; `benchmarks/bench_gpu.py` builds the
same configs with random weights on a GPU.

    python -m moranb.realsize check    # the wiring check (about 30 s on 2 CPU cores)
    python -m moranb.realsize count    # every model's parameter count

The denoisers' counts, measured on the real checkpoints (`PUBLISHED`), are reproduced to 3 significant digits
(tests/test_realsize.py). The configs were written from the published config files, not downloaded: where a
published config carries keys the class ignores (`_class_name`, `_diffusers_version`, ...), they are left out.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .errors import InputError, run_main

# -- the published architectures ------------------------------------------------------------------------------------

CLIP_VOCAB = 49408  # the CLIP BPE vocabulary (moranb.tiny builds the same tokenizer offline)

# SDXL's first text encoder and Stable Diffusion 1.5's (InstructPix2Pix's): OpenAI CLIP ViT-L/14's text tower.
CLIP_L_TEXT = dict(vocab_size=CLIP_VOCAB, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                   num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                   bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
# SDXL's second text encoder: OpenCLIP ViT-bigG/14's text tower, with its projection (the pooled embedding).
CLIP_BIGG_TEXT = dict(vocab_size=CLIP_VOCAB, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                      num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280,
                      bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
# The SD VAE (SDXL's, SD 1.5's): 8x spatial downsampling, 4 latent channels.
SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
              layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
              up_block_types=["UpDecoderBlock2D"] * 4, act_fn="silu", norm_num_groups=32)

SDXL_BASE_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=[320, 640, 1280],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
    cross_attention_dim=2048,  # 768 (CLIP ViT-L) + 1280 (OpenCLIP bigG) hidden states, concatenated
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 1280 (pooled bigG) + 6 time ids x 256
    norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
)
SDXL_REFINER_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=[384, 768, 1536, 1536],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    attention_head_dim=[6, 12, 24, 24], transformer_layers_per_block=4, use_linear_projection=True,
    cross_attention_dim=1280,  # OpenCLIP bigG only
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2560,  # 1280 (pooled bigG) + 5 time ids (aesthetic score) x 256
    norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
)
# InstructPix2Pix: Stable Diffusion 1.5's UNet with 8 input channels (noisy latents + the input image's latents).
PIX2PIX_UNET = dict(
    sample_size=64, in_channels=8, out_channels=4, layers_per_block=2, block_out_channels=[320, 640, 1280, 1280],
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0,
    act_fn="silu",
)
SVD_UNET = dict(
    sample_size=96, in_channels=8, out_channels=4,  # noisy latents + the conditioning image's latents
    down_block_types=["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
    up_block_types=["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
    block_out_channels=[320, 640, 1280, 1280], addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=768,  # 3 time ids (fps, motion bucket, noise augmentation) x 256
    layers_per_block=2, cross_attention_dim=1024,  # the ViT-H/14 image embedding
    transformer_layers_per_block=1, num_attention_heads=[5, 10, 20, 20], num_frames=25,
)
SVD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
               down_block_types=["DownEncoderBlock2D"] * 4, layers_per_block=2, sample_size=768,
               scaling_factor=0.18215, force_upcast=True)
# SVD's image encoder: OpenCLIP ViT-H/14's vision tower with its projection.
VIT_H_VISION = dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32,
                    num_attention_heads=16, num_channels=3, image_size=224, patch_size=14, hidden_act="gelu",
                    layer_norm_eps=1e-5)
LTX_TRANSFORMER = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
                       attention_head_dim=64, cross_attention_dim=2048, num_layers=28,
                       activation_fn="gelu-approximate", qk_norm="rms_norm_across_heads",
                       norm_elementwise_affine=False, norm_eps=1e-6, caption_channels=4096, attention_bias=True,
                       attention_out_bias=True)
# LTX-Video 0.9.5's VAE (32x spatial, 8x temporal compression; timestep-conditioned decoder).
LTX_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=128, block_out_channels=[128, 256, 512, 1024, 2048],
    down_block_types=["LTXVideo095DownBlock3D"] * 4, decoder_block_out_channels=[256, 512, 1024],
    layers_per_block=[4, 6, 6, 2, 2], decoder_layers_per_block=[5, 5, 5, 5],
    spatio_temporal_scaling=[True, True, True, True], decoder_spatio_temporal_scaling=[True, True, True],
    decoder_inject_noise=[False, False, False, False],
    downsample_type=["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    upsample_residual=[True, True, True], upsample_factor=[2, 2, 2], timestep_conditioning=True, patch_size=4,
    patch_size_t=1, resnet_norm_eps=1e-6, scaling_factor=1.0, encoder_causal=True, decoder_causal=False,
    spatial_compression_ratio=32, temporal_compression_ratio=8,
)
# google/t5-v1_1-xxl, whose encoder LTX-Video uses.
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.1,
              layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", is_encoder_decoder=True,
              tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
LLAMA_3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192, rms_norm_eps=1e-5,
                  rope_theta=500000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=128000,
                  eos_token_id=128009)
QWEN25_1_5B = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                   num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
                   rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=True, bos_token_id=151643,
                   eos_token_id=151645)
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


@dataclass(frozen=True)
class Part:
    """One model of a pipeline: its class (module:name), its published config, what it is."""

    cls: str
    config: dict
    about: str

    def load_class(self):
        import importlib

        module, name = self.cls.split(":")
        return getattr(importlib.import_module(module), name)


D, T = "diffusers", "transformers"
# Every model the full and lowvram profiles name, by Hugging Face id, one Part per component the agents load.
ARCHITECTURES: dict[str, dict[str, Part]] = {
    "stabilityai/stable-diffusion-xl-base-1.0": {
        "unet": Part(f"{D}:UNet2DConditionModel", SDXL_BASE_UNET, "SDXL base UNet"),
        "text_encoder": Part(f"{T}:CLIPTextModel", CLIP_L_TEXT, "CLIP ViT-L/14 text encoder"),
        "text_encoder_2": Part(f"{T}:CLIPTextModelWithProjection", CLIP_BIGG_TEXT, "OpenCLIP ViT-bigG/14 text encoder"),
        "vae": Part(f"{D}:AutoencoderKL", dict(SD_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True),
                    "SDXL VAE"),
    },
    # The refiner's own text_encoder_2 and VAE are the base's (the agent passes the base's to it, as SDXL's card
    # does), so only its UNet is loaded.
    "stabilityai/stable-diffusion-xl-refiner-1.0": {
        "unet": Part(f"{D}:UNet2DConditionModel", SDXL_REFINER_UNET, "SDXL refiner UNet"),
    },
    "timbrooks/instruct-pix2pix": {
        "unet": Part(f"{D}:UNet2DConditionModel", PIX2PIX_UNET, "InstructPix2Pix UNet (8 input channels)"),
        "text_encoder": Part(f"{T}:CLIPTextModel", CLIP_L_TEXT, "CLIP ViT-L/14 text encoder"),
        "vae": Part(f"{D}:AutoencoderKL", dict(SD_VAE, sample_size=256, scaling_factor=0.18215), "SD VAE"),
    },
    "stabilityai/stable-video-diffusion-img2vid-xt": {
        "unet": Part(f"{D}:UNetSpatioTemporalConditionModel", SVD_UNET, "SVD-XT spatio-temporal UNet"),
        "vae": Part(f"{D}:AutoencoderKLTemporalDecoder", SVD_VAE, "SVD temporal-decoder VAE"),
        "image_encoder": Part(f"{T}:CLIPVisionModelWithProjection", VIT_H_VISION, "OpenCLIP ViT-H/14 image encoder"),
    },
    "Lightricks/LTX-Video-0.9.5": {
        "transformer": Part(f"{D}:LTXVideoTransformer3DModel", LTX_TRANSFORMER, "LTX-Video transformer"),
        "vae": Part(f"{D}:AutoencoderKLLTXVideo", LTX_VAE, "LTX-Video 0.9.5 VAE"),
        "text_encoder": Part(f"{T}:T5EncoderModel", T5_XXL, "T5-XXL encoder (t5-v1_1-xxl)"),
    },
    "meta-llama/Meta-Llama-3-8B-Instruct": {"model": Part(f"{T}:LlamaForCausalLM", LLAMA_3_8B, "Llama-3-8B-Instruct")},
    "Qwen/Qwen2.5-1.5B-Instruct": {"model": Part(f"{T}:Qwen2ForCausalLM", QWEN25_1_5B, "Qwen2.5-1.5B-Instruct")},
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": {
        "model": Part(f"{T}:LlavaOnevisionForConditionalGeneration", _llava_onevision(QWEN2_7B_TEXT),
                      "LLaVA-OneVision qwen2 7B")},
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": {
        "model": Part(f"{T}:LlavaOnevisionForConditionalGeneration", _llava_onevision(QWEN2_0_5B_TEXT),
                      "LLaVA-OneVision qwen2 0.5B")},
    "Qwen/Qwen2-VL-7B-Instruct": {
        "model": Part(f"{T}:Qwen2VLForConditionalGeneration", _qwen2_vl(QWEN2_7B_TEXT), "Qwen2-VL-7B-Instruct")},
    "Qwen/Qwen2-VL-2B-Instruct": {
        "model": Part(f"{T}:Qwen2VLForConditionalGeneration", _qwen2_vl(QWEN2_1_5B_TEXT), "Qwen2-VL-2B-Instruct")},
}

# Parameter counts of the real checkpoints (the denoisers and T5 measured on the published weights; the others as
# their model cards give them, to the digits given there).
PUBLISHED = {
    ("stabilityai/stable-diffusion-xl-base-1.0", "unet"): 2.567e9,
    ("stabilityai/stable-diffusion-xl-refiner-1.0", "unet"): 2.260e9,
    ("timbrooks/instruct-pix2pix", "unet"): 0.860e9,
    ("stabilityai/stable-video-diffusion-img2vid-xt", "unet"): 1.525e9,
    ("Lightricks/LTX-Video-0.9.5", "transformer"): 1.923e9,
    ("Lightricks/LTX-Video-0.9.5", "text_encoder"): 4.762e9,
    ("meta-llama/Meta-Llama-3-8B-Instruct", "model"): 8.03e9,
    ("Qwen/Qwen2.5-1.5B-Instruct", "model"): 1.54e9,
    ("llava-hf/llava-onevision-qwen2-7b-ov-hf", "model"): 8.03e9,
    ("llava-hf/llava-onevision-qwen2-0.5b-ov-hf", "model"): 0.894e9,
    ("Qwen/Qwen2-VL-7B-Instruct", "model"): 8.29e9,
    ("Qwen/Qwen2-VL-2B-Instruct", "model"): 2.21e9,
}


def part(source: str, component: str) -> Part:
    """The published architecture of `component` of the model `source` (a Hugging Face id a profile names)."""
    if source not in ARCHITECTURES:
        raise InputError(f"no real-size architecture known for model '{source}'; moranb.realsize knows "
                         f"{sorted(ARCHITECTURES)} (a profile pointing at a local copy: give its Hugging Face id to "
                         f"moranb.plan, or add its config to moranb.realsize.ARCHITECTURES)")
    components = ARCHITECTURES[source]
    if component not in components:
        raise InputError(f"model '{source}' has no component '{component}' here; it has {sorted(components)}")
    return components[component]


def config_object(p: Part):
    """The class's config object (transformers) or config dict (diffusers) for `p`."""
    cls = p.load_class()
    if cls.__module__.startswith("diffusers"):
        return dict(p.config)
    return cls.config_class(**p.config)


def build(source: str, component: str, device: str = "meta", dtype=None):
    """The model `component` of `source` at its published size, on `device` (default meta: shapes, no memory).

    On a real device the weights are random (the classes' own initialisation); the GPU benchmark saves them with
    `save_pretrained` and loads them back through `moranb.models.from_pretrained`.
    """
    import torch

    p = part(source, component)
    cls = p.load_class()
    config = config_object(p)
    with torch.device(device):
        model = cls.from_config(config) if isinstance(config, dict) else cls(config)
    # A few parameters are made by legacy constructors that ignore the device context (SVD's AlphaBlender's
    # torch.Tensor([alpha])); nn.Module.to moves them too (diffusers' own `to` would warn about fp32 modules).
    torch.nn.Module.to(model, device=device, dtype=dtype)
    return model.eval()


def count(source: str, component: str) -> int:
    """Parameters of `component` of `source` at its published size (built on the meta device: no memory).

    Tied weights (Qwen's tied input and output embeddings) are counted once, as `num_parameters()` does.
    """
    model = build(source, component)
    return sum(p.numel() for p in model.parameters())


# -- the wiring check -----------------------------------------------------------------------------------------------

@dataclass
class Stage:
    """One step of an agent on the GPU: which models it needs there, and the activations it holds at its peak."""

    field: str  # the profile field of the agent ("text_to_image", "refiner", ...)
    label: str
    models: tuple  # (profile field, component) pairs whose weights this step needs on the GPU
    activation_bytes: int = 0
    upcast: bool = False  # run in float32 although the profile says fp16 (diffusers' VAE force_upcast)


_RECORDING: list | None = None  # the stages of the check being measured, or None (the check alone)


class _LiveBytes:
    """The peak of the bytes held by live tensors made inside it: a dispatch mode that sees every op's output
    (meta tensors have a size, no memory), counts each storage once and forgets it when its last tensor dies.

    Attention goes through `scaled_dot_product_attention` as a fused kernel would on a GPU (flash or memory
    efficient: the output only, no N x N matrix); on the meta device it would otherwise decompose into the math
    path and count a matrix no GPU run makes.
    """

    def __enter__(self):
        import weakref

        import torch
        import torch.nn.functional as F
        from torch.overrides import TorchFunctionMode
        from torch.utils import _pytree as pytree
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self
        self.live, self.now, self.peak = {}, 0, 0

        def release(key):
            entry = tracker.live.get(key)
            if entry is not None:
                entry[0] -= 1
                if entry[0] == 0:
                    tracker.now -= entry[1]
                    del tracker.live[key]

        class Count(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in pytree.tree_leaves(out):
                    if isinstance(t, torch.Tensor):
                        key = t.untyped_storage()._cdata
                        if key not in tracker.live:
                            tracker.live[key] = [0, t.untyped_storage().nbytes()]
                            tracker.now += tracker.live[key][1]
                            tracker.peak = max(tracker.peak, tracker.now)
                        tracker.live[key][0] += 1
                        weakref.finalize(t, release, key)
                return out

        class FusedAttention(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                if func is F.scaled_dot_product_attention:
                    named = dict(zip(("query", "key", "value"), args), **(kwargs or {}))
                    q, v = named["query"], named["value"]
                    return q.new_empty(q.shape[:-1] + (v.shape[-1],))
                return func(*args, **(kwargs or {}))

        self._modes = [FusedAttention(), Count()]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc):
        for mode in reversed(self._modes):
            mode.__exit__(*exc)


class _stage:
    """Marks one agent step inside a check; while `measure` runs, records the step's peak activations."""

    def __init__(self, field: str, label: str, *models, upcast: bool = False):
        self.stage = Stage(field, label, tuple(models), upcast=upcast)

    def __enter__(self):
        self.tracker = _LiveBytes().__enter__() if _RECORDING is not None else None

    def __exit__(self, *exc):
        if self.tracker is not None:
            self.tracker.__exit__(*exc)
            self.stage.activation_bytes = self.tracker.peak
            _RECORDING.append(self.stage)


class WiringError(InputError):
    """Two real-size models the agents connect do not fit together (a width, a channel count, a time id)."""


def _expect(what: str, got, want):
    if tuple(got) != tuple(want):
        raise WiringError(f"{what}: got shape {tuple(got)}, expected {tuple(want)}; the profile's models do not "
                          f"fit together as the agents connect them (see moranb.realsize.ARCHITECTURES)")
    return f"{what}: {tuple(got)}"


def _meta(*shape, dtype=None):
    import torch

    return torch.empty(*shape, device="meta", dtype=dtype or torch.float16)


def _dtype(profile, field: str):
    return getattr(profile, field).torch_dtype(profile)


def check_text_to_image(profile) -> list[str]:
    """SDXL base then refiner, as `TextToImageAgent` runs them (the refiner shares the base's VAE and encoder 2)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline

    from .tiny import clip_tokenizer

    src, dtype = profile.text_to_image.source, _dtype(profile, "text_to_image")
    w, h = profile.width, profile.height
    comp = {name: build(src, name, dtype=dtype) for name in ("unet", "text_encoder", "text_encoder_2", "vae")}
    base = StableDiffusionXLPipeline(tokenizer=clip_tokenizer(), tokenizer_2=clip_tokenizer(pad_token="!"),
                                     scheduler=EulerDiscreteScheduler(), force_zeros_for_empty_prompt=True,
                                     add_watermarker=False, **comp)
    lines = []
    with _stage("text_to_image", "SDXL text encoders", ("text_to_image", "text_encoder"),
                ("text_to_image", "text_encoder_2")):
        embeds, neg, pooled, neg_pooled = base.encode_prompt("a red fox running through snow", device="meta",
                                                             do_classifier_free_guidance=True)
    width = base.text_encoder.config.hidden_size + base.text_encoder_2.config.hidden_size
    lines.append(_expect("sdxl-base: text encoders' hidden states (768 + 1280), concatenated -> UNet cross-attention",
                         embeds.shape, (1, 77, width)))
    lines.append(_expect("sdxl-base: that width -> UNet cross-attention", (width,),
                         (base.unet.config.cross_attention_dim,)))
    # _get_add_time_ids raises if pooled width + 6 x 256 differs from the UNet's add_embedding input.
    time_ids = base._get_add_time_ids((h, w), (0, 0), (h, w), dtype=embeds.dtype,
                                      text_encoder_projection_dim=int(pooled.shape[-1])).to("meta")
    lines.append(_expect("sdxl-base: pooled embedding + 6 added time ids -> add_embedding",
                         (pooled.shape[-1] + time_ids.shape[-1] * base.unet.config.addition_time_embed_dim,),
                         (base.unet.add_embedding.linear_1.in_features,)))
    scale = base.vae_scale_factor
    latents = _meta(2, base.unet.config.in_channels, h // scale, w // scale, dtype=dtype)
    with _stage("text_to_image", "SDXL base UNet step", ("text_to_image", "unet")):
        out = base.unet(latents, torch.tensor(999.0, device="meta"), encoder_hidden_states=torch.cat([neg, embeds]),
                        added_cond_kwargs={"text_embeds": torch.cat([neg_pooled, pooled]),
                                           "time_ids": time_ids.repeat(2, 1)}).sample
    lines.append(_expect(f"sdxl-base: UNet forward at {w}x{h} (CFG batch 2)", out.shape, latents.shape))

    refiner_unet = build(profile.refiner.source, "unet", dtype=_dtype(profile, "refiner"))
    refiner = StableDiffusionXLImg2ImgPipeline(
        vae=base.vae, text_encoder=None, text_encoder_2=base.text_encoder_2, tokenizer=None,
        tokenizer_2=clip_tokenizer(pad_token="!"), unet=refiner_unet, scheduler=EulerDiscreteScheduler(),
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False, add_watermarker=False)
    with _stage("refiner", "SDXL refiner text encoder 2", ("text_to_image", "text_encoder_2")):
        r_embeds, r_neg, r_pooled, r_neg_pooled = refiner.encode_prompt(
            "a red fox running through snow", device="meta", do_classifier_free_guidance=True, negative_prompt="")
    lines.append(_expect("sdxl-refiner: text encoder 2's hidden states only -> UNet cross-attention",
                         r_embeds.shape, (1, 77, refiner_unet.config.cross_attention_dim)))
    # With requires_aesthetics_score: 5 ids (size, crop, aesthetic score); raises if the UNet expects otherwise.
    ids, neg_ids = refiner._get_add_time_ids((h, w), (0, 0), (h, w), 6.0, 2.5, (h, w), (0, 0), (h, w),
                                             dtype=r_embeds.dtype, text_encoder_projection_dim=int(r_pooled.shape[-1]))
    lines.append(_expect("sdxl-refiner: pooled embedding + 5 added time ids (aesthetic score) -> add_embedding",
                         (r_pooled.shape[-1] + ids.shape[-1] * refiner_unet.config.addition_time_embed_dim,),
                         (refiner_unet.add_embedding.linear_1.in_features,)))
    # The base hands the refiner its latents (output_type="latent").
    lines.append(_expect("sdxl-base latents -> refiner UNet input channels", (out.shape[1],),
                         (refiner_unet.config.in_channels,)))
    with _stage("refiner", "SDXL refiner UNet step", ("refiner", "unet")):
        r_out = refiner_unet(out, torch.tensor(199.0, device="meta"),
                             encoder_hidden_states=torch.cat([r_neg, r_embeds]),
                             added_cond_kwargs={"text_embeds": torch.cat([r_neg_pooled, r_pooled]),
                                                "time_ids": torch.cat([neg_ids, ids]).to("meta")}).sample
    lines.append(_expect(f"sdxl-refiner: UNet forward at {w}x{h}", r_out.shape, out.shape))
    # The pipeline decodes in float32 where the VAE's config says force_upcast (SDXL's VAE overflows in fp16).
    upcast = base.vae.config.force_upcast and base.vae.dtype == torch.float16
    vae = torch.nn.Module.to(base.vae, torch.float32) if upcast else base.vae
    with _stage("refiner", "SDXL VAE decode" + (" (float32: force_upcast)" if upcast else ""),
                ("text_to_image", "vae"), upcast=upcast):
        image = vae.decode(r_out[:1].to(vae.dtype) / vae.config.scaling_factor).sample
    lines.append(_expect("sdxl VAE decode", image.shape, (1, 3, h, w)))
    return lines


def check_image_to_image(profile) -> list[str]:
    """InstructPix2Pix as `ImageToImageAgent` runs it: 3-way guidance, image latents concatenated to the noise."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    from .tiny import clip_tokenizer

    src, dtype = profile.image_to_image.source, _dtype(profile, "image_to_image")
    w, h = profile.width, profile.height
    pipe = StableDiffusionInstructPix2PixPipeline(
        tokenizer=clip_tokenizer(), scheduler=EulerAncestralDiscreteScheduler(), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
        **{name: build(src, name, dtype=dtype) for name in ("unet", "text_encoder", "vae")})
    with _stage("image_to_image", "InstructPix2Pix text encoder", ("image_to_image", "text_encoder")):
        embeds = pipe._encode_prompt("make it snowy", "meta", 1, True)
    lines = [_expect("instruct-pix2pix: CLIP text states (prompt, negative, negative) -> cross-attention",
                     embeds.shape, (3, 77, pipe.unet.config.cross_attention_dim))]
    with _stage("image_to_image", "InstructPix2Pix VAE encode", ("image_to_image", "vae")):
        image_latents = pipe.prepare_image_latents(_meta(1, 3, h, w, dtype=dtype), 1, 1, dtype, "meta", True)
    latents = _meta(3, pipe.vae.config.latent_channels, h // pipe.vae_scale_factor, w // pipe.vae_scale_factor,
                    dtype=dtype)
    model_input = torch.cat([latents, image_latents], dim=1)
    lines.append(_expect("instruct-pix2pix: noisy latents + image latents -> UNet input channels",
                         (model_input.shape[1],), (pipe.unet.config.in_channels,)))
    with _stage("image_to_image", "InstructPix2Pix UNet step", ("image_to_image", "unet")):
        out = pipe.unet(model_input, torch.tensor(999.0, device="meta"), encoder_hidden_states=embeds).sample
    lines.append(_expect(f"instruct-pix2pix: UNet forward at {w}x{h} (3-way guidance)", out.shape, latents.shape))
    with _stage("image_to_image", "InstructPix2Pix VAE decode", ("image_to_image", "vae")):
        image = pipe.vae.decode(out[:1] / pipe.vae.config.scaling_factor).sample
    lines.append(_expect("instruct-pix2pix: VAE decode", image.shape, (1, 3, h, w)))
    return lines


def check_image_to_video(profile) -> list[str]:
    """SVD-XT as `ImageToVideoAgent` runs it: image embedding, 3 added time ids, image latents on every frame."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
    from PIL import Image
    from transformers import CLIPImageProcessor

    src, dtype = profile.image_to_video.source, _dtype(profile, "image_to_video")
    w, h, frames = profile.width, profile.height, profile.frames_per_segment
    pipe = StableVideoDiffusionPipeline(
        scheduler=EulerDiscreteScheduler(), feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
        **{name: build(src, name, dtype=dtype) for name in ("unet", "vae", "image_encoder")})
    image = Image.new("RGB", (w, h), (120, 90, 60))
    with _stage("image_to_video", "SVD image encoder", ("image_to_video", "image_encoder")):
        embeds = pipe._encode_image(image, "meta", 1, True)
    lines = [_expect("svd: ViT-H/14 image embedding -> UNet cross-attention", embeds.shape,
                     (2, 1, pipe.unet.config.cross_attention_dim))]
    # Raises if 3 x 256 differs from the UNet's add_embedding input.
    time_ids = pipe._get_add_time_ids(profile.fps - 1, profile.motion_bucket_id, profile.noise_aug_strength,
                                      embeds.dtype, 1, 1, True).to("meta")
    lines.append(_expect("svd: 3 added time ids (fps, motion bucket, noise augmentation) -> add_embedding",
                         (time_ids.shape[-1] * pipe.unet.config.addition_time_embed_dim,),
                         (pipe.unet.add_embedding.linear_1.in_features,)))
    pixels = pipe.video_processor.preprocess(image, height=h, width=w).to("meta", dtype)
    upcast = pipe.vae.config.force_upcast and pipe.vae.dtype == torch.float16  # the pipeline encodes in float32
    if upcast:
        torch.nn.Module.to(pipe.vae, torch.float32)
    with _stage("image_to_video", "SVD VAE encode" + (" (float32: force_upcast)" if upcast else ""),
                ("image_to_video", "vae"), upcast=upcast):
        image_latents = pipe._encode_vae_image(pixels.to(pipe.vae.dtype), "meta", 1, True)
    torch.nn.Module.to(pipe.vae, dtype)
    image_latents = image_latents.to(dtype).unsqueeze(1).repeat(1, frames, 1, 1, 1)
    latents = pipe.prepare_latents(1, frames, pipe.unet.config.in_channels, h, w, dtype, "meta", None)
    model_input = torch.cat([torch.cat([latents] * 2), image_latents], dim=2)
    lines.append(_expect("svd: noisy latents + image latents -> UNet input channels", (model_input.shape[2],),
                         (pipe.unet.config.in_channels,)))
    with _stage("image_to_video", f"SVD UNet step ({frames} frames)", ("image_to_video", "unet")):
        out = pipe.unet(model_input, torch.tensor(1.0, device="meta"), encoder_hidden_states=embeds,
                        added_time_ids=time_ids).sample
    lines.append(_expect(f"svd: UNet forward, {frames} frames at {w}x{h} (CFG batch 2)", out.shape,
                         (2, frames) + tuple(latents.shape[2:])))
    chunk = profile.decode_chunk_size
    with _stage("image_to_video", f"SVD VAE decode (chunks of {chunk} frames)", ("image_to_video", "vae")):
        video = pipe.vae.decode(out[0, :chunk] / pipe.vae.config.scaling_factor, num_frames=chunk).sample
    lines.append(_expect(f"svd: temporal VAE decode, chunk of {chunk} frames", video.shape, (chunk, 3, h, w)))
    return lines


class _Unmasked:
    """T5 called without its padding mask: transformers' mask builder reads the mask's values (`.all()`), which
    meta tensors do not have. The output's shape is the same with or without the mask."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.dtype = encoder.dtype

    def __call__(self, input_ids, attention_mask=None):
        return self.encoder(input_ids)


def check_connection(profile) -> list[str]:
    """LTX-Video as `ConnectionAgent` runs it: T5 captions, conditioning frames at the first and last index."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline

    from .tiny import t5_tokenizer

    src, dtype = profile.connection.source, _dtype(profile, "connection")
    m = profile.connection_size_multiple
    w, h, frames = profile.width // m * m, profile.height // m * m, profile.connection_frames
    pipe = LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), tokenizer=t5_tokenizer(),
                                text_encoder=_Unmasked(build(src, "text_encoder", dtype=dtype)),
                                **{name: build(src, name, dtype=dtype) for name in ("transformer", "vae")})
    with _stage("connection", "LTX-Video T5-XXL encoder", ("connection", "text_encoder")):
        embeds, mask, neg, neg_mask = pipe.encode_prompt(profile.connection_prompt, "worst quality", device="meta",
                                                         max_sequence_length=256)
    tr = pipe.transformer
    lines = [_expect("ltx: T5-XXL states -> transformer caption projection", (embeds.shape[-1],),
                     (tr.caption_projection.linear_1.in_features,))]
    conditions = [_meta(1, 3, 1, h, w, dtype=dtype), _meta(1, 3, 1, h, w, dtype=dtype)]
    with _stage("connection", "LTX-Video VAE encode (2 conditioning frames)", ("connection", "vae")):
        latents, cond_mask, coords, extra = pipe.prepare_latents(
            conditions, [1.0, 1.0], [0, frames - 1], batch_size=1, num_channels_latents=tr.config.in_channels,
            height=h, width=w, num_frames=frames, device="meta", dtype=torch.float32)
    tokens = ((frames - 1) // pipe.vae_temporal_compression_ratio + 1) * (h // 32) * (w // 32)
    lines.append(_expect(f"ltx: VAE latents of {frames} frames + the last frame's conditioning tokens -> transformer",
                         latents.shape, (1, tokens + (h // 32) * (w // 32), tr.config.in_channels)))
    lines.append(_expect("ltx: VAE latent channels -> transformer input channels", (pipe.vae.config.latent_channels,),
                         (tr.config.in_channels,)))
    with _stage("connection", f"LTX-Video transformer step ({frames} frames)", ("connection", "transformer")):
        out = tr(hidden_states=torch.cat([latents] * 2).to(dtype), encoder_hidden_states=torch.cat([neg, embeds]),
                 timestep=torch.ones(2, 1, device="meta"), encoder_attention_mask=torch.cat([neg_mask, mask]),
                 video_coords=torch.cat([coords, coords]).float(), return_dict=False)[0]
    lines.append(_expect(f"ltx: transformer forward, {frames} frames at {w}x{h} (CFG batch 2)", out.shape,
                         (2,) + tuple(latents.shape[1:])))
    grid = _meta(1, tr.config.in_channels, (frames - 1) // 8 + 1, h // 32, w // 32, dtype=dtype)
    with _stage("connection", "LTX-Video VAE decode", ("connection", "vae")):
        video = pipe.vae.decode(grid, torch.tensor([0.05], device="meta")).sample
    lines.append(_expect("ltx: VAE decode", video.shape, (1, 3, frames, h, w)))
    return lines


CHECKS = {"text_to_image": check_text_to_image, "image_to_image": check_image_to_image,
          "image_to_video": check_image_to_video, "connection": check_connection}
# The profile settings each check reads (a measurement is reused while they stay the same).
_READS = {
    "text_to_image": ("width", "height", "dtype", "text_to_image", "refiner"),
    "image_to_image": ("width", "height", "dtype", "image_to_image"),
    "image_to_video": ("width", "height", "dtype", "image_to_video", "frames_per_segment", "decode_chunk_size", "fps",
                       "motion_bucket_id", "noise_aug_strength"),
    "connection": ("width", "height", "dtype", "connection", "connection_frames", "connection_size_multiple",
                   "connection_prompt"),
}


def check(profile="full", agents=None) -> list[str]:
    """Push meta tensors through the profile's real-size models as its agents wire them; one line per check.

    Uses the profile's own sizes (width x height, frames, decode chunk): on the meta device they cost nothing.
    Raises `WiringError` (or the pipeline's own ValueError, for added time ids) where two models do not fit.
    """
    lines = []
    for agent in agents or CHECKS:
        lines += _run(profile, agent)[0]
    return lines


_RUNS: dict[tuple, tuple[list, list]] = {}


def _run(profile, agent: str) -> tuple[list[str], list[Stage]]:
    """One agent's check, its lines and its measured stages; kept for the process while the profile settings it
    reads and the architectures it builds stay the same (`check` and `measure` share one run)."""
    global _RECORDING
    import torch

    from .config import get_profile

    profile = get_profile(profile)
    settings = tuple(getattr(profile, name) for name in _READS[agent])
    models = [getattr(profile, name) for name in ("text_to_image", "refiner", "image_to_image", "image_to_video",
                                                   "connection")]
    key = (agent, settings, repr([ARCHITECTURES.get(m.source) for m in models if m is not None]))
    if key not in _RUNS:
        _RECORDING = []
        try:
            with torch.no_grad():
                lines = CHECKS[agent](profile)
            _RUNS[key] = (lines, _RECORDING)
        finally:
            _RECORDING = None
    lines, stages = _RUNS[key]
    return list(lines), list(stages)


def measure(profile="full") -> list[Stage]:
    """The profile's agent steps with the peak bytes of live activations each holds, measured by running the
    wiring check on the meta device (shapes only; about 30 s, then kept for the process while the settings each
    agent reads stay the same)."""
    stages = []
    for agent in CHECKS:
        stages += _run(profile, agent)[1]
    return stages


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m moranb.realsize", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "count"])
    parser.add_argument("--profile", default="full", help="full or lowvram (the real models)")
    args = parser.parse_args(argv)

    def body():
        if args.command == "check":
            for line in check(args.profile):
                print("ok  " + line)
            print(f"wiring of profile '{args.profile}': all checks passed")
            return 0
        for source, components in ARCHITECTURES.items():
            for component, p in components.items():
                n = count(source, component)
                published = PUBLISHED.get((source, component))
                ref = f"  (published {published / 1e9:.3f} B)" if published else ""
                print(f"{p.about:40s} {n / 1e9:7.3f} B{ref}")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
