"""Text-to-video: prompt agent -> text-to-image (first frame) -> image-to-video, segment after segment."""

from __future__ import annotations

from ..agents import ImageToVideoAgent, PromptAgent, TextToImageAgent
from ..checks import check_count, check_prompt, check_size
from ..config import Profile, get_profile
from .run import Run, TaskResult


def text_to_video(prompt: str, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None,
                  segments: int | None = None, frames_per_segment: int | None = None, width: int | None = None,
                  height: int | None = None, prompt_backend: str | None = None) -> TaskResult:
    """A video of `segments` x `frames_per_segment` frames for `prompt`; files go to `out_dir` when given."""
    prompt = check_prompt(prompt)
    profile = get_profile(profile)
    segments = check_count(segments if segments is not None else profile.segments, "segments")
    frames = check_count(frames_per_segment if frames_per_segment is not None else profile.frames_per_segment,
                         "frames per segment")
    width, height = check_size(width or profile.width, height or profile.height, profile.size_multiple, "SDXL/SVD")
    backend = prompt_backend or profile.prompt_backend
    run = Run("text_to_video", profile, seed, out_dir=out_dir, inputs={
        "prompt": prompt, "segments": segments, "frames_per_segment": frames, "width": width, "height": height,
        "prompt_backend": backend})

    enhanced = run.stage("enhance_prompt", lambda: PromptAgent(profile, backend=backend)(prompt))
    first = run.stage("text_to_image", lambda: TextToImageAgent(profile)(enhanced, seed=seed, width=width,
                                                                          height=height))
    clips = run.stage("image_to_video", lambda: ImageToVideoAgent(profile)(
        first, seed=seed, segments=segments, frames_per_segment=frames).segments)
    from ..video import concat

    result = TaskResult("text_to_video", concat(clips), prompt=prompt, enhanced_prompt=enhanced, first_frame=first,
                        segments=clips, conditioning=[first] + [c.last_frame for c in clips[:-1]])
    return run.finish(result)
