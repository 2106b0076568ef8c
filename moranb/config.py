"""Profiles: which models to load, where to run them and with which settings.

- `full`: the paper's models by Hugging Face id, fp16 on a GPU (mora-notes: SDXL base + refiner split at 0.8,
  1024x576, InstructPix2Pix, SVD-XT 25 frames x 3 segments at 7 fps, an instruct LLM, and LTX-Video for connection).
- `lowvram`: the same models for a 16 GB GPU: model CPU offload, VAE slicing, small decode chunks, a smaller LLM.
  Faster or leaner GPU paths are options of every profile: `offload="group"`, `vae_tiling`, `compile`,
  `first_block_cache` (see `Profile`).
- `tiny`: the very same classes built from small configs with random weights (see `moranb.tiny`), saved with
  `save_pretrained` into `moranb.tiny.tiny_root()` on first load and loaded back with `from_pretrained` like any
  real model; runs on a CPU in seconds.
- `mini`: the same classes again, trained by moranb on the MoraMini world (`moranb.mini`, 16x16 frames) and shipped
  in the package: a CPU makes videos that follow their captions.

A model is named by a Hugging Face id or a local directory; `moranb.models` loads both through one path.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .models import OFFLOAD, Model, bf16_supported  # noqa: F401 (Model and OFFLOAD are named with the profiles)
from .tiny import tiny_root


@dataclass(frozen=True)
class Profile:
    name: str
    device: str
    dtype: str
    # The agents' models.
    llm: Model
    text_to_image: Model
    refiner: Model | None
    image_to_image: Model
    image_to_video: Model
    connection: Model
    # A module the profile plugs into the agents and tasks, by name (the core imports no plugin): `mini`'s
    # "moranb.mini.plugin" writes the prompt agent's captions (prompt_backend "plugin"), gives the image-to-video
    # agent its motion buckets (its model takes the motion as its bucket) and the tasks the motion to animate with
    # (`motion_of`: the one the caption names, or the one its judge reads in a video). None: no plugin.
    plugin: str | None = None
    plugin_metrics: tuple[str, ...] = ()  # the metrics its plugin scores (`score(name, video, record)`)
    # Prompt agent: "transformers" (local LLM), "openai" (an OpenAI-compatible endpoint), "rule" (no model) or
    # "plugin" (the profile's plugin module).
    prompt_backend: str = "transformers"
    openai_base_url: str = "http://127.0.0.1:11434/v1"  # Ollama's default OpenAI-compatible endpoint
    openai_model: str = "llama3"
    llm_max_new_tokens: int = 120
    # Judges (data-free training): two multimodal LLMs, each picking the best of k candidate videos. Backend
    # "transformers" (local models), "openai" (an OpenAI-compatible server with a vision model; the names it is asked
    # for are judge_openai_models) or "metrics" (no model: the offline metric matching the criterion).
    judge_a: Model = Model("llava-hf/llava-onevision-qwen2-7b-ov-hf")
    judge_b: Model = Model("Qwen/Qwen2-VL-7B-Instruct", dtype="bfloat16")
    judge_backend: str = "transformers"
    judge_openai_models: tuple[str, str] = ("llava-onevision", "qwen2-vl")
    judge_max_new_tokens: int = 96  # {"best": N, "reason": "<one sentence>"} with room to spare
    # Text-to-image (SDXL base + refiner).
    width: int = 1024
    height: int = 576
    t2i_steps: int = 40
    refiner_split: float = 0.8  # base denoises the first 80 %, the refiner the rest
    t2i_guidance_scale: float = 5.0
    # Image-to-image (InstructPix2Pix).
    i2i_steps: int = 20
    i2i_guidance_scale: float = 7.5
    image_guidance_scale: float = 1.5
    # Image-to-video (SVD): a long video is `segments` segments of `frames_per_segment` frames.
    frames_per_segment: int = 25
    segments: int = 3
    i2v_steps: int = 25
    motion_bucket_id: int = 180
    noise_aug_strength: float = 0.1
    # Classifier-free guidance over the frames, rising from min to max (diffusers' SVD defaults).
    i2v_min_guidance: float = 1.0
    i2v_max_guidance: float = 3.0
    # Frames SVD's temporal VAE decodes at once: its activations are the largest of any step (moranb plan, full:
    # 13.5 GiB at 12 frames, 9.0 at 8), and 8 is what diffusers' SVD example uses.
    decode_chunk_size: int = 8
    fps: int = 7
    # Connection (LTX-Video conditioned on a first and a last frame); frames must be 8k+1.
    connection_frames: int = 17
    connection_steps: int = 40
    connection_guidance_scale: float = 3.0
    connection_prompt: str = "smooth transition"
    # A progress bar over each pipeline's denoising steps (minutes per stage on a GPU; noise on the tiny profile).
    step_progress: bool = True
    # GPU memory and speed, each measured by benchmarks/bench_gpu.py (time, memory) and benchmarks/bench_options.py
    # (what it does to the frames, on tiny). offload: one of OFFLOAD.
    offload: str = "none"
    vae_slicing: bool = False  # the VAE decodes one image (or video) of a batch at a time
    vae_tiling: bool = False  # ... and in overlapping tiles (SDXL, InstructPix2Pix and LTX-Video; SVD's temporal
    # VAE has no tiling: decode_chunk_size is its memory setting)
    compile: bool = False  # torch.compile of the denoisers (their repeated blocks, where the model names them)
    # First Block Cache (diffusers) on LTX-Video's transformer: a step whose first block's output changed less than
    # this (relative) reuses the previous step's other blocks. 0: off; diffusers suggests 0.05-0.2. The UNet agents
    # have no diffusers step cache (it needs a transformer's top-level block list).
    first_block_cache: float = 0.0
    # Limits checked before anything is allocated (a typo such as --frames 100000 fails in one line, not in the
    # allocator): frames of one generated video (segments x frames per segment) and pixels of one frame.
    max_frames: int = 1000
    max_pixels: int = 2048 * 2048
    # Sizes must be multiples of this (the VAE x UNet downsampling of every model in the profile).
    size_multiple: int = 8
    connection_size_multiple: int = 32
    # Fine-tuned agents (moranb.train): the `adapters` folder a fine-tuning run wrote. Every task then runs the
    # trained agents (LoRA weights and modulation tokens); None: the models as published.
    adapters: str | None = None
    # SDXL's VAE overflows in fp16, so diffusers decodes with it in float32 (its config's force_upcast): correct,
    # and the paper's model. A VAE named here replaces it in the base and the refiner, e.g. the fp16-fixed
    # Model("madebyollin/sdxl-vae-fp16-fix"), which decodes in fp16 (about half the decode's time and memory).
    sdxl_vae: Model | None = None

    def __post_init__(self):
        if self.offload not in OFFLOAD:
            raise InputError(f"unknown offload '{self.offload}'; choose one of {sorted(OFFLOAD)}")
        if not 0.0 <= self.first_block_cache < 1.0:
            raise InputError(f"first_block_cache is a relative threshold in [0, 1) (0: off, 0.05-0.2 typical); got "
                             f"{self.first_block_cache!r}")

    @property
    def offloads(self) -> bool:
        """Whether models leave the GPU between uses (on a CPU nothing is offloaded)."""
        return self.device != "cpu" and self.offload != "none"

    def plugin_module(self, needed_by: str | None = None):
        """The module named by `plugin`, imported; None where the profile names none (an error if `needed_by`, the
        feature that needs one, is given)."""
        if not self.plugin:
            if needed_by:
                raise InputError(f"{needed_by} needs a profile with a plugin (e.g. profile 'mini'); profile "
                                 f"'{self.name}' names none")
            return None
        try:
            return importlib.import_module(self.plugin)
        except ImportError as exc:
            raise InputError(f"profile '{self.name}' names plugin '{self.plugin}', which cannot be imported "
                             f"({exc}); fix the profile's plugin setting") from None

    def replace(self, **changes) -> "Profile":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"unknown profile setting(s) {sorted(unknown)}; see moranb.config.Profile for the names")
        return dataclasses.replace(self, **changes)


def full_profile() -> Profile:
    return Profile(
        name="full",
        device="cuda",
        dtype="float16",
        llm=Model("meta-llama/Meta-Llama-3-8B-Instruct"),
        text_to_image=Model("stabilityai/stable-diffusion-xl-base-1.0", variant="fp16"),
        refiner=Model("stabilityai/stable-diffusion-xl-refiner-1.0", variant="fp16"),
        image_to_image=Model("timbrooks/instruct-pix2pix"),
        image_to_video=Model("stabilityai/stable-video-diffusion-img2vid-xt", variant="fp16"),
        # LTX-Video and its T5-XXL text encoder are meant for bf16 (T5 overflows in fp16).
        connection=Model("Lightricks/LTX-Video-0.9.5", dtype="bfloat16"),
    )


def lowvram_profile() -> Profile:
    return full_profile().replace(
        name="lowvram",
        llm=Model("Qwen/Qwen2.5-1.5B-Instruct"),
        # The small siblings; fp16 for both, as a T4 has no bf16.
        judge_a=Model("llava-hf/llava-onevision-qwen2-0.5b-ov-hf"),
        judge_b=Model("Qwen/Qwen2-VL-2B-Instruct"),
        offload="model",
        vae_slicing=True,
        decode_chunk_size=2,
    )


def tiny_profile(root: str | os.PathLike | None = None) -> Profile:
    """The tiny models under `root` (default `moranb.tiny.tiny_root()`, where they are built on first load)."""
    root = Path(root) if root else tiny_root()
    return Profile(
        name="tiny",
        device="cpu",
        dtype="float32",
        llm=Model(str(root / "llm")),
        text_to_image=Model(str(root / "sdxl-base")),
        refiner=Model(str(root / "sdxl-refiner")),
        image_to_image=Model(str(root / "instruct-pix2pix")),
        image_to_video=Model(str(root / "svd-xt")),
        connection=Model(str(root / "ltx-video")),
        # A random-weight LLM writes noise; the rule-based enhancer keeps tiny prompts readable. The tiny LLM is
        # still built and runs with prompt_backend="transformers".
        prompt_backend="rule",
        llm_max_new_tokens=16,
        # Likewise random-weight judges answer noise (every answer an abstention); the metrics judge picks for real.
        # The tiny judges still build and run with judge_backend="transformers".
        judge_a=Model(str(root / "llava-onevision")),
        judge_b=Model(str(root / "qwen2-vl")),
        judge_backend="metrics",
        judge_max_new_tokens=16,
        width=96,
        height=64,
        t2i_steps=4,
        i2i_steps=3,
        frames_per_segment=8,
        segments=3,
        i2v_steps=3,
        decode_chunk_size=4,
        fps=8,
        connection_frames=9,
        connection_steps=3,
        step_progress=False,
    )


MINI_WEIGHTS = Path(__file__).parent / "mini" / "weights"


def mini_profile() -> Profile:
    """MoraMini's agents (`moranb.mini`): the same pipeline classes as `tiny`, trained by moranb on the mini world
    (16x16 frames, 8 per clip) and shipped in the package, so a CPU makes videos that follow their captions.

    Text-to-image (SDXL's pipeline, no refiner), image-to-video (SVD's, the motion as its motion bucket) and
    image-to-image (InstructPix2Pix's) are trained; the prompt agent writes captions in the world's grammar
    (backend "mini"). The connection agent is the tiny profile's random-weight LTX-Video: not trained for the
    world yet, so its transitions are noise. Every agent loads through `from_pretrained` like any other profile.
    """
    return tiny_profile().replace(
        name="mini",
        text_to_image=Model(str(MINI_WEIGHTS / "text_to_image")),
        refiner=None,
        image_to_image=Model(str(MINI_WEIGHTS / "image_to_image")),
        image_to_video=Model(str(MINI_WEIGHTS / "image_to_video")),
        plugin="moranb.mini.plugin",
        plugin_metrics=("mini_judge",),
        prompt_backend="plugin",
        width=16,
        height=16,
        t2i_steps=25,
        t2i_guidance_scale=2.0,
        i2i_steps=25,
        i2i_guidance_scale=3.0,
        image_guidance_scale=1.5,
        frames_per_segment=8,
        segments=2,
        i2v_steps=12,
        noise_aug_strength=0.02,
        i2v_max_guidance=1.0,
        decode_chunk_size=8,
        fps=8,
    )


PROFILES = {"tiny": tiny_profile, "mini": mini_profile, "full": full_profile, "lowvram": lowvram_profile}


def get_profile(profile: "str | Profile" = "tiny", **overrides) -> Profile:
    """A profile by name, with optional setting overrides. A lookup: nothing is loaded or built here (the tiny
    models are built where they are first loaded, see `moranb.models.from_pretrained`)."""
    if isinstance(profile, Profile):
        chosen = profile
    elif profile in PROFILES:
        chosen = PROFILES[profile]()
    else:
        raise InputError(f"unknown profile '{profile}'; choose one of {sorted(PROFILES)}")
    return chosen.replace(**overrides) if overrides else chosen
