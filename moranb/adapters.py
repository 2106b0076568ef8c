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
and config): adapters of the tiny models never load into SDXL. The folder's hash (part of every run's identity) is
computed from its weight files and must equal the one the manifest recorded, so weights replaced after training are
refused in one line, never reused with stale results; only safetensors files are ever read (never a pickle).
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


def weights_digest(folder) -> str:
    """The SHA-256 (16 hex digits) of every weight file under `folder`, in path order: what the manifest records."""
    files = sorted(Path(folder).rglob("*.safetensors"))
    return _digest(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=32)
def _digest(files: tuple) -> str:
    """Hashed once per version of the files (every pipeline load and every run asks)."""
    digest = hashlib.sha256()
    for path, _, _ in files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


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
    """adapters.json, read and checked once per version of the file (every pipeline load and every run asks)."""
    from .io import read_json

    fix = "fine-tune again to write the adapters anew"
    meta = read_json(path, {"profile": str, "step": int, "agents": dict, "sha256": str, "lora": dict}, fix,
                     CheckpointError)
    for field, agent in meta["agents"].items():
        if not isinstance(agent, dict) or agent.get("format") not in FORMATS or not isinstance(
                agent.get("denoiser_attr"), str) or not isinstance(agent.get("denoiser"), str):
            raise CheckpointError(f"{path}: agent '{field}' does not say which denoiser it adapts (denoiser, "
                                  f"denoiser_attr) or in which format ({', '.join(FORMATS)}); {fix}")
    return meta


def fingerprint(folder) -> str | None:
    """The adapters' content hash, computed from their weight files (part of a run's identity, so retrained
    adapters never reuse old stages); weight files that are not the ones the manifest recorded are refused."""
    if not folder:
        return None
    meta = read_manifest(folder)
    for field, agent in meta["agents"].items():
        if not (Path(folder) / field / FORMATS[agent["format"]]).is_file():
            raise CheckpointError(f"the adapters in '{folder}' have no {field}/{FORMATS[agent['format']]} (moranb "
                                  f"reads only the safetensors files it wrote); fine-tune again, or restore it")
    digest = weights_digest(folder)
    if digest != meta["sha256"]:
        raise CheckpointError(f"the weight files in '{folder}' are not the ones its {MANIFEST} was written with "
                              f"(changed after training); fine-tune again, or restore them")
    return digest


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
    fingerprint(folder)  # the weight files are the ones the manifest describes
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
        try:  # a state dict, not the folder: the loader would also take a pickled .bin found there
            pipe.load_lora_weights(load_file(folder / field / FORMATS["diffusers-lora"]))
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
