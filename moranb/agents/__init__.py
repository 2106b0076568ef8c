"""The agents, one home per role: the five of the pipeline (prompt, text-to-image, image-to-image, image-to-video,
connection) and the judges of data-free training.

Each home (`moranb/agents/<role>/`) holds what the project knows about its role: the agent (`agent.py`, a thin
wrapper around one pipeline with a plain call signature), its tiny models (`tiny.py`), its real models' published
architectures and wiring check (`realsize.py`), its fine-tuning (`trainer.py`, where the data-free dataset trains
it), and its `ROLE` record; what the Wan-family models of two roles share is in `moranb.agents.wan`. `ROLES` is
the registry `moranb.plan`, `moranb.realsize`, `moranb.train` and the command line loop over; a model for an
existing role is one entry in its home.
"""

from __future__ import annotations

from pathlib import Path

from .. import tiny as _tiny
from . import connection, image_to_image, image_to_video, judge, prompt, text_to_image
from .connection import ConnectionAgent
from .image_to_image import ImageToImageAgent
from .image_to_video import ImageToVideoAgent, SegmentedVideo, wan_frames
from .judge import CRITERIA, Judge, Judgement
from .prompt import PromptAgent
from .role import Role
from .text_to_image import TextToImageAgent

ROLES: dict[str, Role] = {home.ROLE.name: home.ROLE for home in (prompt, text_to_image, image_to_image,
                                                                 image_to_video, connection, judge)}
# The agents the data-free dataset can fine-tune, by the name of each one's model in the profile.
TRAINERS = {role.name: role.trainer for role in ROLES.values() if role.trainer is not None}


def trainer_for(profile, agent: str):
    """The trainer of `agent` (a name of `TRAINERS`) for the model `profile` gives it (its pipeline class: SVD's or
    Wan's), or None where moranb has none for that model (a Wan profile's connection)."""
    return ROLES[agent].trainer_for(profile)


TINY_MODELS = {name: build for role in ROLES.values() for name, build in role.tiny.items()}


def ensure_tiny_models(root: str | Path | None = None) -> Path:
    """Build whichever tiny models are missing under `root` (default `moranb.tiny.tiny_root()`; a few seconds, once
    per machine). A tiny model is otherwise built where it is first loaded; `moranb build-tiny` builds them all."""
    from tqdm import tqdm

    root = Path(root) if root else _tiny.tiny_root()
    missing = [name for name in TINY_MODELS if not (root / name / ".complete").exists()]
    if missing:
        _tiny.writable(root)
    for name in tqdm(missing, desc="building tiny models", unit="model", disable=not missing):
        _tiny.build(root / name, TINY_MODELS[name])
    return root


__all__ = ["CRITERIA", "ROLES", "TINY_MODELS", "TRAINERS", "ConnectionAgent", "ImageToImageAgent",
           "ImageToVideoAgent", "Judge", "Judgement", "PromptAgent", "Role", "SegmentedVideo", "TextToImageAgent",
           "ensure_tiny_models", "trainer_for", "wan_frames"]
