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
    # Its fine-tuning (moranb.agents.training.AgentTrainer), where the data-free dataset can train it; and, by the
    # pipeline class a profile's model is (its settings' `pipeline`), the trainers of its other models.
    trainer: type | None = None
    trainers: dict[str, type] = field(default_factory=dict)
    # The components a model of this role loads where they differ from `components` (hub id -> names): the Wan
    # models, whose pipelines are other classes than the role's first model's.
    loads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def components_of(self, name: str, source: str) -> tuple[str, ...]:
        """The components the model `name` of a profile loads when it is `source`."""
        return self.loads.get(source, self.components[name])

    def trainer_for(self, profile):
        """The trainer of the profile's model of this role (by its pipeline class), or None where none trains it."""
        settings = getattr(profile, self.name, None)
        pipeline = getattr(settings, "pipeline", None)
        return self.trainers.get(pipeline, self.trainer if pipeline is None or pipeline == self.default_pipeline
                                 else None)

    @property
    def default_pipeline(self) -> str | None:
        return getattr(self.trainer, "pipeline_class", None)
