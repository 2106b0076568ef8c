"""Extend a video: continue from its last frame for N more image-to-video segments.

The output is the input's frames, unchanged, followed by the new ones, at the input's size and frame rate. When the
input's size is not one the model takes, the new frames are made at the nearest size it does take and resized back.

Two routes: "first_frame" (the paper's: image-to-video segments from the input's last frame) and "vace" (a Wan
profile's VACE model continues the input's last frames, so the new frames see its motion); the default is "vace"
where the profile names a VACE model.
"""

from __future__ import annotations

from ..checks import check_prompt
from ..config import Profile, get_profile
from ..video import Video, concat
from .run import Run, TaskResult
from .steps import animate, continue_with_vace, counts, input_video, motion_of, nearest_size, route_of


def extend_video(video, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None, segments: int = 1,
                 frames_per_segment: int | None = None, prompt: str | None = None, review=None,
                 route: str | None = None) -> TaskResult:
    """`video` (a Video or a path) followed by `segments` x `frames_per_segment` new frames.

    `prompt`, a description of the video, changes nothing in SVD's frames (SVD takes no text); it is recorded so that
    evaluation can score the extension's temporal style (the paper's Table 2). Wan's models are given it (or the
    profile's `image_to_video.prompt`). `route`: see the module's docstring. On the `mini` profile the new frames
    continue the video's motion: the one `prompt` names, else the one the mini judge reads in the video.
    """
    video = input_video(video)
    prompt = check_prompt(prompt) if prompt is not None else None
    profile = get_profile(profile)
    segments, frames = counts(profile, segments, frames_per_segment, route := route_of(profile, route))
    notes = {"route": route}
    size = nearest_size(video.width, video.height, profile.size_multiple)
    last = video.last_frame
    if size != video.size:
        last = last.resize(size)
        notes["generation_size"] = f"new frames made at {size[0]}x{size[1]} and resized to the input's " \
                                   f"{video.width}x{video.height}"
    run = Run("extend_video", profile, seed, out_dir=out_dir, review=review, inputs={
        "video": video, "segments": segments, "frames_per_segment": frames, "route": route})

    if route == "vace":
        clips = continue_with_vace(run, profile, video.resized(*size), segments, frames, prompt)
    else:
        clips = animate(run, profile, last, segments, frames, motion_of(profile, prompt, video), prompt)
    # The new segments at the input's frame rate and size (made at the nearest size the model takes).
    new = [Video(c.frames, video.fps).resized(video.width, video.height) for c in clips.segments]
    result = TaskResult("extend_video", concat([video, *new]), prompt=prompt, first_frame=video.last_frame,
                        segments=new, conditioning=list(clips.conditioning), notes=notes)
    return run.finish(result, caption=f"extended by {clips.video.num_frames} frames from frame {video.num_frames - 1}")
