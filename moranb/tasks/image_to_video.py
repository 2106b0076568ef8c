"""Text-conditioned image-to-video: the text steers the first frame, then the frame is animated.

SVD, the paper's image-to-video model, takes no text at all. So the text acts through the image-to-image agent:
InstructPix2Pix edits the input image by the text ("make it sunset"), and SVD animates the edited frame. This is the
paper's route for this task (image-to-image, then image-to-video); `edit=False` animates the image as it is.
"""

from __future__ import annotations

from ..agents import ImageToImageAgent
from ..checks import check_flag, check_prompt
from ..config import Profile, get_profile
from ..video import as_image
from .run import Run, TaskResult
from .steps import animate, counts, fit_image, motion_of


def image_to_video(image, prompt: str, profile: "str | Profile" = "tiny", seed: int = 0, out_dir=None,
                   segments: int | None = None, frames_per_segment: int | None = None, edit: bool = True,
                   review=None) -> TaskResult:
    """Animate `image` (a PIL image or a path) as `prompt` describes."""
    prompt = check_prompt(prompt)
    edit = check_flag(edit, "edit")
    image = as_image(image)
    profile = get_profile(profile)
    segments, frames = counts(profile, segments, frames_per_segment)
    notes = {}
    fitted = fit_image(image, profile.width, profile.height)
    if fitted.size != image.size:
        notes["input_image"] = f"resized and centre-cropped from {image.width}x{image.height} to " \
                               f"{profile.width}x{profile.height} (the profile's size)"
    run = Run("image_to_video", profile, seed, out_dir=out_dir, review=review, inputs={
        "image": image, "prompt": prompt, "segments": segments, "frames_per_segment": frames, "edit": edit})

    first = fitted
    edited = None
    if edit:
        edited = first = run.stage("image_to_image", lambda s: ImageToImageAgent(profile)(fitted, prompt, seed=s),
                                   seeded=True)
    clips = animate(run, profile, first, segments, frames, motion_of(profile, prompt), prompt)
    result = TaskResult("image_to_video", clips.video, prompt=prompt, first_frame=first, edited_frame=edited,
                        segments=list(clips.segments), conditioning=list(clips.conditioning), notes=notes)
    return run.finish(result, caption=prompt)
