"""Connect two videos: a transition from A's last frame to B's first frame; output = A + transition + B.

Inputs of different size or frame rate are brought to A's (B is resized and resampled), and the choice is recorded
in the result's notes and the manifest. The transition is made at the nearest size the connection model takes
(multiples of 32) and resized to A's size.
"""

from __future__ import annotations

from ..agents import ConnectionAgent
from ..checks import check_prompt
from ..config import Profile, get_profile
from ..video import Video, concat
from .run import Run, TaskResult
from .steps import input_video, nearest_size


def connect_videos(a, b, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None, prompt: str | None = None,
                   review=None) -> TaskResult:
    """`a`, then a generated transition, then `b` (Videos or paths)."""
    prompt = check_prompt(prompt) if prompt is not None else None
    a, b = input_video(a, "video A"), input_video(b, "video B")
    profile = get_profile(profile)
    notes = {}
    if b.size != a.size:
        notes["video_b_size"] = f"resized from {b.width}x{b.height} to A's {a.width}x{a.height}"
        b = b.resized(a.width, a.height)
    if b.fps != a.fps:
        notes["video_b_fps"] = f"resampled from {b.fps} to A's {a.fps} fps ({b.num_frames} frames -> " \
                               f"{b.resampled(a.fps).num_frames})"
        b = b.resampled(a.fps)
    size = nearest_size(a.width, a.height, profile.connection.size_multiple)
    if size != a.size:
        notes["transition_size"] = f"made at {size[0]}x{size[1]} (multiples of " \
                                   f"{profile.connection.size_multiple}) and resized to {a.width}x{a.height}"
    run = Run("connect_videos", profile, seed, out_dir=out_dir, review=review, inputs={
        "video_a": a, "video_b": b, "prompt": prompt or profile.connection.prompt})

    transition = run.stage("connection", lambda s: ConnectionAgent(profile)(
        a.last_frame.resize(size), b.first_frame.resize(size), seed=s, prompt=prompt), seeded=True)
    transition = Video(transition.frames, a.fps).resized(a.width, a.height)
    result = TaskResult("connect_videos", concat([a, transition, b]), prompt=prompt or profile.connection.prompt,
                        segments=[a, transition, b], notes=notes)
    return run.finish(result, caption=f"A ({a.num_frames}) + transition ({transition.num_frames}) + B ({b.num_frames})")
