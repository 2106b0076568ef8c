"""Simulate a digital world: a video in a "digital world" style, e.g. a voxel sandbox game.

Two routes, as in the paper:
- route="prompt": the style is written into the prompt, so it reaches the text-to-image agent directly;
- route="edit": the first frame is made from the plain prompt, then the image-to-image agent restyles it
  ("turn it into {style}") before animation.
"""

from __future__ import annotations

from ..agents import ImageToImageAgent, PromptAgent, TextToImageAgent
from ..checks import check_prompt, check_size
from ..config import Profile, get_profile
from ..errors import InputError
from .run import Run, TaskResult
from .steps import animate, counts, motion_of

DEFAULT_STYLE = "a voxel sandbox video game, blocky pixel-art textures"
ROUTES = ("prompt", "edit")


def simulate_digital_world(prompt: str, style: str = DEFAULT_STYLE, route: str = "prompt",
                           profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None,
                           segments: int | None = None, frames_per_segment: int | None = None,
                           prompt_backend: str | None = None, review=None) -> TaskResult:
    prompt = check_prompt(prompt)
    style = check_prompt(style, "style")
    if route not in ROUTES:
        raise InputError(f"unknown route '{route}'; choose 'prompt' (style in the prompt) or 'edit' (image-to-image)")
    profile = get_profile(profile)
    segments, frames = counts(profile, segments, frames_per_segment)
    width, height = check_size(profile.width, profile.height, profile.size_multiple, "SDXL/SVD", profile.max_pixels)
    backend = prompt_backend or profile.prompt.backend
    run = Run("simulate_digital_world", profile, seed, out_dir=out_dir, review=review, inputs={
        "prompt": prompt, "style": style, "route": route, "segments": segments, "frames_per_segment": frames,
        "prompt_backend": backend})

    enhanced = run.stage("enhance_prompt", lambda: PromptAgent(profile, backend=backend)(
        prompt, style=style if route == "prompt" else None))
    first = run.stage("text_to_image", lambda s: TextToImageAgent(profile)(enhanced, seed=s, width=width,
                                                                            height=height), seeded=True)
    edited = None
    if route == "edit":
        original = first
        edited = first = run.stage("image_to_image", lambda s: ImageToImageAgent(profile)(
            original, f"turn it into {style}", seed=s), seeded=True)
    clips = animate(run, profile, first, segments, frames, motion_of(profile, enhanced), enhanced)
    result = TaskResult("simulate_digital_world", clips.video, prompt=prompt, enhanced_prompt=enhanced,
                        first_frame=first, edited_frame=edited, segments=list(clips.segments),
                        conditioning=list(clips.conditioning), notes={"style": style, "route": route})
    return run.finish(result)
