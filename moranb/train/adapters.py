"""Fine-tuned agents as a folder a profile names: `get_profile("tiny", adapters=DIR)`, and every task uses them.

    DIR/adapters.json                     what was trained: profile, models, denoiser configs, LoRA settings, step
    DIR/modulation.safetensors            z_i per agent (the learned modulation tokens, used at inference)
    DIR/text_to_image/pytorch_lora_weights.safetensors   SDXL's LoRA, as `save_lora_weights` writes it
    DIR/image_to_video/adapter_model.safetensors         SVD's LoRA (peft's state dict; SVD has no LoRA loader)
    DIR/connection/pytorch_lora_weights.safetensors      LTX-Video's LoRA, as `save_lora_weights` writes it
    DIR/<agent>/denoiser.safetensors      instead of the LoRA, after full fine-tuning

The folder is written whole beside its destination and renamed into place. Loading checks that the adapters were
made for the same denoiser (class and config): adapters of the tiny models never load into SDXL.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io import new_folder
from .modulation import Modulation

MANIFEST = "adapters.json"


def denoiser_fingerprint(denoiser) -> str:
    """The denoiser's class and config, hashed: what an adapter must match."""
    config = {k: v for k, v in dict(denoiser.config).items() if not k.startswith("_")}
    text = json.dumps([type(denoiser).__name__, config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lora_state(denoiser) -> dict:
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(denoiser).items()}


def full_state(denoiser) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in denoiser.state_dict().items() if "moranb_modulation" not in k}


def save_adapters(folder, trainers: dict, modulations: dict, meta: dict) -> Path:
    """Write the adapters of `trainers` (agent -> AgentTrainer, LoRA or fully trained) and their z_i."""
    from diffusers import LTXConditionPipeline, StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from safetensors.torch import save_file

    folder = Path(folder)
    with new_folder(folder) as tmp:
        agents = {}
        for name, trainer in trainers.items():
            (tmp / name).mkdir()
            if meta["full_finetune"]:
                save_file(full_state(trainer.denoiser), tmp / name / "denoiser.safetensors")
            elif name == "text_to_image":
                StableDiffusionXLPipeline.save_lora_weights(
                    tmp / name, unet_lora_layers=convert_state_dict_to_diffusers(lora_state(trainer.denoiser)))
            elif name == "connection":
                LTXConditionPipeline.save_lora_weights(
                    tmp / name, transformer_lora_layers=convert_state_dict_to_diffusers(lora_state(trainer.denoiser)))
            else:
                save_file(lora_state(trainer.denoiser), tmp / name / "adapter_model.safetensors")
            agents[name] = {"source": trainer.source, "class": type(trainer.denoiser).__name__,
                            "denoiser": denoiser_fingerprint(trainer.denoiser)}
        save_file({name: m.z.detach().cpu().contiguous() for name, m in modulations.items()},
                  tmp / "modulation.safetensors")
        digest = hashlib.sha256()
        for path in sorted(tmp.rglob("*.safetensors")):
            digest.update(path.read_bytes())
        (tmp / MANIFEST).write_text(json.dumps({**meta, "agents": agents, "sha256": digest.hexdigest()[:16]},
                                               indent=2) + "\n", encoding="utf-8")
    return folder


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


def apply_adapters(pipe, field: str, profile) -> None:
    """Load the profile's fine-tuned weights for agent `field` into `pipe` (a no-op for an agent not trained)."""
    from safetensors.torch import load_file

    folder = Path(profile.adapters)
    meta = read_manifest(folder)
    agent = meta["agents"].get(field)
    if agent is None:
        return
    denoiser = pipe.transformer if field == "connection" else pipe.unet
    if agent["denoiser"] != denoiser_fingerprint(denoiser):
        raise CheckpointError(
            f"the adapters in '{folder}' were trained on profile '{meta['profile']}' for {agent['class']} "
            f"'{agent['source']}', not for this profile's {field} '{getattr(profile, field).source}' (another "
            f"model or config); use them with get_profile('{meta['profile']}', adapters=...), or fine-tune this "
            f"profile's models")
    dtype = getattr(profile, field).torch_dtype(profile)
    if meta["full_finetune"]:
        denoiser.load_state_dict(load_file(folder / field / "denoiser.safetensors"))
    elif field in ("text_to_image", "connection"):  # the pipelines' own LoRA loaders read diffusers' format
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
        set_peft_model_state_dict(denoiser, load_file(folder / field / "adapter_model.safetensors"))
        if dtype != torch.float32:
            denoiser.to(dtype)  # the new LoRA layers are made in fp32
    modulation = Modulation(load_file(folder / "modulation.safetensors")[field]).to(dtype=torch.float32)
    modulation.attach(denoiser)
    denoiser.moranb_modulation = modulation  # a submodule: it moves with the denoiser (device, offload)
