"""Text-to-video: prompt agent -> text-to-image (first frame) -> image-to-video, segment after segment."""

from __future__ import annotations

from ..agents import PromptAgent, TextToImageAgent
from ..checks import check_prompt, check_size
from ..config import Profile, get_profile
from .run import Run, TaskResult
from .steps import animate, counts, motion_of, trained_size


def text_to_video(prompt: str, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None,
                  segments: int | None = None, frames_per_segment: int | None = None, width: int | None = None,
                  height: int | None = None, prompt_backend: str | None = None, review=None) -> TaskResult:
    """A video of `segments` x `frames_per_segment` frames for `prompt`; files go to `out_dir` when given."""
    prompt = check_prompt(prompt)
    profile = get_profile(profile)
    segments, frames = counts(profile, segments, frames_per_segment)
    width, height = check_size(profile.width if width is None else width, profile.height if height is None else height,
                               profile.size_multiple, "SDXL/SVD", profile.max_pixels)
    width, height = trained_size(profile, width, height)
    backend = prompt_backend or profile.prompt.backend
    run = Run("text_to_video", profile, seed, out_dir=out_dir, review=review, inputs={
        "prompt": prompt, "segments": segments, "frames_per_segment": frames, "width": width, "height": height,
        "prompt_backend": backend})

    enhanced = run.stage("enhance_prompt", lambda: PromptAgent(profile, backend=backend)(prompt))
    first = run.stage("text_to_image", lambda s: TextToImageAgent(profile)(enhanced, seed=s, width=width,
                                                                            height=height), seeded=True)
    clips = animate(run, profile, first, segments, frames, motion_of(profile, enhanced), enhanced)
    result = TaskResult("text_to_video", clips.video, prompt=prompt, enhanced_prompt=enhanced, first_frame=first,
                        segments=list(clips.segments), conditioning=list(clips.conditioning))
    return run.finish(result)
