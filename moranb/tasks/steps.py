"""Steps more than one task takes: fitting an input to a size the models accept, and animating an image."""

from __future__ import annotations

from PIL import Image, ImageOps

from ..agents import ImageToVideoAgent, SegmentedVideo, wan_frames
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


def counts(profile: Profile, segments, frames_per_segment, route: str = "first_frame") -> tuple[int, int]:
    """Segments and frames per segment (the profile's where not given), checked against the profile's frame limit
    before anything is allocated; image-to-video needs at least 2 frames a segment, Wan 4k+1 (route "vace": any
    number of new frames, VACE's window is rounded up around them)."""
    limit, svd = profile.max_frames, profile.image_to_video
    segments = check_count(segments if segments is not None else svd.segments, "segments", limit=limit,
                           setting="max_frames")
    frames = check_count(frames_per_segment if frames_per_segment is not None else svd.frames_per_segment,
                         "frames per segment", minimum=2, limit=limit, setting="max_frames")
    check_count(segments * frames, f"frames in all ({segments} segments x {frames})", limit=limit,
                setting="max_frames")
    if profile.image_to_video.pipeline.startswith("Wan") and route != "vace":
        wan_frames(frames, "frames per segment")
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
            motion: str | None = None, prompt: str | None = None) -> SegmentedVideo:
    """The image-to-video stage: `segments` clips, each from the previous clip's last frame (reviewed as one);
    `motion` as `motion_of` gives it (SVD), `prompt` what the clips show (Wan)."""
    return run.stage("image_to_video", lambda seed: ImageToVideoAgent(profile)(
        image, seed=seed, segments=segments, frames_per_segment=frames, motion=motion, prompt=prompt), seeded=True)


ROUTES = ("first_frame", "vace")


def route_of(profile: Profile, route: str | None) -> str:
    """The extension's or editing's route: "first_frame" (the paper's: from one frame) or "vace" (a VACE model
    given several frames); None: "vace" where the profile names a VACE model, else "first_frame"."""
    if route is None:
        return "vace" if profile.image_to_video.vace is not None else "first_frame"
    if route not in ROUTES:
        raise InputError(f"unknown route '{route}'; choose 'first_frame' (the paper's, from one frame) or 'vace' "
                         f"(a Wan profile's VACE model, given several frames)")
    if route == "vace" and profile.image_to_video.vace is None:
        raise InputError(f"route 'vace' needs a profile that names a VACE model (wan, wan16, tiny-wan, "
                         f"tiny-wan16); profile '{profile.name}' names none: use route 'first_frame'")
    return route


def continue_with_vace(run, profile: Profile, video: Video, segments: int, frames: int,
                       prompt: str | None) -> SegmentedVideo:
    """The extension's route "vace": `segments` x `frames` new frames, each segment VACE's continuation of the
    video so far (its last `vace_context` frames kept), as one stage."""

    def make(seed):
        agent, so_far, clips = ImageToVideoAgent(profile), video.images(), []
        for k in range(segments):
            clips.append(agent.continue_video(so_far, frames, seed=seed + k, prompt=prompt))
            so_far += clips[-1].images()
        return SegmentedVideo(video.last_frame, clips)

    return run.stage("image_to_video", make, seeded=True, by=("vace",))


def redo_with_vace(run, profile: Profile, edited: Image.Image, video: Video, instruction: str) -> SegmentedVideo:
    """The editing's route "vace": the input's frames remade by VACE from the edited first frame (kept)."""
    return run.stage("image_to_video", lambda seed: SegmentedVideo(edited, [ImageToVideoAgent(profile).redo_video(
        edited, video.images(), seed=seed, prompt=instruction)]), seeded=True, by=("vace",))


def motion_of(profile: Profile, text: str | None = None, video: Video | None = None) -> str | None:
    """The motion to animate with, where the profile's plugin reads one (the mini profile: the motion `text` names,
    else the one its judge reads in `video`, so extending or editing a video keeps its motion; see
    `moranb.mini.plugin.motion_of`); None elsewhere (the image-to-video model takes the profile's motion bucket)."""
    hooks = profile.plugin_module()
    return hooks.motion_of(text, video) if hasattr(hooks, "motion_of") else None
