"""Profiles: which models to load, where to run them and with which settings.

- `full`: the paper's models by Hugging Face id, fp16 on a GPU (mora-notes: SDXL base + refiner split at 0.8,
  1024x576, InstructPix2Pix, SVD-XT 25 frames x 3 segments at 7 fps, an instruct LLM, and LTX-Video for connection).
- `lowvram`: the same models for a 16 GB GPU: model CPU offload, VAE slicing, small decode chunks, a smaller LLM.
- `colab`: `lowvram`'s models for a free Colab T4 (15 GiB GPU, 12.7 GB CPU, no bfloat16): float16 throughout,
  one model resident at a time, loaded straight onto the GPU (see `colab_profile`).
  Faster or leaner GPU paths are options of every profile: `offload="group"`, `vae_tiling`, `compile`,
  `first_block_cache` (see `Profile`).
- `wan`, `wan16`: Mora's roles on today's open video models (the Wan family) for one 80 GB GPU and for a 16 GB
  one: Wan 2.2 I2V-A14B / TI2V-5B animate, Wan 2.1 FLF2V-14B / VACE-1.3B connect, VACE extends and edits (see
  `wan_profile`, `wan16_profile`); `tiny-wan`, `tiny-wan16`: their classes at the tiny scale.
- `tiny`: the very same classes built from small configs with random weights (see `moranb.tiny`), saved with
  `save_pretrained` into `moranb.tiny.tiny_root()` on first load and loaded back with `from_pretrained` like any
  real model; runs on a CPU in seconds.
- `mini`: the same classes again, trained by moranb on the MoraMini world (`moranb.mini`, 16x16 frames) and shipped
  in the package: a CPU makes videos that follow their captions.

A profile holds what is shared (device, dtype, frame size and fps, GPU memory options, limits, fine-tuned adapters,
a plugin) and one small settings dataclass per agent role (`prompt`, `text_to_image`, `image_to_image`,
`image_to_video`, `connection`, `judge`), each with the model(s) that role loads. Override either kind by name:
`get_profile("tiny", width=64, image_to_video=dict(segments=2))`. A profile is one function here.

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
class PromptSettings:
    """The prompt agent (`moranb.agents.prompt`)."""

    model: Model  # the local LLM (backend "transformers")
    # "transformers" (local LLM), "openai" (an OpenAI-compatible endpoint, `Profile.openai_base_url`), "rule" (no
    # model) or "plugin" (the profile's plugin module).
    backend: str = "transformers"
    openai_model: str = "llama3"
    max_new_tokens: int = 120


@dataclass(frozen=True)
class TextToImageSettings:
    """SDXL base + refiner (`moranb.agents.text_to_image`)."""

    model: Model
    refiner: Model | None
    steps: int = 40
    refiner_split: float = 0.8  # base denoises the first 80 %, the refiner the rest
    guidance_scale: float = 5.0
    # SDXL's VAE overflows in fp16, so diffusers decodes with it in float32 (its config's force_upcast): correct,
    # and the paper's model. A VAE named here replaces it in the base and the refiner, e.g. the fp16-fixed
    # Model("madebyollin/sdxl-vae-fp16-fix"), which decodes in fp16 (about half the decode's time and memory).
    vae: Model | None = None


@dataclass(frozen=True)
class ImageToImageSettings:
    """InstructPix2Pix (`moranb.agents.image_to_image`)."""

    model: Model
    steps: int = 20
    # Classifier-free guidance on the instruction, and on the input image (higher: the edit keeps more of it).
    guidance_scale: float = 7.5
    image_guidance_scale: float = 1.5


@dataclass(frozen=True)
class ImageToVideoSettings:
    """SVD or Wan (`moranb.agents.image_to_video`): a long video is `segments` segments of `frames_per_segment`
    frames."""

    model: Model
    # The diffusers pipeline `model` is: "StableVideoDiffusionPipeline" (SVD: image only, the settings below) or
    # "WanImageToVideoPipeline" (Wan 2.2 I2V-A14B, TI2V-5B: image and prompt, `guidance_scale`; 4k+1 frames).
    pipeline: str = "StableVideoDiffusionPipeline"
    frames_per_segment: int = 25
    segments: int = 3
    steps: int = 25
    # SVD's micro-conditioning: how much motion (its model card's default, 127, moves less), and the noise added to
    # the conditioning frame (more: less like it).
    motion_bucket_id: int = 180
    noise_aug_strength: float = 0.1
    # Classifier-free guidance over the frames, rising from min to max (diffusers' SVD defaults).
    min_guidance: float = 1.0
    max_guidance: float = 3.0
    # Frames SVD's temporal VAE decodes at once: its activations are the largest of any step (moranb plan, full:
    # 13.5 GiB at 12 frames, 9.0 at 8), and 8 is what diffusers' SVD example uses. SVD's temporal VAE has no
    # slicing or tiling: this is its memory setting.
    decode_chunk_size: int = 8
    # Wan: classifier-free guidance on the prompt, and what a segment is asked to show where its task gives no
    # prompt (an extension without one).
    guidance_scale: float = 5.0
    prompt: str = "natural, smooth motion"
    # VACE (Wan 2.1 VACE, `WanVACEPipeline`): where named, extension and editing can take the route "vace": a
    # video made around frames it is given (the input's last `vace_context` frames; the edited first frame with
    # the input's frames under the mask), instead of the paper's route from one frame. None: first-frame only.
    vace: Model | None = None
    vace_context: int = 8


@dataclass(frozen=True)
class ConnectionSettings:
    """A model conditioned on a first and a last frame (`moranb.agents.connection`): LTX-Video (frames 8k+1) or a
    Wan model (frames 4k+1)."""

    model: Model
    # The diffusers pipeline `model` is: "LTXConditionPipeline" (LTX-Video), "WanImageToVideoPipeline" (Wan 2.1
    # FLF2V-14B, given `last_image`) or "WanVACEPipeline" (Wan 2.1 VACE, the two frames kept by its mask).
    pipeline: str = "LTXConditionPipeline"
    frames: int = 17  # made; the two given frames are dropped from them
    steps: int = 40
    guidance_scale: float = 3.0
    # What the transition shows where a task is given no prompt.
    prompt: str = "smooth transition"
    size_multiple: int = 32  # sizes LTX-Video takes (its VAE's 32x downsampling)


@dataclass(frozen=True)
class JudgeSettings:
    """The judges of data-free training (`moranb.agents.judge`): two multimodal LLMs, each picking the best of k
    candidate videos. Backend "transformers" (local models), "openai" (an OpenAI-compatible server with a vision
    model; the names it is asked for are `openai_models`), "metrics" (no model: the offline metric matching the
    criterion) or "plugin" (the profile plugin's judges: the `mini` profile's)."""

    a: Model = Model("llava-hf/llava-onevision-qwen2-7b-ov-hf")
    b: Model = Model("Qwen/Qwen2-VL-7B-Instruct", dtype="bfloat16")
    backend: str = "transformers"
    openai_models: tuple[str, str] = ("llava-onevision", "qwen2-vl")
    max_new_tokens: int = 96  # {"best": N, "reason": "<one sentence>"} with room to spare


ROLE_SETTINGS = {"prompt": PromptSettings, "text_to_image": TextToImageSettings, "image_to_image": ImageToImageSettings,
                 "image_to_video": ImageToVideoSettings, "connection": ConnectionSettings, "judge": JudgeSettings}
# Each model a profile names, by the name the agents, adapters, plans and error messages use for it: (the role's
# settings, the field of them holding the model).
MODELS = {"llm": ("prompt", "model"), "text_to_image": ("text_to_image", "model"),
          "refiner": ("text_to_image", "refiner"), "sdxl_vae": ("text_to_image", "vae"),
          "image_to_image": ("image_to_image", "model"), "image_to_video": ("image_to_video", "model"),
          "vace": ("image_to_video", "vace"), "connection": ("connection", "model"), "judge_a": ("judge", "a"),
          "judge_b": ("judge", "b")}


@dataclass(frozen=True)
class Profile:
    name: str
    device: str
    dtype: str
    # One settings dataclass per agent role, each with its model(s).
    prompt: PromptSettings
    text_to_image: TextToImageSettings
    image_to_image: ImageToImageSettings
    image_to_video: ImageToVideoSettings
    connection: ConnectionSettings
    judge: JudgeSettings = JudgeSettings()
    # A module the profile plugs into the agents and tasks, by name (the core imports no plugin): `mini`'s
    # "moranb.mini.plugin" writes the prompt agent's captions (prompt backend "plugin"), gives the image-to-video
    # agent its motion buckets (its model takes the motion as its bucket) and the tasks the motion to animate with
    # (`motion_of`: the one the caption names, or the one its judge reads in a video). None: no plugin.
    plugin: str | None = None
    plugin_metrics: tuple[str, ...] = ()  # the metrics its plugin scores (`score(name, video, record)`)
    # The OpenAI-compatible endpoint of the prompt agent's and the judges' "openai" backends (Ollama's default).
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    # What every generated frame shares.
    width: int = 1024
    height: int = 576
    fps: int = 7
    # A progress bar over each pipeline's denoising steps (minutes per stage on a GPU; noise on the tiny profile).
    step_progress: bool = True
    # GPU memory and speed, each measured by benchmarks/bench_gpu.py (time, memory) and benchmarks/bench_options.py
    # (what it does to the frames, on tiny). offload: one of OFFLOAD.
    offload: str = "none"
    vae_slicing: bool = False  # the VAE decodes one image (or video) of a batch at a time
    vae_tiling: bool = False  # ... and in overlapping tiles (SDXL, InstructPix2Pix and LTX-Video; SVD's temporal
    # VAE has no tiling: image_to_video.decode_chunk_size is its memory setting)
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
    # Agents trained for one frame size and one clip length only (mini: 16x16, 8 frames): any other is refused in
    # one line instead of making blobs. None: any size and length the limits allow.
    trained_size: tuple[int, int] | None = None
    trained_frames: int | None = None
    # Fine-tuned agents (moranb.train): the `adapters` folder a fine-tuning run wrote. Every task then runs the
    # trained agents (LoRA weights and modulation tokens); None: the models as published.
    adapters: str | None = None

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

    def model(self, name: str) -> Model | None:
        """The model the profile names `name` (a key of `MODELS`: "text_to_image", "refiner", "llm", "judge_a", ...)."""
        role, field = MODELS[name]
        return getattr(getattr(self, role), field)

    def with_model(self, name: str, model: Model | None) -> "Profile":
        """This profile with `model` as its model `name` (see `model`)."""
        role, field = MODELS[name]
        return self.replace(**{role: {field: model}})

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
        """This profile with `changes`: shared settings by name (`width=64`), a role's settings as a dict of its
        fields (`image_to_video=dict(segments=2)`) or whole (`image_to_video=ImageToVideoSettings(...)`)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"unknown profile setting(s) {sorted(unknown)}; see moranb.config.Profile for the names "
                             f"(a role's settings go in a dict: image_to_video=dict(segments=2))")
        for role, value in changes.items():
            if role in ROLE_SETTINGS and isinstance(value, dict):
                settings = ROLE_SETTINGS[role]
                wrong = set(value) - {f.name for f in dataclasses.fields(settings)}
                if wrong:
                    raise InputError(f"unknown {role} setting(s) {sorted(wrong)}; see moranb.config."
                                     f"{settings.__name__} for the names")
                changes[role] = dataclasses.replace(getattr(self, role), **value)
        return dataclasses.replace(self, **changes)


def full_profile() -> Profile:
    return Profile(
        name="full",
        device="cuda",
        dtype="float16",
        prompt=PromptSettings(Model("meta-llama/Meta-Llama-3-8B-Instruct")),
        text_to_image=TextToImageSettings(
            Model("stabilityai/stable-diffusion-xl-base-1.0", variant="fp16"),
            refiner=Model("stabilityai/stable-diffusion-xl-refiner-1.0", variant="fp16")),
        image_to_image=ImageToImageSettings(Model("timbrooks/instruct-pix2pix")),
        image_to_video=ImageToVideoSettings(Model("stabilityai/stable-video-diffusion-img2vid-xt", variant="fp16")),
        # LTX-Video and its T5-XXL text encoder are meant for bf16 (T5 overflows in fp16).
        connection=ConnectionSettings(Model("Lightricks/LTX-Video-0.9.5", dtype="bfloat16")),
    )


def lowvram_profile() -> Profile:
    return full_profile().replace(
        name="lowvram",
        prompt=dict(model=Model("Qwen/Qwen2.5-1.5B-Instruct")),
        # The small siblings; fp16 for both, as a T4 has no bf16.
        judge=dict(a=Model("llava-hf/llava-onevision-qwen2-0.5b-ov-hf"), b=Model("Qwen/Qwen2-VL-2B-Instruct")),
        offload="model",
        vae_slicing=True,
        image_to_video=dict(decode_chunk_size=2),
    )


def colab_profile() -> Profile:
    """A free Colab T4: 15 GiB of GPU memory, 12.7 GB of CPU memory, no bfloat16 (`moranb plan --profile colab
    --gpu-gb 15 --ram-gb 12.7`).

    `lowvram`'s models, all in float16: the fp16-safe SDXL VAE (no float32 decode), LTX-Video in float16 (its T5-XXL
    keeps its feed-forward output layers in float32, as transformers does for T5 in fp16, where it would overflow).
    One model resident at a time (offload "sequential"): each loads from its memory-mapped safetensors straight onto
    the GPU when its stage starts and is freed when the next loads, so the CPU never holds the weights that
    `lowvram`'s model offload parks there (35 GiB); LTX-Video's T5-XXL encodes the prompt alone, before its
    transformer loads. The price: a model is read from disk again each time its stage comes round.
    """
    return lowvram_profile().replace(
        name="colab",
        dtype="float16",
        offload="sequential",
        vae_slicing=True,
        vae_tiling=True,
        text_to_image=dict(vae=Model("madebyollin/sdxl-vae-fp16-fix")),
        connection=dict(model=Model("Lightricks/LTX-Video-0.9.5", dtype="float16")),
    )


def wan_profile() -> Profile:
    """Mora on today's open video models, for one 80 GB GPU (A100/H100 80 GB; `moranb plan --profile wan --gpu-gb
    80`): Wan 2.2 I2V-A14B animates (two 14B experts, high and low noise), Wan 2.1 FLF2V-14B connects (first and last
    frame), Wan 2.1 VACE-14B extends and edits (route "vace"); SDXL and InstructPix2Pix keep the image roles and
    Qwen2.5-7B-Instruct writes the prompts. The Wan models in bfloat16 as published, 1280x720 at 16 fps (Wan's
    720p), 81 frames a segment. One pipeline on the GPU at a time, loaded straight onto it (offload
    "sequential"): I2V-A14B's two experts and UMT5 are 64 GiB together and fit an 80 GB GPU; model offload would park
    every model's weights in CPU memory instead (177 GiB, `moranb plan`)."""
    wan = dict(dtype="bfloat16")
    return full_profile().replace(
        name="wan",
        prompt=dict(model=Model("Qwen/Qwen2.5-7B-Instruct")),
        image_to_video=ImageToVideoSettings(
            Model("Wan-AI/Wan2.2-I2V-A14B-Diffusers", **wan), pipeline="WanImageToVideoPipeline",
            frames_per_segment=81, segments=2, steps=40, guidance_scale=3.5,
            vace=Model("Wan-AI/Wan2.1-VACE-14B-diffusers", **wan)),
        connection=ConnectionSettings(Model("Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers", **wan),
                                      pipeline="WanImageToVideoPipeline", frames=33, steps=40, guidance_scale=5.0,
                                      size_multiple=16),
        width=1280, height=720, fps=16, size_multiple=16,
        offload="sequential", vae_tiling=True,
    )


def wan16_profile() -> Profile:
    """Mora on today's open video models, for a 16 GB consumer GPU (`moranb plan --profile wan16 --gpu-gb 16`): Wan
    2.2 TI2V-5B animates (the Wan 2.2 VAE, 16x), Wan 2.1 VACE-1.3B connects, extends and edits; `lowvram`'s image
    roles, prompt LLM and judges. 832x480 at 16 fps, 81 frames a segment, VAE tiling. One model on the GPU at a time
    (offload "sequential"), each Wan model's UMT5-XXL (10.6 GiB) encoding the prompt before its transformer loads:
    so the CPU holds no parked weights (model offload would park 52 GiB there, `moranb plan`)."""
    wan = dict(dtype="bfloat16")
    return lowvram_profile().replace(
        name="wan16",
        image_to_video=ImageToVideoSettings(
            Model("Wan-AI/Wan2.2-TI2V-5B-Diffusers", **wan), pipeline="WanImageToVideoPipeline",
            frames_per_segment=81, segments=2, steps=40, guidance_scale=5.0,
            vace=Model("Wan-AI/Wan2.1-VACE-1.3B-diffusers", **wan)),
        connection=ConnectionSettings(Model("Wan-AI/Wan2.1-VACE-1.3B-diffusers", **wan), pipeline="WanVACEPipeline",
                                      frames=33, steps=40, guidance_scale=5.0, size_multiple=16),
        width=832, height=480, fps=16, size_multiple=32,
        offload="sequential", vae_tiling=True,
    )


def tiny_profile(root: str | os.PathLike | None = None) -> Profile:
    """The tiny models under `root` (default `moranb.tiny.tiny_root()`, where they are built on first load)."""
    root = Path(root) if root else tiny_root()
    return Profile(
        name="tiny",
        device="cpu",
        dtype="float32",
        # A random-weight LLM writes noise; the rule-based enhancer keeps tiny prompts readable. The tiny LLM is
        # still built and runs with backend "transformers".
        prompt=PromptSettings(Model(str(root / "llm")), backend="rule", max_new_tokens=16),
        text_to_image=TextToImageSettings(Model(str(root / "sdxl-base")), refiner=Model(str(root / "sdxl-refiner")),
                                          steps=4),
        image_to_image=ImageToImageSettings(Model(str(root / "instruct-pix2pix")), steps=3),
        image_to_video=ImageToVideoSettings(Model(str(root / "svd-xt")), frames_per_segment=8, segments=3, steps=3,
                                            decode_chunk_size=4),
        connection=ConnectionSettings(Model(str(root / "ltx-video")), frames=9, steps=3),
        # Likewise random-weight judges answer noise (every answer an abstention); the metrics judge picks for real.
        # The tiny judges still build and run with backend "transformers".
        judge=JudgeSettings(a=Model(str(root / "llava-onevision")), b=Model(str(root / "qwen2-vl")), backend="metrics",
                            max_new_tokens=16),
        width=96,
        height=64,
        fps=8,
        step_progress=False,
    )


def tiny_wan_profile(root: str | os.PathLike | None = None) -> Profile:
    """`wan`'s classes at the tiny scale (random weights, a CPU, seconds): Wan 2.2 I2V's two experts, FLF2V (with
    its CLIP image encoder), VACE; `tiny`'s image roles."""
    root = Path(root) if root else tiny_root()
    return tiny_profile(root).replace(
        name="tiny-wan",
        image_to_video=dict(model=Model(str(root / "wan-i2v-a14b")), pipeline="WanImageToVideoPipeline",
                            frames_per_segment=9, segments=2, steps=3, vace=Model(str(root / "wan-vace")),
                            vace_context=4),
        connection=dict(model=Model(str(root / "wan-flf2v")), pipeline="WanImageToVideoPipeline", frames=9, steps=3,
                        size_multiple=16),
        size_multiple=16,
    )


def tiny_wan16_profile(root: str | os.PathLike | None = None) -> Profile:
    """`wan16`'s classes at the tiny scale: TI2V (the Wan 2.2 VAE) and VACE."""
    root = Path(root) if root else tiny_root()
    return tiny_wan_profile(root).replace(
        name="tiny-wan16",
        image_to_video=dict(model=Model(str(root / "wan-ti2v-5b"))),
        connection=dict(model=Model(str(root / "wan-vace")), pipeline="WanVACEPipeline"),
        size_multiple=32,
    )


MINI_WEIGHTS = Path(__file__).parent / "mini" / "weights"


def mini_profile() -> Profile:
    """MoraMini's agents (`moranb.mini`): the same pipeline classes as `tiny`, trained by moranb on the mini world
    (16x16 frames, 8 per clip) and shipped in the package, so a CPU makes videos that follow their captions.

    Text-to-image (SDXL's pipeline, no refiner), image-to-video (SVD's, the motion as its motion bucket),
    image-to-image (InstructPix2Pix's) and connection (LTX-Video's condition pipeline, on the world's transitions) are
    trained; the prompt agent writes captions in the world's grammar (its plugin, `moranb.mini.plugin`). Every agent
    loads through `from_pretrained` like any other profile.
    """
    return tiny_profile().replace(
        name="mini",
        plugin="moranb.mini.plugin",
        plugin_metrics=("mini_judge",),
        prompt=dict(backend="plugin"),
        judge=dict(backend="plugin"),  # the trained mini judge and pixel rules (moranb.mini.judging)
        text_to_image=dict(model=Model(str(MINI_WEIGHTS / "text_to_image")), refiner=None, steps=25,
                           guidance_scale=2.0),
        image_to_image=dict(model=Model(str(MINI_WEIGHTS / "image_to_image")), steps=25, guidance_scale=3.0,
                            image_guidance_scale=1.5),
        image_to_video=dict(model=Model(str(MINI_WEIGHTS / "image_to_video")), frames_per_segment=8, segments=2,
                            steps=12, noise_aug_strength=0.02, max_guidance=1.0, decode_chunk_size=8),
        # Trained without dropping its one prompt, so no classifier-free guidance (1.0 skips the second pass).
        connection=dict(model=Model(str(MINI_WEIGHTS / "connection")), frames=9, steps=16, guidance_scale=1.0),
        width=16,
        height=16,
        trained_size=(16, 16),
        trained_frames=8,
        fps=8,
    )


PROFILES = {"tiny": tiny_profile, "mini": mini_profile, "full": full_profile, "lowvram": lowvram_profile,
            "colab": colab_profile, "wan": wan_profile, "wan16": wan16_profile, "tiny-wan": tiny_wan_profile,
            "tiny-wan16": tiny_wan16_profile}


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
