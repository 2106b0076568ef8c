"""Fine-tuned agents as a folder a profile names: `get_profile("tiny", adapters=DIR)`, and every task uses them.

    DIR/adapters.json                     what was trained: profile, models, denoiser configs, LoRA settings, step,
                                          and for each agent its denoiser and the format its weights are in
    DIR/modulation.safetensors            z_i per agent (the learned modulation tokens, used at inference)
    DIR/<agent>/pytorch_lora_weights.safetensors   format "diffusers-lora": the pipeline's own LoRA format
                                          (`save_lora_weights`; SDXL, LTX-Video), read by `load_lora_weights`
    DIR/<agent>/adapter_model.safetensors          format "peft-lora": peft's state dict (SVD has no LoRA loader)
    DIR/<agent>/denoiser.safetensors               format "full": the whole denoiser, after full fine-tuning

This module reads and applies them (`moranb.models.load` calls `apply_adapters` on a pipeline it loads); the
training half (`moranb.train`) writes them. Everything an agent's adapters need at load time is in the manifest, so
nothing here knows one agent from another. Loading checks that the adapters were made for the same denoiser (class
and config): adapters of the tiny models never load into SDXL.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import torch

from .errors import CheckpointError
from .modulation import Modulation

MANIFEST = "adapters.json"
FORMATS = {"diffusers-lora": "pytorch_lora_weights.safetensors", "peft-lora": "adapter_model.safetensors",
           "full": "denoiser.safetensors"}


def denoiser_fingerprint(denoiser) -> str:
    """The denoiser's class and config, hashed: what an adapter must match."""
    config = {k: v for k, v in dict(denoiser.config).items() if not k.startswith("_")}
    text = json.dumps([type(denoiser).__name__, config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_manifest(folder) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise CheckpointError(f"'{folder}' holds no fine-tuned adapters (no {MANIFEST}); pass the 'adapters' folder "
                              f"moranb.train.finetune wrote, or adapters=None for the base models") from None
    return _manifest(str(path), stamp)


@functools.lru_cache(maxsize=32)
def _manifest(path: str, stamp: int) -> dict:
    """adapters.json, read once per version of the file (every pipeline load and every run asks for it)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def fingerprint(folder) -> str | None:
    """The adapters' content hash (part of a run's identity, so retrained adapters never reuse old stages)."""
    return read_manifest(folder)["sha256"] if folder else None


def trained(folder, field: str) -> bool:
    """Whether the adapters in `folder` trained the agent whose model is the profile's `field`."""
    return field in read_manifest(folder)["agents"]


def apply_adapters(pipe, field: str, profile) -> None:
    """Load the profile's fine-tuned weights for agent `field` into `pipe` (a no-op for an agent not trained)."""
    from safetensors.torch import load_file

    folder = Path(profile.adapters)
    meta = read_manifest(folder)
    agent = meta["agents"].get(field)
    if agent is None:
        return
    if agent.get("format") not in FORMATS or not agent.get("denoiser_attr"):
        raise CheckpointError(f"the adapters in '{folder}' do not say which denoiser of {field} they adapt or in which "
                              f"format (written by an older moranb); fine-tune again to write them anew")
    denoiser = getattr(pipe, agent["denoiser_attr"])
    if agent["denoiser"] != denoiser_fingerprint(denoiser):
        raise CheckpointError(
            f"the adapters in '{folder}' were trained on profile '{meta['profile']}' for {agent['class']} "
            f"'{agent['source']}', not for this profile's {field} '{profile.model(field).source}' (another "
            f"model or config); use them with get_profile('{meta['profile']}', adapters=...), or fine-tune this "
            f"profile's models")
    dtype = profile.model(field).torch_dtype(profile)
    if agent["format"] == "full":
        denoiser.load_state_dict(load_file(folder / field / FORMATS["full"]))
    elif agent["format"] == "diffusers-lora":  # the pipelines' own LoRA loaders read diffusers' format
        from diffusers.utils import logging

        level = logging.get_verbosity()
        logging.set_verbosity_error()  # else: "no LoRA keys for the text encoders" (none were trained)
        try:
            pipe.load_lora_weights(folder / field)
        finally:
            logging.set_verbosity(level)
    else:
        from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

        inject_adapter_in_model(LoraConfig(**meta["lora"]), denoiser)
        set_peft_model_state_dict(denoiser, load_file(folder / field / FORMATS["peft-lora"]))
        if dtype != torch.float32:
            denoiser.to(dtype)  # the new LoRA layers are made in fp32
    modulation = Modulation(load_file(folder / "modulation.safetensors")[field]).to(dtype=torch.float32)
    modulation.attach(denoiser)
    denoiser.moranb_modulation = modulation  # a submodule: it moves with the denoiser (device, offload)
