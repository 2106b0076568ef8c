"""One loading path for every model: `from_pretrained` on a Hugging Face id or a local directory.

Loaded models are kept for the life of the process, keyed by class, source, device and dtype, so every task and
every agent that needs the same model reuses one copy. `clear()` frees them (between notebooks on a small GPU).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import tiny
from .config import Model, Profile
from .errors import DeviceError, ModelNotAvailableError

_LOADED: dict[tuple, object] = {}


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_available(model: Model, field: str, exc: Exception) -> ModelNotAvailableError:
    where = "this machine is offline (HF_HUB_OFFLINE=1)" if _is_offline() else "it could not be downloaded"
    return ModelNotAvailableError(
        f"model '{model.source}' is not in the local Hugging Face cache and {where}: download it where there is "
        f"network (`huggingface-cli download {model.source}`) or point the profile at a local copy, e.g. "
        f"get_profile('full', {field}=Model('/path/to/dir'))  [{type(exc).__name__}]"
    )


def from_pretrained(cls, model: Model, field: str, **kwargs):
    """`cls.from_pretrained(model.source, ...)`, with the user-facing error when a hub id cannot be had."""
    source = model.source
    if model.variant:
        kwargs["variant"] = model.variant
    local_dir = Path(source).expanduser()
    if not local_dir.is_dir() and local_dir.parent == tiny.tiny_root():
        tiny.ensure_tiny_models()  # the tiny profile's models are built here, where one is first needed
    if local_dir.is_dir():
        return cls.from_pretrained(str(local_dir), **kwargs)
    if source.startswith(("/", ".", "~")):
        raise ModelNotAvailableError(
            f"model directory '{source}' does not exist; build it (tiny profile: moranb.tiny.ensure_tiny_models) "
            f"or fix the path in the profile's '{field}'"
        )
    try:  # the local cache first: no network round trip when the model is already there
        return cls.from_pretrained(source, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        if _is_offline():
            raise _not_available(model, field, exc) from None
    try:
        return cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise _not_available(model, field, exc) from None


def load(cls, model: Model, profile: Profile, field: str, **components):
    """A diffusers pipeline of class `cls` from `model`, placed for `profile` (device, dtype, offload, slicing).

    `components` are modules shared with another pipeline (the SDXL refiner takes the base's VAE and second text
    encoder); they are part of the cache key.
    """
    key = (cls.__name__, model, profile.device, profile.dtype, profile.cpu_offload,
           tuple(sorted((k, id(v)) for k, v in components.items())))

    def build():
        check_device(profile)
        pipe = from_pretrained(cls, model, field, dtype=model.torch_dtype(profile), **components)
        _place(pipe, profile)
        pipe.set_progress_bar_config(disable=not profile.step_progress, desc=field, leave=False)
        return pipe

    return cached(key, build)


def load_llm(model: Model, profile: Profile):
    """(tokenizer, causal LM) for the prompt agent's transformers backend."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # With CPU offload the GPU is left to the diffusion models; the prompt LLM runs on the CPU.
    place = "cpu" if profile.device == "cpu" or profile.cpu_offload else profile.device
    return _load_transformers("causal-lm", AutoTokenizer, AutoModelForCausalLM, model, profile, "llm", place)


def load_vlm(model: Model, profile: Profile, field: str = "judge_a"):
    """(processor, image-text-to-text model) for a judge's transformers backend (LLaVA-OneVision, Qwen2-VL, ...).

    On the profile's device even with CPU offload: judges run after generation, when the offloaded diffusion models
    are back on the CPU, and reading k images on a CPU is slow.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return _load_transformers("vlm", AutoProcessor, AutoModelForImageTextToText, model, profile, field, profile.device)


def _load_transformers(kind: str, preprocessor_cls, model_cls, model: Model, profile: Profile, field: str, place: str):
    def build():
        check_device(profile)
        preprocessor = from_pretrained(preprocessor_cls, model, field)
        network = from_pretrained(model_cls, model, field, dtype=model.torch_dtype(profile))
        network.to(place).eval()
        return preprocessor, network

    return cached((kind, model, profile.device, profile.dtype), build)


def cached(key: tuple, build):
    """What `build()` returns, built once per process under `key`; `clear()` frees it with every other model.

    Every model moranb loads is kept here, those loaded outside `load` (the evaluation's VideoTI models) included.
    """
    if key not in _LOADED:
        _LOADED[key] = build()
    return _LOADED[key]


def check_device(profile: Profile):
    """Fail before minutes of loading when the profile's GPU is not there."""
    if profile.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DeviceError(
                f"profile '{profile.name}' runs on a CUDA GPU and this machine has none; use profile 'tiny' on a "
                f"CPU, or get_profile('{profile.name}', device='cpu', dtype='float32') to run the real models slowly"
            )


def _place(pipe, profile: Profile):
    if profile.device != "cpu" and profile.cpu_offload:
        pipe.enable_model_cpu_offload(device=profile.device)
    else:
        pipe.to(profile.device)
    if profile.vae_slicing and hasattr(pipe, "vae") and hasattr(pipe.vae, "enable_slicing"):
        pipe.vae.enable_slicing()


def clear():
    """Forget every loaded model (and free GPU memory)."""
    _LOADED.clear()
    try:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
