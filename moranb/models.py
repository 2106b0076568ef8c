"""One loading path for every model: `from_pretrained` on a Hugging Face id or a local directory.

Loaded models are kept for the life of the process, keyed by class, source, device and dtype, so every task and
every agent that needs the same model reuses one copy. `clear()` frees them (between notebooks on a small GPU).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import _compat, adapters, tiny
from .errors import DeviceError, InputError, ModelNotAvailableError

if TYPE_CHECKING:  # a profile is read here, never built: moranb.config sits above this module
    from .config import Profile

_LOADED: dict[tuple, object] = {}
TinyBuilds = dict  # folder name -> a function that builds that tiny model into a folder (moranb.agents.<role>.tiny)


@dataclass(frozen=True)
class Model:
    source: str  # a Hugging Face id or a local directory
    variant: str | None = None  # e.g. "fp16" weights on the hub
    dtype: str | None = None  # overrides the profile's dtype for this model (e.g. bfloat16 where fp16 overflows)
    # Weights are read from safetensors only: a pickled .bin/.pt can run code when loaded. True allows them, for a
    # model you trust that ships no safetensors.
    allow_pickle: bool = False

    def torch_dtype(self, profile: "Profile"):
        """The dtype this model is loaded in: its own, else the profile's. bfloat16 on a CUDA GPU without native
        bfloat16 (a T4, compute capability 7.5) becomes float32: emulated bf16 is very slow and fp16 is what bf16
        was chosen to avoid (T5 overflows in it). `moranb.models.load` then streams the model through the GPU
        (group offload) where the profile offloads, since float32 doubles its weights."""
        import torch

        name = self.dtype or profile.dtype
        if name == "bfloat16" and profile.device.startswith("cuda") and not bf16_supported():
            return torch.float32
        return getattr(torch, name)


def bf16_supported() -> bool:
    """Whether this machine's CUDA GPU computes in bfloat16 natively (Ampere and later); True where no CUDA GPU
    is visible (nothing to fall back for: the profile's device check fails first)."""
    import torch

    if not torch.cuda.is_available():
        return True
    return torch.cuda.is_bf16_supported(including_emulation=False)


OFFLOAD = {
    "none": "every model on the GPU, kept loaded for the process",
    "model": "model CPU offload: one model on the GPU at a time (diffusers' enable_model_cpu_offload)",
    "group": "group offload: layers streamed onto the GPU one ahead of use on a CUDA stream (diffusers' "
             "enable_group_offload, leaf level); the least GPU memory",
    "sequential": "one model resident at a time: each is loaded from its memory-mapped safetensors straight onto "
                  "the GPU when its stage starts and freed when the next one loads; the CPU keeps no copy (Colab)",
}


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached (no DNS, no route), found in a second rather than after minutes of retries.

    Behind a proxy the direct connection says nothing, so there the download itself decides.
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=5).close()
        return None
    except OSError as exc:
        return f"the hub ({endpoint.hostname}:{port}) cannot be reached: {type(exc).__name__}"


def _not_available(model: Model, field: str, exc: Exception, fix: str | None = None,
                   why: str | None = None) -> ModelNotAvailableError:
    if not model.allow_pickle and "safetensors" in str(exc):  # there, but only as pickles
        return _pickled(model, field)
    where = why or ("this machine is offline (HF_HUB_OFFLINE=1)" if _is_offline() else "it could not be downloaded")
    return ModelNotAvailableError(
        f"model '{model.source}' is not in the local Hugging Face cache and {where}: download it where there is "
        f"network (`huggingface-cli download {model.source}`) or point at a local copy, e.g. "
        f"{fix or _profile_fix(field, repr('/path/to/dir'))}  [{type(exc).__name__}]"
    )


def _profile_fix(field: str, model_args: str) -> str:
    """The Python that points a profile's model `field` at another model (valid Python: `field` is a name of
    `moranb.config.MODELS`)."""
    return f"get_profile('full').with_model('{field}', Model({model_args}))"


def from_pretrained(cls, model: Model, field: str, fix: str | None = None, tiny_builds: TinyBuilds | None = None,
                    **kwargs):
    """`cls.from_pretrained(model.source, ...)`, with the user-facing error when a hub id cannot be had.

    `field` is the name of the model in the profile (`moranb.config.MODELS`); a model no profile names (the
    evaluation's) passes `fix`, the Python that points it elsewhere, for the error message. Models and pipelines
    are loaded with `use_safetensors=True` unless `model.allow_pickle` (tokenizers and processors hold no weights
    and take no such option). `tiny_builds`: the agent's tiny models by folder name (its role's home, `moranb.agents.<role>.tiny`); a
    missing folder of that name under `moranb.tiny.tiny_root()` is built here, where it is first needed.
    """
    source = model.source
    if model.variant:
        kwargs["variant"] = model.variant
    if _holds_weights(cls) and not model.allow_pickle:
        kwargs["use_safetensors"] = True
    local_dir = Path(source).expanduser()
    builder = (tiny_builds or {}).get(local_dir.name)
    if builder and not local_dir.is_dir() and local_dir.parent == tiny.tiny_root():
        tiny.build(local_dir, builder)
    if local_dir.is_dir():
        try:
            return cls.from_pretrained(str(local_dir), **kwargs)
        except (OSError, ValueError):
            if kwargs.get("use_safetensors") and _only_pickles(local_dir):
                raise _pickled(model, field, fix) from None
            raise
    if source.startswith(("/", ".", "~")):
        raise ModelNotAvailableError(
            f"model directory '{source}' does not exist; build it (tiny profile: moranb.agents.ensure_tiny_models) "
            f"or fix the path in the profile's '{field}'"
        )
    try:  # the local cache first: no network round trip when the model is already there
        return cls.from_pretrained(source, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        if _is_offline():
            raise _not_available(model, field, exc, fix) from None
        if why := _hub_unreachable():
            raise _not_available(model, field, exc, fix, why) from None
    try:
        return cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise _not_available(model, field, exc, fix) from None


def _holds_weights(cls) -> bool:
    """A model or pipeline class (which takes `use_safetensors`), as opposed to a tokenizer or processor."""
    import torch

    if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
        return True
    try:
        from diffusers import DiffusionPipeline

        if isinstance(cls, type) and issubclass(cls, DiffusionPipeline):
            return True
    except ImportError:
        pass
    # Fails closed: where transformers' Auto base class cannot be found, _compat raises instead of letting an Auto
    # class load without use_safetensors.
    return isinstance(cls, type) and issubclass(cls, _compat.auto_model_class())


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def _only_pickles(folder: Path) -> bool:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return (any(p.suffix in PICKLE_SUFFIXES for p in files)
            and not any(p.suffix == ".safetensors" for p in files))


def _pickled(model: Model, field: str, fix: str | None = None) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"model '{model.source}' holds only pickled weights (.bin/.pt), which can run code when loaded, and no "
        f".safetensors; convert it, or if you trust it allow pickles (Model's allow_pickle option), e.g. "
        f"{fix or _profile_fix(field, f'{model.source!r}, allow_pickle=True')}"
    )


def load(cls, model: Model, profile: Profile, field: str, tiny_builds: TinyBuilds | None = None, **components):
    """A diffusers pipeline of class `cls` from `model`, placed for `profile` (device, dtype, offload, slicing),
    with the profile's fine-tuned adapters applied where they trained this agent (`moranb.adapters`).

    `components` are modules shared with another pipeline (the SDXL refiner takes the base's VAE and second text
    encoder); they are part of the cache key. `tiny_builds`: see `from_pretrained`.
    """
    adapted = None
    # An agent the adapters did not train shares the base profile's pipeline; retrained adapters: a new pipeline.
    if profile.adapters and adapters.trained(profile.adapters, field):
        adapted = (str(profile.adapters), adapters.fingerprint(profile.adapters))
    placement = tuple(getattr(profile, name) for name in PLACEMENT)
    key = (cls.__name__, model, profile.device, profile.dtype, placement, adapted,
           tuple(sorted((k, id(v)) for k, v in components.items())))

    def build():
        import torch

        check_device(profile)
        dtype = model.torch_dtype(profile)
        pipe = from_pretrained(cls, model, field, tiny_builds=tiny_builds, dtype=dtype, **_straight_to(profile),
                               **components)
        if adapted:
            adapters.apply_adapters(pipe, field, profile)
        offload = profile.offload
        if (model.dtype or profile.dtype) == "bfloat16" and dtype == torch.float32:  # a GPU without bf16
            offload = "group" if offload == "model" else offload
            warnings.warn(f"{field}: this GPU has no native bfloat16, so '{model.source}' runs in float32"
                          + (" and is streamed through the GPU (group offload)" if offload == "group" else ""),
                          stacklevel=2)
        _place(pipe, profile, offload)
        _speed_up(pipe, profile)
        pipe.set_progress_bar_config(disable=not profile.step_progress, desc=field, leave=False)
        return pipe

    return cached(key, build, alone=profile.offload == "sequential", keep=components.values())


def load_llm(model: Model, profile: Profile, tiny_builds: TinyBuilds | None = None):
    """(tokenizer, causal LM) for the prompt agent's transformers backend."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # With model or group offload the GPU is left to the diffusion models and the prompt LLM runs on the CPU; with
    # sequential it takes the GPU in its turn, like every model.
    place = "cpu" if profile.device == "cpu" or (profile.offloads and profile.offload != "sequential") \
        else profile.device
    return _load_transformers("causal-lm", AutoTokenizer, AutoModelForCausalLM, model, profile, "llm", place,
                              tiny_builds)


def load_vlm(model: Model, profile: Profile, field: str = "judge_a", tiny_builds: TinyBuilds | None = None):
    """(processor, image-text-to-text model) for a judge's transformers backend (LLaVA-OneVision, Qwen2-VL, ...).

    Kept on the CPU and moved onto the profile's GPU only while it judges (`on_device`): a data-free round
    alternates generation and judging, and the two 7-8 B judges (30 GiB in `full`) beside the resident diffusion
    models would not fit an 80 GiB GPU; moving 15 GiB takes about a second, a set's videos minutes.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return _load_transformers("vlm", AutoProcessor, AutoModelForImageTextToText, model, profile, field, "cpu",
                              tiny_builds)


@contextmanager
def on_device(network, profile: Profile):
    """`network` on the profile's device for the block, back on the CPU after (nothing moves on a CPU profile)."""
    if profile.device == "cpu":
        yield network
        return
    network.to(profile.device)
    try:
        yield network
    finally:
        network.to("cpu")
        import torch

        torch.cuda.empty_cache()


def load_model(cls, model: Model, profile: Profile, field: str):
    """One model (not a pipeline) of class `cls`, e.g. a VAE that replaces a pipeline's own; placed by the pipeline
    it joins."""
    return cached((cls.__name__, model, profile.device, profile.dtype),
                  lambda: from_pretrained(cls, model, field, dtype=model.torch_dtype(profile), **_straight_to(profile)))


def _straight_to(profile: Profile) -> dict:
    """With offload "sequential" on a GPU: load onto it from the memory-mapped safetensors (`device_map`), without a
    copy in CPU memory; the pipeline so loaded refuses .to(), so a model joining it comes the same way."""
    return {"device_map": profile.device} if profile.offload == "sequential" and profile.device != "cpu" else {}


def _load_transformers(kind: str, preprocessor_cls, model_cls, model: Model, profile: Profile, field: str, place: str,
                       tiny_builds: TinyBuilds | None):
    def build():
        check_device(profile)
        preprocessor = from_pretrained(preprocessor_cls, model, field, tiny_builds=tiny_builds)
        straight = _straight_to(profile) if place != "cpu" else {}  # the prompt LLM with sequential: no CPU copy
        network = from_pretrained(model_cls, model, field, dtype=model.torch_dtype(profile), **straight)
        if not straight:
            network.to(place)
        network.eval()
        return preprocessor, network

    return cached((kind, model, profile.device, profile.dtype), build, alone=profile.offload == "sequential")


def cached(key: tuple, build, alone: bool = False, keep=()):
    """What `build()` returns, built once per process under `key`; `clear()` frees it with every other model.

    Every model moranb loads is kept here, those loaded outside `load` (the evaluation's VideoTI models) included.
    `alone` (a profile with offload "sequential"): before building, every other model is let go, so one is resident
    at a time; those in `keep` (modules the new pipeline shares, e.g. the SDXL base's VAE for the refiner) live on in
    it.
    """
    if key not in _LOADED:
        if alone and _LOADED:
            kept = {id(k) for k in keep}
            for other in [k for k, v in _LOADED.items() if id(v) not in kept]:
                del _LOADED[other]
            clear(collect_only=True)
        _LOADED[key] = build()
    return _LOADED[key]


def resident() -> list[tuple]:
    """The keys of the models loaded now (what `clear()` would free)."""
    return list(_LOADED)


def check_device(profile: Profile):
    """Fail before minutes of loading when the profile's GPU is not there."""
    if profile.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DeviceError(
                f"profile '{profile.name}' runs on a CUDA GPU and this machine has none; use profile 'tiny' on a "
                f"CPU, or get_profile('{profile.name}', device='cpu', dtype='float32') to run the real models slowly"
            )


# The profile settings that change how a pipeline is placed and run (part of its cache key).
PLACEMENT = ("offload", "vae_slicing", "vae_tiling", "compile", "first_block_cache")


def _place(pipe, profile: Profile, offload: str):
    """Put the pipeline on the profile's device with its offload (see `moranb.config.OFFLOAD`).

    On a CPU there is nothing to offload to, except that `group` applies diffusers' group-offload hooks all the
    same (CPU to CPU, no stream), so the path runs, and is tested, without a GPU.
    """
    import torch

    if offload == "group":
        from diffusers.hooks import apply_group_offloading

        gpu = profile.device != "cpu"
        options = dict(onload_device=torch.device(profile.device), offload_device=torch.device("cpu"),
                       offload_type="leaf_level", use_stream=gpu, non_blocking=gpu)
        for part in pipe.components.values():
            # Hooked once: the refiner's VAE and second text encoder are the base's, hooked with the base.
            if isinstance(part, torch.nn.Module) and not _compat.group_offload_enabled(part):
                apply_group_offloading(part, **options)
    elif offload == "model" and profile.device != "cpu":
        pipe.enable_model_cpu_offload(device=profile.device)
    elif offload == "sequential" and profile.device != "cpu":
        pass  # loaded onto the GPU by from_pretrained's device_map (a pipeline so loaded refuses .to())
    else:
        pipe.to(profile.device)


def _speed_up(pipe, profile: Profile):
    """The profile's VAE and denoiser options (`moranb.config.Profile`: vae_slicing, vae_tiling, compile,
    first_block_cache)."""
    vae = getattr(pipe, "vae", None)
    # Only VAEs that implement them (SVD's temporal VAE has neither: its memory setting is decode_chunk_size).
    if profile.vae_slicing and hasattr(vae, "use_slicing"):
        vae.enable_slicing()
    if profile.vae_tiling and hasattr(vae, "use_tiling"):
        vae.enable_tiling()
    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    if profile.first_block_cache and hasattr(denoiser, "enable_cache"):
        from diffusers.hooks import FirstBlockCacheConfig

        blocks = len(getattr(denoiser, "transformer_blocks", ()))
        if blocks < 2:
            raise InputError(f"first_block_cache needs a transformer with at least 2 blocks (a first to test, the "
                             f"rest to reuse); {type(denoiser).__name__} here has {blocks}: set first_block_cache=0")
        denoiser.enable_cache(FirstBlockCacheConfig(threshold=profile.first_block_cache))
    if profile.compile:
        if _compat.repeated_blocks(denoiser):
            denoiser.compile_repeated_blocks(fullgraph=True)  # regional: each repeated block compiled once, reused
        else:
            denoiser.compile()


@contextmanager
def torch_threads(count: int):
    """torch's CPU threads set to `count` inside the block, as found after it. Bit-for-bit comparisons use one
    thread: how many threads split a float sum can change a pixel's last bit (torch's default: the core count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def clear(collect_only: bool = False):
    """Forget every loaded model (and free GPU memory); `collect_only`: free what is no longer referenced."""
    if not collect_only:
        _LOADED.clear()
    try:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
