"""The paper's models at their published sizes, built from configs in this package: no download, no memory.

Every model the `full`, `lowvram`, `colab`, `wan` and `wan16` profiles name is described by its published architecture (the values of its
`config.json` on the Hugging Face hub), as a config for the very class `moranb.models` loads it with, in its role's
home (`moranb.agents.<role>.realsize`); this module gathers them from the registry (`moranb.agents.ROLES`). `build`
makes one on the meta device (shapes only, no memory, a second or two), `count` counts its parameters, and `check`
pushes meta tensors through the models wired the way the agents wire them (text-encoder widths into
cross-attention, added time ids, the refiner's aesthetic score, InstructPix2Pix's image latents, SVD's image
conditioning, LTX-Video's T5 captions and conditioning frames, the Wan models' UMT5 captions, image latents and
VACE's masked latents), one denoiser forward per model at a small latent
size, asserting every shape. `moranb.plan` turns the counts into GPU memory; `benchmarks/bench_gpu.py` builds the
same configs with random weights on a GPU.

    python -m moranb.realsize check    # the wiring check (about 30 s on 2 CPU cores)
    python -m moranb.realsize count    # every model's parameter count

The denoisers' counts, measured on the real checkpoints (`PUBLISHED`), are reproduced to 3 significant digits
(tests/test_realsize.py). The configs were written from the published config files, not downloaded: where a
published config carries keys the class ignores (`_class_name`, `_diffusers_version`, ...), they are left out.
"""

from __future__ import annotations

import sys

from . import metadevice
from .agents import ROLES
from .config import get_profile
from .errors import run_main
from .metadevice import Part, Stage, WiringError  # noqa: F401 (part of this module's interface)

# Every real model the profiles name, by Hugging Face id, one Part per component the agents load; and the parameter
# counts of the real checkpoints.
ARCHITECTURES: dict[str, dict[str, Part]] = {src: parts for role in ROLES.values()
                                             for src, parts in role.architectures.items()}
PUBLISHED = {(src, component): p.published for src, parts in ARCHITECTURES.items() for component, p in parts.items()
             if p.published}
# Each agent's wiring check (moranb.agents.<role>.realsize) and the profile settings it reads (a measurement is
# reused while they stay the same).
CHECKS = {role.name: role.check for role in ROLES.values() if role.check}
_READS = {role.name: role.reads for role in ROLES.values() if role.check}


def part(source: str, component: str) -> Part:
    """The published architecture of `component` of the model `source` (a Hugging Face id a profile names)."""
    return metadevice.lookup(ARCHITECTURES, source, component)


def build(source: str, component: str, device: str = "meta", dtype=None):
    """The model `component` of `source` at its published size, on `device` (default meta: shapes, no memory).

    On a real device the weights are random (the classes' own initialisation); the GPU benchmark saves them with
    `save_pretrained` and loads them back through `moranb.models.from_pretrained`.
    """
    return metadevice.build(part(source, component), device, dtype)


def count(source: str, component: str) -> int:
    """Parameters of `component` of `source` at its published size (built on the meta device: no memory).

    Tied weights (Qwen's tied input and output embeddings) are counted once, as `num_parameters()` does.
    """
    return metadevice.count(part(source, component))


def check(profile="full", agents=None) -> list[str]:
    """Push meta tensors through the profile's real-size models as its agents wire them; one line per check.

    Uses the profile's own sizes (width x height, frames, decode chunk): on the meta device they cost nothing.
    Raises `WiringError` (or the pipeline's own ValueError, for added time ids) where two models do not fit.
    """
    lines = []
    for agent in agents or CHECKS:
        lines += _run(profile, agent)[0]
    return lines


_RUNS: dict[tuple, tuple[list, list]] = {}


def _run(profile, agent: str) -> tuple[list[str], list[Stage]]:
    """One agent's check, its lines and its measured stages; kept for the process while the profile settings it
    reads and the architectures it builds stay the same (`check` and `measure` share one run)."""
    import torch

    profile = get_profile(profile)
    settings = tuple(getattr(profile, name) for name in _READS[agent])
    models = [profile.model(name) for name in ("text_to_image", "refiner", "image_to_image", "image_to_video",
                                                   "vace", "connection")]
    # The architectures as the roles' homes hold them now (a test may swap one in).
    key = (agent, settings, repr([role.architectures.get(m.source) for role in ROLES.values() for m in models
                                  if m is not None]))
    if key not in _RUNS:
        with metadevice.recording() as stages, torch.no_grad():
            lines = CHECKS[agent](profile)
        _RUNS[key] = (lines, stages)
    lines, stages = _RUNS[key]
    return list(lines), list(stages)


def measure(profile="full") -> list[Stage]:
    """The profile's agent steps with the peak bytes of live activations each holds, measured by running the
    wiring check on the meta device (shapes only; about 30 s, then kept for the process while the settings each
    agent reads stay the same)."""
    stages = []
    for agent in CHECKS:
        stages += _run(profile, agent)[1]
    return stages


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m moranb.realsize", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "count"])
    parser.add_argument("--profile", default="full", help="full, lowvram, colab, wan or wan16 (the real models)")
    args = parser.parse_args(argv)

    def body():
        if args.command == "check":
            for line in check(args.profile):
                print("ok  " + line)
            print(f"wiring of profile '{args.profile}': all checks passed")
            return 0
        for source, components in ARCHITECTURES.items():
            for component, p in components.items():
                n = count(source, component)
                published = PUBLISHED.get((source, component))
                ref = f"  (published {published / 1e9:.3f} B)" if published else ""
                print(f"{p.about:40s} {n / 1e9:7.3f} B{ref}")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
