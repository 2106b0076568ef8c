"""Writing fine-tuned agents: the folder `moranb.adapters` reads and applies (its docstring has the layout).

Each agent's trainer says what it trains (`denoiser_name`, the pipeline component) and how its LoRA is stored
(`lora_format`: "diffusers-lora" through its pipeline's `save_lora_weights`, or "peft-lora"); the manifest records
both, so loading needs no knowledge of the agent. The folder is written whole beside its destination and renamed
into place.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..adapters import FORMATS, MANIFEST, denoiser_fingerprint, weights_digest
from ..io import new_folder


def lora_state(denoiser) -> dict:
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(denoiser).items()}


def full_state(denoiser) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in denoiser.state_dict().items() if "moranb_modulation" not in k}


def save_adapters(folder, trainers: dict, modulations: dict, meta: dict) -> Path:
    """Write the adapters of `trainers` (agent -> AgentTrainer, LoRA or fully trained) and their z_i."""
    import diffusers
    from diffusers.utils import convert_state_dict_to_diffusers
    from safetensors.torch import save_file

    folder = Path(folder)
    with new_folder(folder) as tmp:
        agents = {}
        for name, trainer in trainers.items():
            (tmp / name).mkdir()
            form = "full" if meta["full_finetune"] else trainer.lora_format
            if form == "full":
                save_file(full_state(trainer.denoiser), tmp / name / FORMATS[form])
            elif form == "diffusers-lora":
                getattr(diffusers, trainer.pipeline_class).save_lora_weights(
                    tmp / name, **{f"{trainer.denoiser_name}_lora_layers":
                                   convert_state_dict_to_diffusers(lora_state(trainer.denoiser))})
            else:
                save_file(lora_state(trainer.denoiser), tmp / name / FORMATS[form])
            agents[name] = {"source": trainer.source, "class": type(trainer.denoiser).__name__,
                            "denoiser": denoiser_fingerprint(trainer.denoiser),
                            "denoiser_attr": trainer.denoiser_name, "format": form}
        save_file({name: m.z.detach().cpu().contiguous() for name, m in modulations.items()},
                  tmp / "modulation.safetensors")
        (tmp / MANIFEST).write_text(json.dumps({**meta, "agents": agents, "sha256": weights_digest(tmp)},
                                               indent=2) + "\n", encoding="utf-8")
    return folder
