"""Video-to-video editing: edit the input's first frame by an instruction, then regenerate the video from it.

The new video has as many frames as the input (enough segments, the last one trimmed), at the input's frame rate.
Two routes: "first_frame" (the paper's: image-to-video from the edited frame alone) and "vace" (a Wan profile's VACE
model keeps the edited first frame and remakes the input's own frames under its mask, following the instruction, so
the input's layout and motion carry over); the default is "vace" where the profile names a VACE model.
"""

from __future__ import annotations

import math

from ..agents import ImageToImageAgent
from ..checks import check_prompt
from ..config import Profile, get_profile
from ..video import Video
from .run import Run, TaskResult
from .steps import animate, counts, fit_image, input_video, motion_of, nearest_size, redo_with_vace, route_of


def edit_video(video, instruction: str, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None,
               frames_per_segment: int | None = None, review=None, route: str | None = None) -> TaskResult:
    """`video` (a Video or a path) redone as `instruction` says ("make it winter")."""
    instruction = check_prompt(instruction, "instruction")
    video = input_video(video)
    profile = get_profile(profile)
    route = route_of(profile, route)
    _, frames = counts(profile, 1, frames_per_segment, route)
    segments = math.ceil(video.num_frames / frames)
    notes = {"route": route}
    size = nearest_size(video.width, video.height, profile.size_multiple)
    first = fit_image(video.first_frame, *size)
    if size != video.size:
        notes["generation_size"] = f"edited at {size[0]}x{size[1]} (the input's {video.width}x{video.height} " \
                                   f"is not a multiple of {profile.size_multiple}); output resized back"
    run = Run("edit_video", profile, seed, out_dir=out_dir, review=review, inputs={
        "video": video, "instruction": instruction, "frames_per_segment": frames, "route": route})

    edited = run.stage("image_to_image", lambda s: ImageToImageAgent(profile)(first, instruction, seed=s),
                       seeded=True)
    if route == "vace":
        clips = redo_with_vace(run, profile, edited, video.resized(*size), instruction)
    else:
        clips = animate(run, profile, edited, segments, frames, motion_of(profile, video=video), instruction)
    new = Video(clips.video.frames[: video.num_frames], video.fps).resized(video.width, video.height)
    result = TaskResult("edit_video", new, prompt=instruction, first_frame=edited, edited_frame=edited,
                        segments=list(clips.segments), conditioning=list(clips.conditioning), notes=notes)
    return run.finish(result, caption=instruction)
