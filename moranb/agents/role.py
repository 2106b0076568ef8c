"""What the project knows about one agent role, in one record: the registry `plan`, `realsize`, `train`, the tiny
build and the command line loop over (`moranb.agents.ROLES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Role:
    name: str
    # The names of this role's models in a profile (moranb.config.MODELS), each with the components its agent loads
    # onto the GPU (the SDXL refiner takes the base's text encoder 2 and VAE, so only its UNet).
    components: dict[str, tuple[str, ...]]
    # Its tiny models: folder name under moranb.tiny.tiny_root() -> the function that builds it there.
    tiny: dict[str, Callable] = field(default_factory=dict)
    # Its real models' published architectures: hub id -> component -> moranb.metadevice.Part (with the real
    # checkpoint's parameter count, where known).
    architectures: dict = field(default_factory=dict)
    # The wiring check at real size (profile -> lines), and the profile settings it reads, shared ones and the
    # role's (a measurement is reused while they stay the same).
    check: Callable | None = None
    reads: tuple[str, ...] = ()
    # Its fine-tuning (moranb.agents.training.AgentTrainer), where the data-free dataset can train it.
    trainer: type | None = None
