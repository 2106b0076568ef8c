"""Steps more than one task takes: fitting an input to a size the models accept, and animating an image."""

from __future__ import annotations

from PIL import Image, ImageOps

from ..agents import ImageToVideoAgent, SegmentedVideo
from ..checks import check_count
from ..config import Profile
from ..errors import InputError, ResolutionError
from ..video import Video, as_video


def nearest_size(width: int, height: int, multiple: int) -> tuple[int, int]:
    return max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple)


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """`image` at exactly width x height: scaled to cover, then centre-cropped (no stretching)."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), Image.LANCZOS)


def counts(profile: Profile, segments, frames_per_segment) -> tuple[int, int]:
    """Segments and frames per segment (the profile's where not given), checked against the profile's frame limit
    before anything is allocated; image-to-video needs at least 2 frames a segment."""
    limit, svd = profile.max_frames, profile.image_to_video
    segments = check_count(segments if segments is not None else svd.segments, "segments", limit=limit,
                           setting="max_frames")
    frames = check_count(frames_per_segment if frames_per_segment is not None else svd.frames_per_segment,
                         "frames per segment", minimum=2, limit=limit, setting="max_frames")
    check_count(segments * frames, f"frames in all ({segments} segments x {frames})", limit=limit,
                setting="max_frames")
    if profile.trained_frames is not None and frames != profile.trained_frames:
        raise InputError(f"the {profile.name} profile's video agent was trained on clips of {profile.trained_frames} "
                         f"frames only; {frames} frames a segment would not follow the prompt: use "
                         f"frames_per_segment={profile.trained_frames} (its default) and more segments for longer "
                         f"videos")
    return segments, frames


def trained_size(profile: Profile, width: int, height: int) -> tuple[int, int]:
    """`width` x `height`, if the profile's agents were trained for it (mini: 16x16 only); else one line."""
    if profile.trained_size is not None and (width, height) != tuple(profile.trained_size):
        w, h = profile.trained_size
        raise ResolutionError(f"the {profile.name} profile's agents were trained on {w}x{h} frames only; at "
                              f"{width}x{height} they would draw blobs: leave out width and height (or pass {w}x{h})")
    return width, height


def input_video(video, what: str = "video") -> Video:
    """A `Video` from a Video or a path; at least 2 frames."""
    video = as_video(video)
    if video.num_frames < 2:
        raise InputError(f"{what} has {video.num_frames} frame; it needs at least 2 frames")
    return video


def animate(run, profile: Profile, image: Image.Image, segments: int, frames: int,
            motion: str | None = None) -> SegmentedVideo:
    """The image-to-video stage: `segments` SVD clips, each from the previous clip's last frame (reviewed as one);
    `motion` as `motion_of` gives it."""
    return run.stage("image_to_video", lambda seed: ImageToVideoAgent(profile)(
        image, seed=seed, segments=segments, frames_per_segment=frames, motion=motion), seeded=True)


def motion_of(profile: Profile, text: str | None = None, video: Video | None = None) -> str | None:
    """The motion to animate with, where the profile's plugin reads one (the mini profile: the motion `text` names,
    else the one its judge reads in `video`, so extending or editing a video keeps its motion; see
    `moranb.mini.plugin.motion_of`); None elsewhere (the image-to-video model takes the profile's motion bucket)."""
    hooks = profile.plugin_module()
    return hooks.motion_of(text, video) if hasattr(hooks, "motion_of") else None
