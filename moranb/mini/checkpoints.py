"""Checkpoints of the mini trainers: DIR/checkpoints/step-N/{model.safetensors, optimizer.safetensors, state.json}.

A checkpoint folder is written whole under a hidden name and renamed (`io.new_folder`), so a run killed while saving
resumes from the previous one. The two latest are kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..io import new_folder


def save(out: Path, step: int, weights: dict, optimizer: torch.optim.Optimizer, state: dict) -> Path:
    from safetensors.torch import save_file

    folder = Path(out) / "checkpoints" / f"step-{step:06d}"
    with new_folder(folder, sync=True) as tmp:
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, tmp / "model.safetensors")
        optim = optimizer.state_dict()
        save_file({f"{i}/{k}": v.detach().contiguous() for i, s in optim["state"].items() for k, v in s.items()},
                  tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps({"step": step, **state}) + "\n", encoding="utf-8")
    for old in latest_all(out)[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_all(out: Path) -> list[Path]:
    folder = Path(out) / "checkpoints"
    return sorted(p for p in folder.glob("step-*") if (p / "state.json").is_file()) if folder.is_dir() else []


def latest(out: Path) -> tuple[Path, dict, dict] | None:
    """The newest complete checkpoint: (folder, state, weights), or None."""
    from safetensors.torch import load_file

    found = latest_all(out)
    if not found:
        return None
    state = json.loads((found[-1] / "state.json").read_text(encoding="utf-8"))
    return found[-1], state, load_file(found[-1] / "model.safetensors")


def load_optimizer(folder: Path, optimizer: torch.optim.Optimizer) -> None:
    from safetensors.torch import load_file

    optim = optimizer.state_dict()
    for key, value in load_file(Path(folder) / "optimizer.safetensors").items():
        index, name = key.split("/", 1)
        optim["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(optim)


def prefixed(modules: dict) -> dict:
    """One flat state dict of several modules, keys prefixed 'name/'."""
    return {f"{name}/{k}": v for name, m in modules.items() for k, v in m.state_dict().items()}


def load_prefixed(modules: dict, weights: dict) -> None:
    for name, module in modules.items():
        module.load_state_dict({k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith(name + "/")})
